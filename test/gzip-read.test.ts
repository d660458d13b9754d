import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { ImageFsError } from '../src/errors/index.js';
import { gzipSpanIndex, spanRange, type GzipIndex } from '../src/gzip/checkpoint.js';
import { GzipIndexBuilder } from '../src/gzip/index-builder.js';
import { GzipSpanReader } from '../src/gzip/span-reader.js';
import { seededRandom } from '../src/testing/builder/index.js';
import { CountingSource, gzipFlavours, tarLike } from './gzip-fixtures.js';

const data = tarLike(2, 2 * 1024 * 1024 + 123);
let flavours: Record<string, Uint8Array>;

beforeAll(async () => {
  flavours = await gzipFlavours(data);
});

function indexOf(blob: Uint8Array, span = 128 * 1024): GzipIndex {
  const builder = new GzipIndexBuilder({ span });
  builder.push(blob);
  return builder.finish();
}

describe('GzipSpanReader', () => {
  for (const name of ['gzip -6', 'pigz', 'multi-member', 'sync-flush stream', 'pgzip-style']) {
    it(`${name}: random reads equal a full decompression, one fetch each`, async () => {
      const blob = flavours[name]!;
      const index = indexOf(blob);
      const source = new CountingSource(blob);
      const reader = new GzipSpanReader(index, source);
      expect(reader.size).toBe(data.length);
      const next = seededRandom(5);
      const reads: [number, number][] = [[0, 1], [data.length - 1, 1], [0, data.length], [data.length, 0]];
      for (let i = 0; i < 40; i++) {
        const len = i % 4 === 0 ? 1 + (next() % 600_000) : 1 + (next() % 8192);
        reads.push([next() % (data.length - len), len]);
      }
      // Reads crossing each checkpoint (and so span and member boundaries).
      for (const cp of index.checkpoints.slice(1)) reads.push([cp.uncompressedOffset - 10, 20]);
      for (const [offset, length] of reads) {
        const before = source.reads;
        const got = await reader.readAt(offset, length);
        expect(got.length).toBe(length);
        expect(Buffer.from(got).equals(data.subarray(offset, offset + length)), `${offset}+${length}`).toBe(true);
        expect(source.reads - before).toBe(length === 0 ? 0 : 1);
      }
    });
  }

  it('fetches only the spans a small read needs', async () => {
    const blob = flavours['gzip -6']!;
    const index = indexOf(blob);
    const reader = new GzipSpanReader(index, new CountingSource(blob));
    const cp = index.checkpoints[3]!;
    await reader.readAt(cp.uncompressedOffset + 100, 4096);
    const { start, end } = spanRange(index.checkpoints, index.compressedSize, 3);
    expect(reader.stats).toEqual({ fetches: 1, bytesFetched: end - start, offloaded: 1 });
  });

  it('reads a multi-member blob across member ends from member-start checkpoints', async () => {
    const blob = flavours['multi-member']!;
    const builder = new GzipIndexBuilder({ span: 10 * 1024 * 1024, checkpointEveryMember: true });
    builder.push(blob);
    const index = builder.finish();
    expect(index.checkpoints.every((c) => c.memberStart === true)).toBe(true);
    const reader = new GzipSpanReader(index, new CountingSource(blob));
    const third = Math.floor(data.length / 3);
    for (const at of [third - 5000, 2 * third - 5000, 0]) {
      const got = await reader.readAt(at, 20_000);
      expect(Buffer.from(got).equals(data.subarray(at, at + 20_000))).toBe(true);
    }
  });

  it('works over the GzipSpanIndex view too', async () => {
    const blob = flavours['gzip -6']!;
    const reader = new GzipSpanReader(gzipSpanIndex(indexOf(blob)), new CountingSource(blob));
    const got = await reader.readAt(1_000_000, 100);
    expect(Buffer.from(got).equals(data.subarray(1_000_000, 1_000_100))).toBe(true);
  });

  it('a flipped byte in a span is DataLoss for reads of that span only', async () => {
    const blob = flavours['gzip -6']!.slice();
    const index = indexOf(blob);
    const { start, end } = spanRange(index.checkpoints, index.compressedSize, 2);
    blob[Math.floor((start + end) / 2)] ^= 0x01;
    const reader = new GzipSpanReader(index, new CountingSource(blob));
    const inSpan = index.checkpoints[2]!.uncompressedOffset + 10;
    const error = await reader.readAt(inSpan, 100).then(() => undefined, (e: unknown) => e);
    expect(ImageFsError.is(error) && error.code).toBe('DataLoss');
    expect(String((error as Error).message)).toMatch(/span 2 .*does not match its digest/);
    const elsewhere = index.checkpoints[5]!.uncompressedOffset + 10;
    expect(Buffer.from(await reader.readAt(elsewhere, 100)).equals(data.subarray(elsewhere, elsewhere + 100))).toBe(true);
  });

  it('a corrupt span whose digest the index trusts is still DataLoss, not garbage', async () => {
    const original = flavours['gzip -6']!;
    const index = indexOf(original);
    const blob = original.slice();
    const { start } = spanRange(index.checkpoints, index.compressedSize, 1);
    blob.fill(0xff, start + 1, start + 200);
    // A broken index that carries the digests of the damaged bytes lets them through to inflate.
    const spanDigests = index.spanDigests.map((_, i) => {
      const r = spanRange(index.checkpoints, index.compressedSize, i);
      return new Uint8Array(createHash('sha256').update(blob.subarray(r.start, r.end)).digest());
    });
    const reader = new GzipSpanReader({ ...index, spanDigests }, new CountingSource(blob));
    const error = await reader.readAt(index.checkpoints[1]!.uncompressedOffset, 50_000).then(() => undefined, (e: unknown) => e);
    expect(ImageFsError.is(error) && error.code).toBe('DataLoss');
    expect(String((error as Error).message)).toMatch(/cannot inflate/);
  });

  it('rejects reads outside the stream, and aborted reads', async () => {
    const blob = flavours['gzip -6']!;
    const reader = new GzipSpanReader(indexOf(blob), new CountingSource(blob));
    await expect(reader.readAt(data.length - 1, 2)).rejects.toThrow(RangeError);
    await expect(reader.readAt(-1, 1)).rejects.toThrow(RangeError);
    const controller = new AbortController();
    controller.abort();
    await expect(reader.readAt(0, 10, { signal: controller.signal })).rejects.toMatchObject({ code: 'Aborted' });
  });

  it('refuses an index that does not fit the blob', () => {
    const blob = flavours['gzip -6']!;
    expect(() => new GzipSpanReader(indexOf(blob), new CountingSource(blob.subarray(1)))).toThrow(TypeError);
    expect(() => new GzipSpanReader({ ...indexOf(blob), checkpoints: [] }, new CountingSource(blob))).toThrow(TypeError);
  });

  it('node:zlib agrees with the fixtures', () => {
    for (const blob of Object.values(flavours)) expect(Buffer.from(zlib.gunzipSync(blob)).equals(data)).toBe(true);
  });
});
