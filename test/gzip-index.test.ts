import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { ImageFsError } from '../src/errors/index.js';
import { buildGzipIndex, GzipIndexBuilder, type GzipIndexBuilderOptions } from '../src/gzip/index-builder.js';
import { spanRange, type GzipIndex } from '../src/gzip/checkpoint.js';
import { validateCheckpoints } from '../src/gzip/validate.js';
import { concatBytes, randomBytes } from '../src/testing/builder/index.js';
import { chunks, gzipFlavours, tarLike } from './gzip-fixtures.js';

const SPAN = 128 * 1024;
const data = tarLike(1, 2 * 1024 * 1024 + 777);
let flavours: Record<string, Uint8Array>;

beforeAll(async () => {
  flavours = await gzipFlavours(data);
});

function build(blob: Uint8Array, size: number | 'random', options: GzipIndexBuilderOptions = {}): { index: GzipIndex; output: Uint8Array; builder: GzipIndexBuilder } {
  const out: Uint8Array[] = [];
  const builder = new GzipIndexBuilder({ span: SPAN, onOutput: (c) => out.push(c), ...options });
  for (const chunk of chunks(blob, size)) builder.push(chunk);
  return { index: builder.finish(), output: concatBytes(out), builder };
}

function randomBytesLike(size: number): Uint8Array {
  return randomBytes(99, size);
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function expectDataLoss(run: () => unknown): Promise<ImageFsError> {
  let caught: unknown;
  try {
    await run();
  } catch (error) {
    caught = error;
  }
  expect(ImageFsError.is(caught), `expected a DataLoss error, got ${String(caught)}`).toBe(true);
  expect((caught as ImageFsError).code).toBe('DataLoss');
  return caught as ImageFsError;
}

describe('GzipIndexBuilder over every gzip flavour', () => {
  for (const name of ['gzip -1', 'gzip -6', 'gzip -9', 'pigz', 'multi-member', 'sync-flush stream', 'pgzip-style']) {
    for (const size of [65536, 321, 'random'] as const) {
      it(`${name}, fed in ${size}-byte chunks: output, digests and every checkpoint are right`, () => {
        const blob = flavours[name]!;
        const { index, output } = build(blob, size);
        expect(Buffer.from(output).equals(data)).toBe(true);
        expect(index.uncompressedSize).toBe(data.length);
        expect(index.compressedSize).toBe(blob.length);
        expect(index.digest).toBe(sha256(blob));
        // A checkpoint about every span: at least one per 2 spans of output.
        expect(index.checkpoints.length).toBeGreaterThanOrEqual(Math.floor(data.length / SPAN / 2));
        expect(index.spanDigests.length).toBe(index.checkpoints.length);
        index.checkpoints.forEach((_, i) => {
          const { start, end } = spanRange(index.checkpoints, index.compressedSize, i);
          expect(Buffer.from(index.spanDigests[i]!).toString('hex')).toBe(sha256(blob.subarray(start, end)).slice(7));
        });
        expect(validateCheckpoints(blob, index.checkpoints)).toEqual([]);
      });
    }
  }

  it('regression: a boundary before a final stored block is never a checkpoint (BFINAL cannot be tried)', () => {
    // Text then incompressible bytes: gzip ends the member with stored blocks, the last one final.
    const tricky = concatBytes([data.subarray(0, 200_000), randomBytesLike(100_000)]);
    for (const blob of [zlib.gzipSync(tricky), flavours['gzip -6']!, flavours['gzip -9']!]) {
      const { index } = build(blob, 65536, { span: 1 }); // span 1: every usable boundary becomes a checkpoint
      expect(index.checkpoints.length).toBeGreaterThan(5);
      expect(validateCheckpoints(blob, index.checkpoints)).toEqual([]);
    }
  });

  it('span 1 on every flavour: a checkpoint at nearly every block boundary, all correct', () => {
    for (const [name, blob] of Object.entries(flavours)) {
      const { index, builder } = build(blob, 'random', { span: 1 });
      expect(index.checkpoints.length, name).toBeGreaterThan(10);
      expect(builder.stats.candidates).toBeGreaterThanOrEqual(index.checkpoints.length - index.members);
      expect(validateCheckpoints(blob, index.checkpoints), name).toEqual([]);
    }
  });

  it('marks member starts and checkpoints every member when asked', () => {
    const blob = flavours['multi-member']!;
    const { index } = build(blob, 4096, { checkpointEveryMember: true });
    const starts = index.checkpoints.filter((c) => c.memberStart === true);
    // 4 members, one empty: the empty one starts where the next does (same uncompressed offset), so 3 starts.
    expect(starts.length).toBe(3);
    expect(index.members).toBe(4);
    for (const cp of starts) {
      expect(blob[cp.compressedOffset]).toBe(0x1f);
      expect(blob[cp.compressedOffset + 1]).toBe(0x8b);
      expect(cp.window).toBeUndefined();
    }
    expect(validateCheckpoints(blob, index.checkpoints)).toEqual([]);
  });

  it('handles 1-byte chunks', () => {
    const small = data.subarray(0, 300_000);
    const blob = zlib.gzipSync(small);
    const { index, output } = build(blob, 1, { span: 32 * 1024 });
    expect(Buffer.from(output).equals(small)).toBe(true);
    // Tiny pushes are gathered, so they find (about) as many boundaries as big ones.
    const big = build(blob, 65536, { span: 32 * 1024 }).index;
    expect(index.checkpoints.length).toBeGreaterThanOrEqual(Math.max(3, big.checkpoints.length - 1));
    expect(validateCheckpoints(blob, index.checkpoints)).toEqual([]);
  });

  it('covers many bit offsets across real boundaries', () => {
    const seen = new Set<number>();
    for (const blob of Object.values(flavours)) for (const cp of build(blob, 65536, { span: 16 * 1024 }).index.checkpoints) seen.add(cp.bitOffset);
    expect(seen.size).toBeGreaterThanOrEqual(6);
  });

  it('accepts zero padding after the last member', () => {
    const blob = concatBytes([flavours['gzip -6']!, new Uint8Array(100)]);
    const { index, output } = build(blob, 'random');
    expect(output.length).toBe(data.length);
    expect(index.compressedSize).toBe(blob.length);
  });

  it('builds from an async iterable and checks the expected digest', async () => {
    const blob = flavours['gzip -6']!;
    async function* stream() { yield* chunks(blob, 100_000); }
    const index = await buildGzipIndex(stream(), { expectedDigest: sha256(blob) });
    expect(index.members).toBe(1);
    await expectDataLoss(() => buildGzipIndex(chunks(blob, 100_000), { expectedDigest: `sha256:${'0'.repeat(64)}` }));
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(buildGzipIndex(chunks(flavours['gzip -6']!, 1000), { signal: controller.signal })).rejects.toMatchObject({ code: 'Aborted' });
  });

  it('rejects a bad span option', () => {
    expect(() => new GzipIndexBuilder({ span: 0 })).toThrow(TypeError);
  });
});

describe('GzipIndexBuilder on damaged input', () => {
  it('rejects truncation anywhere: header, deflate data, trailer', async () => {
    const blob = flavours['gzip -6']!;
    for (const cut of [0, 5, 100, Math.floor(blob.length / 2), blob.length - 9, blob.length - 3]) {
      const error = await expectDataLoss(() => build(blob.subarray(0, cut), 4096));
      expect(error.message).toMatch(cut === 0 ? /empty/ : /truncated/);
    }
  });

  it('rejects a flipped byte in the deflate data', async () => {
    for (const fraction of [0.01, 0.3, 0.6, 0.9]) {
      const blob = flavours['gzip -6']!.slice();
      const at = Math.floor(blob.length * fraction);
      blob[at] = blob[at]! ^ 0x10;
      await expectDataLoss(() => build(blob, 65536));
    }
  });

  it('rejects a wrong CRC or size in the trailer', async () => {
    for (const back of [8, 2]) {
      const blob = flavours['gzip -6']!.slice();
      blob[blob.length - back] = blob[blob.length - back]! ^ 1;
      const error = await expectDataLoss(() => build(blob, 65536));
      expect(error.message).toMatch(/fails its check/);
    }
  });

  it('rejects input that is not gzip, and garbage after the last member', async () => {
    await expectDataLoss(() => build(data.subarray(0, 1000), 100));
    await expectDataLoss(() => build(concatBytes([flavours['gzip -6']!, new TextEncoder().encode('garbage')]), 65536));
    await expectDataLoss(() => build(concatBytes([flavours['gzip -6']!, new Uint8Array([0, 0, 1])]), 65536));
  });

  it('stays failed after an error', async () => {
    const builder = new GzipIndexBuilder();
    builder.push(new Uint8Array([1, 2, 3])); // small pushes are gathered: the error shows at the next flush
    await expectDataLoss(() => builder.finish());
    await expectDataLoss(() => builder.push(new Uint8Array(100_000)));
    await expectDataLoss(() => builder.finish());
  });
});
