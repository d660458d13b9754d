// buildIndex + openIndexedLayer over real layout blobs: every compression the builder makes, every
// file compared with the whole path, and the bad inputs (typed errors, never a wrong byte).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageError } from '../src/errors/image-fs-error.js';
import type { Descriptor, ImageSource } from '../src/image/types.js';
import { openIndex } from '../src/layer-index/layer-index.js';
import { buildIndex } from '../src/layer/build-index.js';
import { openIndexedLayer } from '../src/layer/indexed-layer.js';
import { openWholeLayer } from '../src/layer/whole-layer.js';
import { OciLayoutSource } from '../src/layout/oci-layout-source.js';
import { BufferSource } from '../src/source/read-at.js';
import { validateCheckpoints } from '../src/gzip/validate.js';
import {
  buildImage, dir, file, hardlink, sha256Digest, symlink, writeLayout, type BuiltImage, type Compression, type TarRecord,
} from '../src/testing/builder/index.js';
import { tempDir } from './layout-fixtures.js';

const SPAN = 64 * 1024;
const RECORDS: TarRecord[] = [
  dir('usr'),
  dir('usr/bin'),
  file('usr/bin/tool', { seed: 1, size: 180_000 }, { mode: 0o755 }),
  file('usr/share/doc/big.txt', { seed: 2, size: 400_000, kind: 'text' }),
  hardlink('usr/bin/tool2', 'usr/bin/tool'),
  symlink('usr/bin/t', 'tool'),
  file('etc/cap', 'x', { xattrs: { 'security.capability': new Uint8Array([1, 0, 0, 2, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) } }),
  file('a/' + 'long/'.repeat(30) + 'name.txt', { seed: 3, size: 5000, kind: 'text' }),
  file('var/lib/blob.bin', { seed: 4, size: 120_000 }),
  file('var/empty', ''),
];
const KINDS: Compression[] = ['gnu-gzip', 'pigz', 'gzip-sync', { kind: 'gzip-multi', members: 5 }, 'none', { kind: 'gzip', level: 1 }, { kind: 'gzip', level: 9 }];

let tmp: Awaited<ReturnType<typeof tempDir>>;
let image: BuiltImage;
let source: OciLayoutSource;

beforeAll(async () => {
  tmp = await tempDir('lazy-build');
  image = await buildImage({ layers: [...KINDS.map((compression) => ({ entries: RECORDS, compression })), { entries: RECORDS, compression: 'zstd' }] });
  await writeLayout(tmp.path, [{ image, tag: 'v1' }]);
  source = new OciLayoutSource(tmp.path, { tag: 'v1' });
}, 60_000);

afterAll(async () => {
  await source?.close();
  await tmp?.cleanup();
});

async function failure(p: Promise<unknown>): Promise<ImageError> {
  const error = await p.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ImageError);
  return error as ImageError;
}

function memorySource(blob: Uint8Array): ImageSource {
  return { reference: 'memory', resolve: () => Promise.reject(new Error('unused')), openBlob: async () => new BufferSource(blob), close: async () => {} };
}

describe('buildIndex + openIndexedLayer', () => {
  it.each(KINDS.map((k, i) => [typeof k === 'string' ? k : `${k.kind}`, i] as const))('%s: entries and every file equal the whole path, reads verified', async (_name, i) => {
    const layer = image.layers[i]!;
    const blob = await source.openBlob(layer.descriptor);
    const built = await buildIndex(blob, layer.descriptor, { span: SPAN, diffId: layer.diffId, readSize: 100_003 });
    await blob.close?.();
    expect(built.stats.checkpoints).toBeGreaterThanOrEqual(Math.floor(layer.tar.length / SPAN / 2));
    expect(built.stats.uncompressedSize).toBe(layer.tar.length);
    expect(built.stats.indexSize).toBe(built.bytes.length);
    if (layer.descriptor.mediaType.endsWith('gzip')) {
      expect(validateCheckpoints(layer.blob, built.index.checkpointPositions().map((_, c) => built.index.checkpoint(c)), layer.tar)).toEqual([]);
    }
    const whole = await openWholeLayer(source, layer.descriptor, { diffId: layer.diffId });
    const lazy = await openIndexedLayer(source, layer.descriptor, built.bytes);
    expect(lazy.mode).toBe('lazy');
    expect(await lazy.entries()).toEqual(await whole.entries());
    for (const e of await whole.entries()) {
      if (e.type !== 'file' || e.size === 0) continue;
      const before = lazy.stats.fetches;
      const got = await lazy.data.readAt(e.dataOffset, e.size);
      expect(lazy.stats.fetches).toBe(before + 1);
      expect(Buffer.from(got).equals(Buffer.from(await whole.data.readAt(e.dataOffset, e.size)))).toBe(true);
    }
    // a small read at an arbitrary offset costs one fetch of at most the spans it touches
    const before = { ...lazy.stats };
    const got = await lazy.data.readAt(300_001, 4096);
    expect(Buffer.from(got).equals(Buffer.from(layer.tar.subarray(300_001, 304_097)))).toBe(true);
    expect(lazy.stats.fetches - before.fetches).toBe(1);
    expect(lazy.stats.bytesFetched - before.bytesFetched).toBeLessThanOrEqual(2 * SPAN + 64 * 1024);
    await lazy.close();
    await whole.close();
  });

  it('refuses zstd layers as not seekable (InvalidArgument) and names the layer', async () => {
    const layer = image.layers[KINDS.length]!;
    const err = await failure(buildIndex(new BufferSource(layer.blob), layer.descriptor));
    expect(err.code).toBe('InvalidArgument');
    expect(err.message).toContain('not seekable');
    expect(err.subject).toBe(layer.descriptor.digest);
  });

  it('fails with DataLoss when the blob does not match the layer digest or the diff_id, or is truncated', async () => {
    for (const i of [0, 4]) {
      const layer = image.layers[i]!;
      const other = { ...layer.descriptor, digest: sha256Digest(new Uint8Array([1])) };
      expect((await failure(buildIndex(new BufferSource(layer.blob), other))).code).toBe('DataLoss');
      expect((await failure(buildIndex(new BufferSource(layer.blob), layer.descriptor, { diffId: sha256Digest(new Uint8Array([2])) }))).code).toBe('DataLoss');
      const cut = layer.blob.subarray(0, layer.blob.length - 3000);
      const desc: Descriptor = { ...layer.descriptor, digest: sha256Digest(cut), size: cut.length };
      expect((await failure(buildIndex(new BufferSource(cut), desc))).code).toBe('DataLoss');
      expect((await failure(buildIndex(new BufferSource(cut), layer.descriptor))).code).toBe('DataLoss');
    }
  });

  it('refuses an index of another layer (InvalidArgument) or with wrong bytes or digest (DataLoss)', async () => {
    const [a, b] = [image.layers[0]!, image.layers[1]!];
    const built = await buildIndex(new BufferSource(a.blob), a.descriptor, { span: SPAN });
    expect((await failure(openIndexedLayer(source, b.descriptor, built.bytes))).code).toBe('InvalidArgument');
    const flipped = built.bytes.slice();
    flipped[200] ^= 1;
    expect((await failure(openIndexedLayer(source, a.descriptor, flipped))).code).toBe('DataLoss');
    expect((await failure(openIndexedLayer(source, a.descriptor, built.bytes, { expectedIndexDigest: sha256Digest(new Uint8Array([3])) }))).code).toBe('DataLoss');
    const ok = await openIndexedLayer(source, a.descriptor, built.bytes, { expectedIndexDigest: sha256Digest(built.bytes) });
    expect(ok.index.entryCount).toBe(openIndex(built.bytes).entryCount);
    await ok.close();
  });

  it.each([[0, 'gnu-gzip'], [4, 'none']] as const)('%s (%s): a corrupt span is DataLoss on read; other spans still read right', async (i, _kind) => {
    const layer = image.layers[i]!;
    const built = await buildIndex(new BufferSource(layer.blob), layer.descriptor, { span: SPAN });
    const positions = built.index.checkpointPositions();
    expect(positions.length).toBeGreaterThan(3);
    const victim = positions[2]!;
    const bad = layer.blob.slice();
    bad[victim.compressedOffset + 10] ^= 0x40;
    const lazy = await openIndexedLayer(memorySource(bad), layer.descriptor, built.bytes);
    const err = await failure(lazy.data.readAt(victim.uncompressedOffset + 5, 100));
    expect(err.code).toBe('DataLoss');
    expect(err.message).toContain('span 2');
    const first = positions[0]!;
    const good = await lazy.data.readAt(first.uncompressedOffset, 1000);
    expect(Buffer.from(good).equals(Buffer.from(layer.tar.subarray(0, 1000)))).toBe(true);
  });
});
