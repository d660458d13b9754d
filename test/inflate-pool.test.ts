// Lazy reads off the main thread: the span pool verifies and inflates on worker threads, on
// either engine, returns exactly what the inline path returns, keeps the main thread's event loop
// turning meanwhile, and falls back to the calling thread when no worker can run.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ImageFsError } from '../src/errors/index.js';
import { spanRange, type GzipIndex } from '../src/gzip/checkpoint.js';
import { GzipIndexBuilder } from '../src/gzip/index-builder.js';
import { setInflateEngine } from '../src/gzip/inflater.js';
import { SpanPool } from '../src/gzip/span-pool.js';
import { GzipSpanReader } from '../src/gzip/span-reader.js';
import { seededRandom } from '../src/testing/builder/index.js';
import { CountingSource, gzipFlavours, tarLike } from './gzip-fixtures.js';

const data = tarLike(21, 1536 * 1024 + 5);
let flavours: Record<string, Uint8Array>;
const indexes = new Map<string, GzipIndex>();
const pool = new SpanPool({ size: 2 });

beforeAll(async () => {
  flavours = await gzipFlavours(data);
  for (const name of ['gzip -6', 'multi-member', 'pgzip-style']) {
    const builder = new GzipIndexBuilder({ span: 256 * 1024 });
    builder.push(flavours[name]!);
    indexes.set(name, builder.finish());
  }
});

afterEach(() => {
  setInflateEngine('auto');
});

afterAll(async () => {
  await pool.close();
});

describe('SpanPool', () => {
  for (const engine of ['native', 'js'] as const) {
    it(`${engine} engine: concurrent reads (64 native, 24 JS) equal the inline reads and the data, all decoded on workers`, async () => {
      setInflateEngine(engine);
      for (const [name, index] of indexes) {
        const blob = flavours[name]!;
        const pooled = new GzipSpanReader(index, new CountingSource(blob), { pool });
        const inline = new GzipSpanReader(index, new CountingSource(blob), { pool: false });
        const next = seededRandom(engine === 'js' ? 3 : 4);
        const count = engine === 'js' ? 24 : 64;
        const reads = Array.from({ length: count }, (_, i) => {
          const length = i === 0 ? data.length : 1 + (next() % 300_000);
          return [i === 0 ? 0 : next() % (data.length - length), length] as const;
        });
        const got = await Promise.all(reads.map(([o, l]) => pooled.readAt(o, l)));
        for (const [i, [o, l]] of reads.entries()) {
          const want = data.subarray(o, o + l);
          expect(Buffer.from(got[i]!).equals(want), `${name} ${o}+${l}`).toBe(true);
          if (i % 8 === 0) expect(Buffer.from(await inline.readAt(o, l)).equals(want)).toBe(true);
        }
        expect(pooled.stats.offloaded).toBe(count);
        expect(inline.stats.offloaded).toBe(0);
        expect(pool.workers).toBeLessThanOrEqual(2);
        expect(pool.workers).toBeGreaterThanOrEqual(1);
      }
    });
  }

  it('keeps the event loop turning while a span is decoded; the inline path does not', async () => {
    const name = 'gzip -6';
    const index = indexes.get(name)!;
    const blob = flavours[name]!;
    const ticksDuring = async (reader: GzipSpanReader): Promise<number> => {
      let ticks = 0;
      let running = true;
      const tick = (): void => {
        if (!running) return;
        ticks++;
        setImmediate(tick);
      };
      setImmediate(tick);
      // The whole stream: every span verified and inflated.
      const bytes = await reader.readAt(0, data.length);
      running = false;
      expect(Buffer.from(bytes).equals(data)).toBe(true);
      return ticks;
    };
    expect(await ticksDuring(new GzipSpanReader(index, new CountingSource(blob), { pool: false }))).toBe(0);
    expect(await ticksDuring(new GzipSpanReader(index, new CountingSource(blob), { pool }))).toBeGreaterThan(0);
  });

  it('a corrupt span is DataLoss from the worker too, and other spans still read', async () => {
    const blob = flavours['gzip -6']!.slice();
    const index = indexes.get('gzip -6')!;
    const { start, end } = spanRange(index.checkpoints, index.compressedSize, 2);
    blob[(start + end) >> 1] ^= 0x10;
    const reader = new GzipSpanReader(index, new CountingSource(blob), { pool });
    const error = await reader.readAt(index.checkpoints[2]!.uncompressedOffset + 1, 10).then(() => undefined, (e: unknown) => e);
    expect(ImageFsError.is(error) && error.code).toBe('DataLoss');
    expect(String((error as Error).message)).toMatch(/span 2 .*does not match its digest/);
    expect(index.checkpoints.length).toBe(3);
    const at = index.checkpoints[1]!.uncompressedOffset;
    expect(Buffer.from(await reader.readAt(at, 1000)).equals(data.subarray(at, at + 1000))).toBe(true);
    expect(reader.stats.offloaded).toBe(1);
  });

  it('switching engines replaces the workers without counting them as failures', async () => {
    const index = indexes.get('multi-member')!;
    const reader = new GzipSpanReader(index, new CountingSource(flavours['multi-member']!), { pool });
    for (const engine of ['js', 'native', 'js', 'native', 'js', 'native'] as const) {
      setInflateEngine(engine);
      const at = 400_000;
      expect(Buffer.from(await reader.readAt(at, 70_000)).equals(data.subarray(at, at + 70_000))).toBe(true);
    }
    expect(reader.stats.offloaded).toBe(6);
    expect(pool.workers).toBeLessThanOrEqual(2);
  });

  it('decodes on the calling thread when the pool cannot run', async () => {
    const closed = new SpanPool({ size: 1 });
    await closed.close();
    await expect(closed.decode({ compressed: new Uint8Array(1), spans: [], checkpoint: { bitOffset: 0 }, skip: 0, length: 1 })).rejects.toThrow(/closed/);
    const index = indexes.get('pgzip-style')!;
    const reader = new GzipSpanReader(index, new CountingSource(flavours['pgzip-style']!), { pool: closed });
    const got = await reader.readAt(700_000, 50_000);
    expect(Buffer.from(got).equals(data.subarray(700_000, 750_000))).toBe(true);
    expect(reader.stats.offloaded).toBe(0);
    expect(() => new SpanPool({ size: 0 })).toThrow(TypeError);
  });
});
