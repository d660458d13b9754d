// Seekable gzip index build versus plain decompression, side by side in one run, on the same
// 100+ MB deterministic tar-like input compressed two ways: GNU `gzip -6` and Go-style sync-flushed
// deflate (one stream, Z_SYNC_FLUSH every 64 KiB, as Go's gzip.Writer.Flush / pgzip write).
//
//   npx tsx bench/gzip-index.ts          (MIB=120 ROUNDS=3 SPAN=4194304 to change it)
//
// For each blob prints, as the median of ROUNDS interleaved runs, wall time and CPU time (user+sys)
// of: `gzip -dc FILE > /dev/null`, node:zlib createGunzip over a file stream, and GzipIndexBuilder
// over the same file stream; throughput in MB/s of uncompressed output; the ratios index/gzip and
// index/stream (wall and CPU); checkpoints and index size; and one cold 4 KiB read at a random offset.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { GzipIndexBuilder } from '../src/gzip/index-builder.js';
import { GzipSpanReader } from '../src/gzip/span-reader.js';
import type { GzipIndex } from '../src/gzip/checkpoint.js';
import { FileSource } from '../src/source/file-source.js';
import { compressibleBytes, randomBytes, seededRandom } from '../src/testing/builder/index.js';
import { measure, gzipDc, gunzipStream, median, type Sample } from './lib/measure.js';

const MIB = Number(process.env.MIB ?? 120);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SPAN = Number(process.env.SPAN ?? 4 * 1024 * 1024);


/** Runs of text and random bytes (1-96 KiB each), like a tar of sources and binaries. */
function tarLike(size: number): Uint8Array {
  const next = seededRandom(2024);
  const out = new Uint8Array(size);
  for (let at = 0, i = 0; at < size; i++) {
    const n = Math.min(size - at, 1024 + (next() % (95 * 1024)));
    out.set(next() % 4 === 0 ? randomBytes(i, n) : compressibleBytes(i, n), at);
    at += n;
  }
  return out;
}

async function syncFlushGzip(data: Uint8Array, path: string): Promise<void> {
  const out = createWriteStream(path);
  out.write(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]));
  const deflate = zlib.createDeflateRaw({ level: 6 });
  deflate.pipe(out, { end: false });
  for (let at = 0; at < data.length; at += 64 * 1024) {
    deflate.write(data.subarray(at, at + 64 * 1024));
    await new Promise<void>((resolve) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
  }
  deflate.end();
  await once(deflate, 'end');
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(zlib.crc32(data), 0);
  trailer.writeUInt32LE(data.length >>> 0, 4);
  out.end(trailer);
  await once(out, 'finish');
}




async function buildIndex(path: string): Promise<{ index: GzipIndex; builder: GzipIndexBuilder }> {
  const builder = new GzipIndexBuilder({ span: SPAN, onOutput: () => {} });
  for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 })) builder.push(chunk as Buffer);
  return { index: builder.finish(), builder };
}

const mbps = (bytes: number, ms: number): string => (bytes / 1e6 / (ms / 1000)).toFixed(0);

async function benchBlob(name: string, path: string, size: number): Promise<void> {
  const samples: Record<'gzip' | 'stream' | 'index', Sample[]> = { gzip: [], stream: [], index: [] };
  let last: { index: GzipIndex; builder: GzipIndexBuilder } | undefined;
  for (let round = 0; round < ROUNDS; round++) {
    samples.gzip.push(gzipDc(path));
    samples.stream.push(await measure(() => gunzipStream(path)));
    samples.index.push(await measure(async () => { last = await buildIndex(path); }));
  }
  const { index, builder } = last!;
  const compressed = (await stat(path)).size;
  console.log(`\n== ${name}: ${(compressed / 1e6).toFixed(1)} MB compressed, ${(size / 1e6).toFixed(1)} MB uncompressed`);
  const m: Record<string, Sample> = {};
  for (const [k, v] of Object.entries(samples)) {
    m[k] = { wall: median(v.map((s) => s.wall)), cpu: median(v.map((s) => s.cpu)) };
    console.log(`${k.padEnd(7)} wall ${m[k]!.wall.toFixed(0).padStart(5)} ms (${mbps(size, m[k]!.wall).padStart(4)} MB/s)   cpu ${m[k]!.cpu.toFixed(0).padStart(5)} ms (${mbps(size, m[k]!.cpu).padStart(4)} MB/s)`);
  }
  const ratio = (a: string, b: string, f: 'wall' | 'cpu'): string => (m[b]![f] / m[a]![f]).toFixed(2);
  console.log(`ratio index/gzip -dc: wall ${ratio('index', 'gzip', 'wall')}x  cpu ${ratio('index', 'gzip', 'cpu')}x   (bar >= 1.5x)`);
  console.log(`ratio index/stream:   wall ${ratio('index', 'stream', 'wall')}x  cpu ${ratio('index', 'stream', 'cpu')}x   (bar >= 0.7x)`);
  const windows = index.checkpoints.reduce((n, c) => n + (c.window?.length ?? 0), 0);
  const packed = index.checkpoints.reduce((n, c) => n + (c.window ? zlib.deflateRawSync(c.window).length : 0), 0);
  const positions = index.checkpoints.length * 16;
  const digests = index.spanDigests.length * 32;
  console.log(`checkpoints ${index.checkpoints.length} (span ${SPAN}; candidates ${builder.stats.candidates}, skipped ${builder.stats.skipped})`);
  console.log(`index size: ${positions + digests + windows} B raw, ${positions + digests + packed} B with deflated windows (${((positions + digests + packed) / size * 100).toFixed(3)}% of the tar)`);
  const source = await FileSource.open(path);
  const reader = new GzipSpanReader(index, source);
  const offset = Math.floor(seededRandom(7)() / 2 ** 32 * (size - 4096));
  const t0 = performance.now();
  await reader.readAt(offset, 4096);
  console.log(`cold 4 KiB read at ${offset}: ${reader.stats.fetches} fetch, ${reader.stats.bytesFetched} compressed bytes, ${(performance.now() - t0).toFixed(1)} ms`);
  await reader.close();
}

const dir = await mkdtemp(join(tmpdir(), 'imagefs-gzip-bench-'));
try {
  const data = tarLike(MIB * 1024 * 1024);
  const tarPath = join(dir, 'layer.tar');
  await writeFile(tarPath, data);
  const gnu = join(dir, 'gnu-6.tar.gz');
  execFileSync('bash', ['-c', `gzip -6 -n -c '${tarPath}' > '${gnu}'`]);
  const sync = join(dir, 'sync-flush.tar.gz');
  await syncFlushGzip(data, sync);
  console.log(`node ${process.version}, ${MIB} MiB input, ${ROUNDS} rounds (median), span ${SPAN}; load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  await benchBlob('gzip -6', gnu, data.length);
  await benchBlob('sync-flushed (Go style)', sync, data.length);
} finally {
  await rm(dir, { recursive: true, force: true });
}
