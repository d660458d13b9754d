// `imagefs index` end to end, as a user runs it (a fresh `node` process: start-up, resolve, fetch,
// inflate, hashing, tar parsing, index encoding and, from a registry, the push), against
// `gzip -dc LAYER > /dev/null` on the same layer, rounds interleaved, in one run:
//
//   npx tsx bench/index-e2e.ts        (MIB=120 ROUNDS=3 DEBIAN=/var/cache/imagefs-test/debian-bookworm-minbase.tar)
//
// Layers: a synthetic MIB MiB tar (runs of 1-192 KiB, 3/4 text, 1/4 random) and, when the DEBIAN
// tar exists (test/oracle-debian.test.ts caches it), a real Debian rootfs; both `gzip -6 -n`
// (GNU gzip). Each is one single-layer image, in the real registry (`index REF --push --no-cache`)
// and in an OCI layout (`index oci:DIR:v1 --no-cache`). The CLI is bundled from src/ into a
// node_modules/.cache first (tsup, no config), so the bench measures the current source.
// Rows that say where the time goes: `node CLI --version` (start-up and module loading) and
// in-process buildIndex over the registry blob and over the layout's file.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildIndex } from '../src/layer/build-index.js';
import { RegistrySource } from '../src/registry/registry-source.js';
import { FileSource } from '../src/source/file-source.js';
import { buildImage, writeLayout, type TarRecord } from '../src/testing/builder/index.js';
import { pushLayout, startRegistry } from '../src/testing/registry/index.js';
import { gzipDc, measure, median, type Sample, timeCommand } from './lib/measure.js';
import { syntheticRecords } from './lib/synthetic.js';
import { bundleCli } from './lib/cli-bundle.js';

const MIB = Number(process.env.MIB ?? 120);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const DEBIAN = process.env.DEBIAN ?? '/var/cache/imagefs-test/debian-bookworm-minbase.tar';



const dir = await mkdtemp(join(tmpdir(), 'imagefs-index-e2e-'));
const reg = await startRegistry();
try {
  const cli = await bundleCli();
  const layers: Array<[string, TarRecord[] | Uint8Array]> = [[`synthetic ${MIB} MiB`, syntheticRecords(MIB * 1024 * 1024)]];
  if (existsSync(DEBIAN)) layers.push(['Debian bookworm minbase', readFileSync(DEBIAN)]);
  console.log(`node ${process.version}, ${ROUNDS} rounds (median); load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  for (const [n, [name, content]] of layers.entries()) {
    const image = await buildImage({ layers: [{ ...(content instanceof Uint8Array ? { tar: content } : { entries: content }), compression: { kind: 'gnu-gzip', level: 6 } }] });
    const layer = image.layers[0]!;
    const layout = join(dir, `layout-${n}`);
    await writeLayout(layout, [{ image, tag: 'v1' }]);
    const repo = `bench/e2e${n}`;
    await pushLayout(reg, { layoutDir: layout, tag: 'v1', repo, destTag: 'v1' });
    const blobFile = join(dir, `layer-${n}.gz`);
    await writeFile(blobFile, layer.blob);
    const ref = `${reg.url.replace('http://', '')}/${repo}:v1`;
    console.log(`\n== ${name}: ${(layer.descriptor.size / 1e6).toFixed(1)} MB gzip -6, ${(layer.tar.length / 1e6).toFixed(1)} MB tar`);
    const rows: Record<string, Sample[]> = {
      'gzip -dc': [], 'index REF --push (registry)': [], 'index oci:DIR (layout)': [],
      'node CLI --version': [], 'buildIndex in-process (registry)': [], 'buildIndex in-process (file)': [],
    };
    for (let r = 0; r < ROUNDS; r++) {
      rows['gzip -dc']!.push(gzipDc(blobFile));
      rows['index REF --push (registry)']!.push(timeCommand(`${cli} index ${ref} --push --no-cache`));
      rows['index oci:DIR (layout)']!.push(timeCommand(`${cli} index oci:${layout}:v1 --no-cache`));
      rows['node CLI --version']!.push(timeCommand(`${cli} --version`));
      rows['buildIndex in-process (registry)']!.push(await measure(async () => {
        const source = new RegistrySource(ref);
        try {
          await buildIndex(await source.openBlob(layer.descriptor), layer.descriptor, { diffId: image.config.rootfs.diff_ids[0]! });
        } finally {
          await source.close();
        }
      }));
      rows['buildIndex in-process (file)']!.push(await measure(async () => {
        const src = await FileSource.open(blobFile);
        try {
          await buildIndex(src, layer.descriptor, { diffId: image.config.rootfs.diff_ids[0]! });
        } finally {
          await src.close();
        }
      }));
    }
    const m = (k: string): number => median(rows[k]!.map((s) => s.wall));
    for (const [k, v] of Object.entries(rows)) {
      console.log(`${k.padEnd(34)} wall ${m(k).toFixed(0).padStart(5)} ms (${(layer.tar.length / 1e3 / m(k)).toFixed(0).padStart(4)} MB/s of tar)  cpu ${median(v.map((s) => s.cpu)).toFixed(0).padStart(5)} ms`);
    }
    const g = m('gzip -dc');
    console.log(`ratio vs gzip -dc: index --push (registry) ${(g / m('index REF --push (registry)')).toFixed(2)}x, index (layout) ${(g / m('index oci:DIR (layout)')).toFixed(2)}x (goal >= 1.5x)`);
  }
} finally {
  await reg.stop();
  await rm(dir, { recursive: true, force: true });
}
