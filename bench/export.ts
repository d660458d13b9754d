// `imagefs export REF DIR` against `skopeo copy` + `umoci unpack` (the rootfs umoci writes), both
// from the real registry with a cold cache, rounds interleaved, in one run; the trees are compared
// once (type, mode, owner, size, content sha256, mtime to the nanosecond, link targets, devices,
// xattrs, link counts):
//
//   npx tsx bench/export.ts        (MIB=120 ROUNDS=3 DEBIAN=/var/cache/imagefs-test/debian-bookworm-minbase.tar)
//
// The image: the DEBIAN tar (test/oracle-debian.test.ts caches it) as one `gzip -6` layer when it
// exists, else a synthetic MIB MiB layer. The CLI is bundled from src/ into node_modules/.cache
// first (tsup, no config), so the bench measures the current source; each imagefs run gets a new
// empty --cache directory (cold).
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, readDiskTree, writeLayout, type DiskNode } from '../src/testing/builder/index.js';
import { pushLayout, startRegistry } from '../src/testing/registry/index.js';
import { median, type Sample, timeCommand } from './lib/measure.js';
import { syntheticRecords } from './lib/synthetic.js';
import { bundleCli } from './lib/cli-bundle.js';

const MIB = Number(process.env.MIB ?? 120);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const DEBIAN = process.env.DEBIAN ?? '/var/cache/imagefs-test/debian-bookworm-minbase.tar';



function differences(a: Map<string, DiskNode>, b: Map<string, DiskNode>): string[] {
  const view = (n: DiskNode | undefined): string => n === undefined ? 'missing' : JSON.stringify({ ...n, ino: 0, mtime: 0, mtimeNs: String(n.mtimeNs), size: n.type === 'dir' ? 0 : n.size, xattrs: Object.fromEntries(Object.entries(n.xattrs).map(([k, v]) => [k, Buffer.from(v).toString('hex')])) });
  const out: string[] = [];
  for (const path of new Set([...a.keys(), ...b.keys()])) {
    const x = view(a.get(path));
    const y = view(b.get(path));
    if (x !== y) out.push(`${path}: ${x} vs ${y}`);
  }
  return out;
}

const dir = await mkdtemp(join(tmpdir(), 'imagefs-export-bench-'));
const reg = await startRegistry();
try {
  const cli = await bundleCli();
  const debian = existsSync(DEBIAN);
  const image = await buildImage({ layers: [{ ...(debian ? { tar: readFileSync(DEBIAN) } : { entries: syntheticRecords(MIB * 1024 * 1024) }), compression: { kind: 'gnu-gzip', level: 6 } }] });
  await writeLayout(join(dir, 'layout'), [{ image, tag: 'v1' }]);
  await pushLayout(reg, { layoutDir: join(dir, 'layout'), tag: 'v1', repo: 'bench/export', destTag: 'v1' });
  const ref = `${reg.url.replace('http://', '')}/bench/export:v1`;
  const layer = image.layers[0]!;
  console.log(`node ${process.version}; ${debian ? 'Debian bookworm minbase' : `synthetic ${MIB} MiB`}: ${(layer.descriptor.size / 1e6).toFixed(1)} MB gzip -6, ${(layer.tar.length / 1e6).toFixed(1)} MB tar; ${ROUNDS} rounds (median); load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const rows: Record<string, Sample[]> = { 'skopeo copy': [], 'umoci unpack': [], 'skopeo + umoci': [], 'imagefs export (cold cache)': [] };
  for (let r = 0; r < ROUNDS; r++) {
    const oci = join(dir, `oci-${r}`);
    const bundleDir = join(dir, `umoci-${r}`);
    const copy = timeCommand(`skopeo copy -q --src-tls-verify=false docker://${ref} oci:${oci}:v1`);
    const unpack = timeCommand(`umoci unpack --image ${oci}:v1 ${bundleDir}`);
    rows['skopeo copy']!.push(copy);
    rows['umoci unpack']!.push(unpack);
    rows['skopeo + umoci']!.push({ wall: copy.wall + unpack.wall, cpu: copy.cpu + unpack.cpu });
    const out = join(dir, `export-${r}`);
    rows['imagefs export (cold cache)']!.push(timeCommand(`${cli} export --cache ${join(dir, `cache-${r}`)} ${ref} ${out}`));
    if (r === 0) {
      const diff = differences(await readDiskTree(out), await readDiskTree(join(bundleDir, 'rootfs')));
      console.log(`trees: ${diff.length === 0 ? 'equal' : `${diff.length} differences, first: ${diff[0]}`}`);
    }
    for (const d of [oci, bundleDir, out, join(dir, `cache-${r}`)]) await rm(d, { recursive: true, force: true });
  }
  const m = (k: string): number => median(rows[k]!.map((s) => s.wall));
  for (const [k, v] of Object.entries(rows)) console.log(`${k.padEnd(28)} wall ${m(k).toFixed(0).padStart(6)} ms  cpu ${median(v.map((s) => s.cpu)).toFixed(0).padStart(6)} ms`);
  console.log(`ratio (skopeo + umoci) / imagefs export: ${(m('skopeo + umoci') / m('imagefs export (cold cache)')).toFixed(2)}x (goal >= 1.5x)`);
} finally {
  await reg.stop();
  await rm(dir, { recursive: true, force: true });
}
