// Lazy layer reading end to end, on a 100+ MB layer tar compressed two ways (GNU `gzip -6` and a
// Go-style sync-flushed deflate, as pgzip/umoci write), both pushed to a local CNCF distribution
// registry. One run, same data, ratios printed:
//
//   npx tsx bench/lazy-read.ts           (MIB=120 ROUNDS=3 SPAN=4194304 READS=7 to change it)
//
// Per layer: index build throughput (buildIndex over the local file and over the registry) against
// `gzip -dc FILE > /dev/null` and node:zlib's streaming gunzip of the same file; index size / layer
// size; cold 4 KiB reads at random offsets through a counting proxy (requests, compressed bytes
// fetched, latency) against a plain undici range request of the same compressed bytes.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import type { Descriptor } from '../src/image/types.js';
import { buildIndex, type BuiltLayerIndex } from '../src/layer/build-index.js';
import { openIndexedLayer } from '../src/layer/indexed-layer.js';
import { RegistrySource } from '../src/registry/registry-source.js';
import { FileSource } from '../src/source/file-source.js';
import { buildImage, seededRandom, writeLayout, type Compression } from '../src/testing/builder/index.js';
import { pushLayout, startFaultProxy, startRegistry } from '../src/testing/registry/index.js';
import { measure, gzipDc, gunzipStream, median, type Sample } from './lib/measure.js';
import { syntheticRecords } from './lib/synthetic.js';

const MIB = Number(process.env.MIB ?? 120);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SPAN = Number(process.env.SPAN ?? 4 * 1024 * 1024);
const READS = Number(process.env.READS ?? 7);
const REPO = 'bench/lazy';


const mbps = (bytes: number, ms: number): string => (bytes / 1e6 / (ms / 1000)).toFixed(0);

async function benchLayer(name: string, desc: Descriptor, blobFile: string, tarSize: number, registryUrl: string, proxyUrl: string, proxy: Awaited<ReturnType<typeof startFaultProxy>>): Promise<void> {
  console.log(`\n== ${name}: ${(desc.size / 1e6).toFixed(1)} MB compressed, ${(tarSize / 1e6).toFixed(1)} MB tar`);
  const samples: Record<'gzip -dc' | 'zlib stream' | 'index (file)' | 'index (registry)', Sample[]> = { 'gzip -dc': [], 'zlib stream': [], 'index (file)': [], 'index (registry)': [] };
  let built: BuiltLayerIndex | undefined;
  const registry = new RegistrySource(`${registryUrl.replace('http://', '')}/${REPO}:v1`);
  for (let round = 0; round < ROUNDS; round++) {
    samples['gzip -dc'].push(gzipDc(blobFile));
    samples['zlib stream'].push(await measure(() => gunzipStream(blobFile)));
    samples['index (file)'].push(await measure(async () => {
      const src = await FileSource.open(blobFile);
      try { built = await buildIndex(src, desc, { span: SPAN }); } finally { await src.close(); }
    }));
    samples['index (registry)'].push(await measure(async () => {
      const blob = await registry.openBlob(desc);
      await buildIndex(blob, desc, { span: SPAN });
    }));
  }
  await registry.close();
  const m: Record<string, Sample> = {};
  for (const [k, v] of Object.entries(samples)) {
    m[k] = { wall: median(v.map((s) => s.wall)), cpu: median(v.map((s) => s.cpu)) };
    console.log(`${k.padEnd(17)} wall ${m[k]!.wall.toFixed(0).padStart(5)} ms (${mbps(tarSize, m[k]!.wall).padStart(4)} MB/s of tar)   cpu ${m[k]!.cpu.toFixed(0).padStart(5)} ms`);
  }
  const r = (a: string, b: string): string => (m[b]!.wall / m[a]!.wall).toFixed(2);
  console.log(`ratio index(file)/gzip -dc ${r('index (file)', 'gzip -dc')}x (bar >= 1.5x); index(file)/zlib stream ${r('index (file)', 'zlib stream')}x (bar >= 0.7x); index(registry)/zlib stream ${r('index (registry)', 'zlib stream')}x`);
  const s = built!.stats;
  console.log(`index: ${s.entries} entries, ${s.checkpoints} checkpoints, ${s.indexSize} bytes = ${(s.ratio * 100).toFixed(3)}% of the layer (bar <= 1%)`);

  // cold 4 KiB reads: a fresh client per read, image resolved first (as openImage does), then one read
  const next = seededRandom(99);
  const rows: Array<{ requests: number; bytes: number; ms: number; plainMs: number }> = [];
  for (let i = 0; i < READS; i++) {
    const offset = Math.floor((next() / 2 ** 32) * (tarSize - 4096));
    const source = new RegistrySource(`${proxyUrl.replace('http://', '')}/${REPO}:v1`);
    await source.resolve({ platform: { os: 'linux', architecture: 'amd64' } });
    const layer = await openIndexedLayer(source, desc, built!.index);
    proxy.reset();
    const t0 = performance.now();
    await layer.data.readAt(offset, 4096);
    const ms = performance.now() - t0;
    const { requests, bytesOut } = proxy.counters;
    const range = proxy.log.find((l) => l.kind === 'blob')?.range ?? '';
    await layer.close();
    await source.close();
    const pool = new Pool(proxyUrl);
    const t1 = performance.now();
    const res = await pool.request({ method: 'GET', path: `/v2/${REPO}/blobs/${desc.digest}`, headers: { range } });
    await res.body.arrayBuffer();
    const plainMs = performance.now() - t1;
    await pool.close();
    rows.push({ requests, bytes: bytesOut, ms, plainMs });
  }
  const reqs = [...new Set(rows.map((x) => x.requests))].join('/');
  console.log(`cold 4 KiB reads (${READS}): requests per read ${reqs} (bar: 1); compressed bytes fetched median ${median(rows.map((x) => x.bytes))}, max ${Math.max(...rows.map((x) => x.bytes))} (bar <= span + 64 KiB = ${SPAN + 65536})`);
  console.log(`latency median ${median(rows.map((x) => x.ms)).toFixed(1)} ms vs plain undici range request of the same bytes ${median(rows.map((x) => x.plainMs)).toFixed(1)} ms (ratio ${(median(rows.map((x) => x.ms)) / median(rows.map((x) => x.plainMs))).toFixed(2)}x)`);
}

const dir = await mkdtemp(join(tmpdir(), 'imagefs-lazy-bench-'));
const reg = await startRegistry();
const proxy = await startFaultProxy({ target: reg.url });
try {
  const kinds: Array<[string, Compression]> = [['GNU gzip -6', { kind: 'gnu-gzip', level: 6 }], ['sync-flushed (Go style, 64 KiB)', { kind: 'gzip-sync', flushEvery: 64 * 1024 }]];
  const image = await buildImage({ layers: kinds.map(([, compression]) => ({ entries: syntheticRecords(MIB * 1024 * 1024), compression })) });
  await writeLayout(join(dir, 'layout'), [{ image, tag: 'v1' }]);
  await pushLayout(reg, { layoutDir: join(dir, 'layout'), tag: 'v1', repo: REPO, destTag: 'v1' });
  console.log(`node ${process.version}, ${MIB} MiB tar per layer, ${ROUNDS} rounds (median), span ${SPAN}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  for (const [i, [name]] of kinds.entries()) {
    const layer = image.layers[i]!;
    const blobFile = join(dir, `layer-${i}.gz`);
    await writeFile(blobFile, layer.blob);
    await benchLayer(name, layer.descriptor, blobFile, layer.tar.length, reg.url, proxy.url, proxy);
  }
} finally {
  await proxy.stop();
  await reg.stop();
  await rm(dir, { recursive: true, force: true });
}
