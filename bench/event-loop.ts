// The main thread's event-loop delay while 64 cold lazy reads run at once, span checks and inflate
// on the calling thread (before) against the span worker pool (after), side by side on the same
// layer in the real registry, rounds interleaved:
//
//   npx tsx bench/event-loop.ts        (MIB=64 ROUNDS=3 READS=64 SPAN=4194304 to change it)
//
// Each round opens a fresh blob (cold: every read fetches its spans) and fires READS concurrent
// 4 KiB reads at seeded random offsets; perf_hooks.monitorEventLoopDelay (1 ms resolution) records
// how late the main thread's timers ran meanwhile. Both modes are warmed once first (the pool's
// worker start-up is not counted). A third row times today's openImage path (LazyLayerData via
// openIndexedLayer), which inflates on the calling thread.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { SpanPool } from '../src/gzip/span-pool.js';
import { GzipSpanReader } from '../src/gzip/span-reader.js';
import { buildIndex } from '../src/layer/build-index.js';
import { openIndexedLayer, spanIndexOf } from '../src/layer/indexed-layer.js';
import { RegistrySource } from '../src/registry/registry-source.js';
import { FileSource } from '../src/source/file-source.js';
import type { ReadAtSource } from '../src/source/read-at.js';
import { buildImage, seededRandom, writeLayout } from '../src/testing/builder/index.js';
import { pushLayout, startRegistry } from '../src/testing/registry/index.js';
import { median } from './lib/measure.js';
import { syntheticRecords } from './lib/synthetic.js';

const MIB = Number(process.env.MIB ?? 64);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const READS = Number(process.env.READS ?? 64);
const SPAN = Number(process.env.SPAN ?? 4 * 1024 * 1024);
const REPO = 'bench/event-loop';


interface Row { wall: number; p50: number; p99: number; max: number }

async function burst(open: () => Promise<ReadAtSource & { close?: () => Promise<void> }>, offsets: number[]): Promise<Row> {
  const data = await open();
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t0 = performance.now();
  await Promise.all(offsets.map((o) => data.readAt(o, 4096)));
  const wall = performance.now() - t0;
  h.disable();
  await data.close?.();
  return { wall, p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6 };
}

const dir = await mkdtemp(join(tmpdir(), 'imagefs-event-loop-'));
const reg = await startRegistry();
const pool = new SpanPool();
try {
  const image = await buildImage({ layers: [{ entries: syntheticRecords(MIB * 1024 * 1024, 77), compression: { kind: 'gnu-gzip', level: 6 } }] });
  await writeLayout(join(dir, 'layout'), [{ image, tag: 'v1' }]);
  await pushLayout(reg, { layoutDir: join(dir, 'layout'), tag: 'v1', repo: REPO, destTag: 'v1' });
  const layer = image.layers[0]!;
  const blobFile = join(dir, 'layer.gz');
  await writeFile(blobFile, layer.blob);
  const src = await FileSource.open(blobFile);
  const built = await buildIndex(src, layer.descriptor, { span: SPAN });
  await src.close();
  const spanIndex = spanIndexOf(built.index);
  const source = new RegistrySource(`${reg.url.replace('http://', '')}/${REPO}:v1`);
  await source.resolve({ platform: { os: 'linux', architecture: 'amd64' } });
  const modes: Record<string, () => Promise<ReadAtSource & { close?: () => Promise<void> }>> = {
    'inline (before)': async () => new GzipSpanReader(spanIndex, await source.openBlob(layer.descriptor), { pool: false }),
    [`span pool of ${pool.size} (after)`]: async () => new GzipSpanReader(spanIndex, await source.openBlob(layer.descriptor), { pool }),
    'openIndexedLayer (today)': async () => (await openIndexedLayer(source, layer.descriptor, built.index)).data,
    'fetch only (no decode)': async () => {
      const blob = await source.openBlob(layer.descriptor);
      const reader = new GzipSpanReader(spanIndex, blob, { pool: false });
      // The same compressed ranges as the readers above fetch, nothing decoded.
      return {
        size: reader.size,
        readAt: async (o: number, l: number) => {
          const first = spanIndex.positions.findLastIndex((p) => p.uncompressedOffset <= o);
          const last = spanIndex.positions.findLastIndex((p) => p.uncompressedOffset <= o + l - 1);
          const a = spanIndex.positions[first]!.compressedOffset;
          const b = last + 1 < spanIndex.positions.length ? spanIndex.positions[last + 1]!.compressedOffset + 1 : spanIndex.compressedSize;
          return blob.readAt(a, Math.min(b, spanIndex.compressedSize) - a);
        },
        close: async () => { await blob.close?.(); },
      };
    },
  };
  const next = seededRandom(5);
  const size = layer.tar.length;
  console.log(`node ${process.version}, ${availableParallelism()} cores, ${(layer.descriptor.size / 1e6).toFixed(1)} MB gzip -6 layer (${(size / 1e6).toFixed(1)} MB tar), ${built.stats.checkpoints} spans of ${SPAN}, ${READS} concurrent cold 4 KiB reads, ${ROUNDS} rounds; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  for (const open of Object.values(modes)) await burst(open, [0]); // warm up (pool workers start)
  const rows: Record<string, Row[]> = Object.fromEntries(Object.keys(modes).map((k) => [k, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const offsets = Array.from({ length: READS }, () => Math.floor((next() / 2 ** 32) * (size - 4096)));
    for (const [name, open] of Object.entries(modes)) rows[name]!.push(await burst(open, offsets));
  }
  await source.close();
  const m = (name: string, k: keyof Row): number => median(rows[name]!.map((x) => x[k]));
  for (const name of Object.keys(modes)) {
    console.log(`${name.padEnd(24)} wall ${m(name, 'wall').toFixed(0).padStart(5)} ms   event-loop delay p50 ${m(name, 'p50').toFixed(1).padStart(6)} ms  p99 ${m(name, 'p99').toFixed(1).padStart(6)} ms  max ${m(name, 'max').toFixed(1).padStart(6)} ms`);
  }
  const [before, after] = Object.keys(modes) as [string, string];
  console.log(`ratio before/after: event-loop delay max ${(m(before, 'max') / m(after, 'max')).toFixed(1)}x, p99 ${(m(before, 'p99') / m(after, 'p99')).toFixed(1)}x; wall ${(m(before, 'wall') / m(after, 'wall')).toFixed(2)}x`);
} finally {
  await pool.close();
  await reg.stop();
  await rm(dir, { recursive: true, force: true });
}
