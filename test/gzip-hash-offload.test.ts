// buildIndex with its sha256 work on a worker thread (hashOnWorker) must give byte-identical
// indexes to the inline path and refuse the same bad blobs; GzipIndexBuilder's reuseOutput must
// give the same stream and checkpoints as fresh buffers.
import zlib from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { ImageError } from '../src/errors/image-fs-error.js';
import { HashOffload } from '../src/gzip/hash-offload.js';
import { GzipIndexBuilder } from '../src/gzip/index-builder.js';
import { buildIndex } from '../src/layer/build-index.js';
import { BufferSource } from '../src/source/read-at.js';
import { buildImage, dir, file, type BuiltImage, type Compression, type TarRecord } from '../src/testing/builder/index.js';

const SPAN = 64 * 1024;
const RECORDS: TarRecord[] = [
  dir('usr'),
  file('usr/bin/tool', { seed: 1, size: 900_000 }, { mode: 0o755 }),
  file('usr/share/doc/big.txt', { seed: 2, size: 2_500_000, kind: 'text' }),
  file('var/lib/blob.bin', { seed: 4, size: 300_000 }),
];
const KINDS: Compression[] = ['gnu-gzip', { kind: 'gzip-multi', members: 4 }, { kind: 'gzip', level: 1 }];

let image: BuiltImage;
beforeAll(async () => {
  image = await buildImage({ layers: KINDS.map((compression) => ({ entries: RECORDS, compression })) });
}, 60_000);

async function failure(p: Promise<unknown>): Promise<ImageError> {
  const error = await p.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ImageError);
  return error as ImageError;
}

describe('buildIndex with hashOnWorker', () => {
  it.each(KINDS.map((k, i) => [typeof k === 'string' ? k : `${k.kind}`, i] as const))('%s: the same index bytes as the inline path', async (_name, i) => {
    const layer = image.layers[i]!;
    const options = { span: SPAN, diffId: layer.diffId, readSize: 100_003 };
    const inline = await buildIndex(new BufferSource(layer.blob), layer.descriptor, { ...options, hashOnWorker: false });
    const offloaded = await buildIndex(new BufferSource(layer.blob), layer.descriptor, { ...options, hashOnWorker: true });
    expect(offloaded.stats.checkpoints).toBeGreaterThan(10);
    expect(Buffer.from(offloaded.bytes).equals(Buffer.from(inline.bytes))).toBe(true);
    const noDiff = await buildIndex(new BufferSource(layer.blob), layer.descriptor, { span: SPAN, hashOnWorker: true });
    expect(Buffer.from(noDiff.bytes).equals(Buffer.from(inline.bytes))).toBe(true);
  });

  it('refuses a wrong layer digest, a wrong diff_id and a corrupt blob', async () => {
    const layer = image.layers[0]!;
    const wrongDigest = { ...layer.descriptor, digest: `sha256:${'0'.repeat(64)}` };
    const e1 = await failure(buildIndex(new BufferSource(layer.blob), wrongDigest, { hashOnWorker: true }));
    expect(e1.code).toBe('DataLoss');
    expect(e1.message).toContain(layer.descriptor.digest);
    const e2 = await failure(buildIndex(new BufferSource(layer.blob), layer.descriptor, { hashOnWorker: true, diffId: `sha256:${'1'.repeat(64)}` }));
    expect(e2.code).toBe('DataLoss');
    expect(e2.message).toContain('diff_id');
    const bad = new Uint8Array(layer.blob);
    bad[Math.floor(bad.length / 2)]! ^= 0x55;
    const e3 = await failure(buildIndex(new BufferSource(bad), layer.descriptor, { hashOnWorker: true, span: SPAN }));
    expect(e3.code).toBe('DataLoss');
  });

  it('stops on abort', async () => {
    const layer = image.layers[0]!;
    const controller = new AbortController();
    const source = new BufferSource(layer.blob);
    let reads = 0;
    const slow = { size: source.size, readAt: async (at: number, n: number) => {
      if (++reads === 3) controller.abort();
      return source.readAt(at, n);
    } };
    const e = await failure(buildIndex(slow, layer.descriptor, { hashOnWorker: true, readSize: 50_000, signal: controller.signal }));
    expect(e.code).toBe('Aborted');
  });
});

describe('HashOffload', () => {
  it('hashes spans, the blob and the output like node:crypto, and fails after close()', async () => {
    const { createHash } = await import('node:crypto');
    const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
    const data = new Uint8Array(3_000_000).map((_, i) => (i * 7919) % 251);
    const offload = new HashOffload({ diffId: true });
    try {
      offload.update(data.subarray(0, 1_000_000));
      offload.update(data.subarray(1_000_000));
      offload.span(0, 1_500_001);
      offload.span(1_500_000, 3_000_000);
      offload.output(data);
      await offload.drain();
      const r = await offload.finish();
      expect(r.digest).toBe(`sha256:${sha(data)}`);
      expect(r.diffId).toBe(`sha256:${sha(data)}`);
      expect(r.spanDigests.map((d) => Buffer.from(d).toString('hex'))).toEqual([sha(data.subarray(0, 1_500_001)), sha(data.subarray(1_500_000))]);
    } finally {
      offload.close();
    }
    const closed = new HashOffload({ diffId: false });
    closed.update(data);
    closed.close();
    await expect(closed.finish()).rejects.toThrow();
  });

  it('reports a span it no longer holds instead of a wrong digest', async () => {
    const offload = new HashOffload({ diffId: false });
    try {
      offload.update(new Uint8Array(1000));
      offload.span(0, 2000);
      await expect(offload.finish()).rejects.toThrow(/not held/);
    } finally {
      offload.close();
    }
  });
});

describe('GzipIndexBuilder reuseOutput', () => {
  it.each(KINDS.map((k, i) => [typeof k === 'string' ? k : `${k.kind}`, i] as const))('%s: same stream and checkpoints as fresh buffers', (_name, i) => {
    const layer = image.layers[i]!;
    const run = (reuseOutput: boolean): { out: Buffer; index: ReturnType<GzipIndexBuilder['finish']> } => {
      const parts: Buffer[] = [];
      const builder = new GzipIndexBuilder({ span: SPAN, reuseOutput, onOutput: (c) => parts.push(Buffer.from(c)) });
      for (let at = 0; at < layer.blob.length; at += 70_001) builder.push(layer.blob.subarray(at, at + 70_001));
      return { out: Buffer.concat(parts), index: builder.finish() };
    };
    const fresh = run(false);
    const reused = run(true);
    expect(reused.out.equals(zlib.gunzipSync(layer.blob))).toBe(true);
    const shape = (r: typeof fresh): string => JSON.stringify({
      ...r.index,
      checkpoints: r.index.checkpoints.map((c) => ({ ...c, window: c.window === undefined ? undefined : Buffer.from(c.window).toString('base64') })),
      spanDigests: r.index.spanDigests.map((d) => Buffer.from(d).toString('hex')),
    });
    expect(shape(reused)).toBe(shape(fresh));
    expect(reused.index.checkpoints.length).toBeGreaterThan(10);
  });
});
