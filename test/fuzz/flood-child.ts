// Child process of test/bounds-floods.test.ts (and of docs/reliability.md's commands): opens a
// metadata-flood image from a layout and walks it, then prints one JSON line with the outcome,
// the wall time and the process's peak RSS. `npx tsx test/fuzz/flood-child.ts pax|global [DIR]`.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImage } from '../../src/open/open-image.js';
import { globalXattrFloodLayer, paxFloodLayer, writeFloodLayout } from './flood-image.js';

const which = process.argv[2] === 'pax' ? 'pax' : 'global';
const dir = await mkdtemp(join(tmpdir(), 'imagefs-flood-'));
const genStart = performance.now();
const layer = which === 'pax' ? paxFloodLayer(Number(process.env['FLOOD_HEADERS'] ?? 600_000)) : globalXattrFloodLayer(5000, 20_000);
const ref = await writeFloodLayout(dir, layer);
const genMs = performance.now() - genStart;
const started = performance.now();
const result: Record<string, unknown> = { which, blobBytes: layer.blob.length, tarBytes: layer.tarSize, genMs: Math.round(genMs) };
try {
  const fs = await openImage(ref, { platform: { os: 'linux', architecture: 'amd64' } });
  try {
    let entries = 0;
    let xattrs = 0;
    const walk = async (path: string): Promise<void> => {
      for (const name of await fs.readdir(path)) {
        const child = path === '/' ? `/${name}` : `${path}/${name}`;
        const st = await fs.lstat(child);
        entries++;
        xattrs += (await fs.listxattr(child)).length;
        if (st.isDirectory()) await walk(child);
      }
    };
    await walk('/');
    result['entries'] = entries;
    result['xattrs'] = xattrs;
  } finally {
    await fs.close();
  }
} catch (error) {
  const e = error as { code?: string; message?: string };
  result['error'] = { code: e.code, message: e.message };
}
result['ms'] = Math.round(performance.now() - started);
result['maxRssMB'] = Math.round(process.resourceUsage().maxRSS / 1024);
await rm(dir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify(result)}\n`);
