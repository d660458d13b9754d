// The two inflate engines side by side on the same data, rounds interleaved, in one run: the index
// build (GzipIndexBuilder) and random span reads (GzipSpanReader, on the calling thread) on the
// native zlib handle and on pako (the pure-JS engine), and the one-shot inflaters of node:zlib,
// pako and fflate (why pako, not fflate, is the JS engine: it can stop at block boundaries and
// take a dictionary, and it is not slower):
//
//   npx tsx bench/inflate-engines.ts        (MIB=48 ROUNDS=3 READS=40)
import zlib from 'node:zlib';
import { gunzipSync } from 'fflate';
import { ungzip } from 'pako';
import { GzipIndexBuilder } from '../src/gzip/index-builder.js';
import { setInflateEngine } from '../src/gzip/inflater.js';
import { GzipSpanReader } from '../src/gzip/span-reader.js';
import { BufferSource } from '../src/source/read-at.js';
import { compress, seededRandom, writeTar } from '../src/testing/builder/index.js';
import { median } from './lib/measure.js';
import { syntheticRecords } from './lib/synthetic.js';

const MIB = Number(process.env.MIB ?? 48);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const READS = Number(process.env.READS ?? 40);


const tar = writeTar(syntheticRecords(MIB * 1024 * 1024));
const blob = await compress(tar, { kind: 'gnu-gzip', level: 6 });
const rows: Record<string, number[]> = {};
const time = (name: string, run: () => void): void => {
  const t0 = performance.now();
  run();
  (rows[name] ??= []).push(performance.now() - t0);
};
const build = (): GzipIndexBuilder => {
  const b = new GzipIndexBuilder({ reuseOutput: true });
  for (let i = 0; i < blob.length; i += 1 << 20) b.push(blob.subarray(i, i + (1 << 20)));
  return b;
};
const index = build().finish();
const next = seededRandom(7);
const offsets = Array.from({ length: READS }, () => Math.floor((next() / 2 ** 32) * (tar.length - 4096)));
for (let r = 0; r < ROUNDS; r++) {
  for (const engine of ['native', 'js'] as const) {
    setInflateEngine(engine);
    time(`index build, ${engine}`, () => build().finish());
    const reader = new GzipSpanReader(index, new BufferSource(blob), { pool: false });
    const t0 = performance.now();
    for (const o of offsets) await reader.readAt(o, 4096);
    (rows[`${READS} cold 4 KiB reads, ${engine}`] ??= []).push(performance.now() - t0);
  }
  time('zlib.gunzipSync', () => zlib.gunzipSync(blob));
  time('pako ungzip', () => ungzip(blob));
  time('fflate gunzipSync', () => gunzipSync(blob));
}
console.log(`node ${process.version}; ${(blob.length / 1e6).toFixed(1)} MB gzip -6 of a ${(tar.length / 1e6).toFixed(1)} MB tar, ${index.checkpoints.length} spans; ${ROUNDS} rounds (median)`);
const m = (k: string): number => median(rows[k]!);
for (const k of Object.keys(rows)) console.log(`${k.padEnd(30)} ${m(k).toFixed(0).padStart(6)} ms${k.includes('reads') ? '' : `  (${(tar.length / 1e3 / m(k)).toFixed(0)} MB/s of tar)`}`);
console.log(`ratio js/native: index build ${(m('index build, js') / m('index build, native')).toFixed(2)}x slower, reads ${(m(`${READS} cold 4 KiB reads, js`) / m(`${READS} cold 4 KiB reads, native`)).toFixed(2)}x slower; fflate/pako one-shot ${(m('fflate gunzipSync') / m('pako ungzip')).toFixed(2)}x`);
