// Issue 13: one regression test per bug the fuzzers (test/fuzz/) or the bounds review found, each
// named after it. Before the fixes each of these threw an untyped error (TypeError, RangeError),
// returned numbers that had lost bits, or let a size field drive an allocation.
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ImageFsError } from '../src/errors/image-fs-error.js';
import { gunzipPrefix } from '../src/estargz/chunk-reader.js';
import { tocEntryToTarEntry, tocToLayout } from '../src/estargz/toc-entries.js';
import { encodeIndex } from '../src/layer-index/encode.js';
import { checkIndexBounds } from '../src/layer-index/bounds.js';
import { withTrailer } from '../src/layer-index/format.js';
import { IndexStore } from '../src/index-store/index-store.js';
import { MemoryIndexCache } from '../src/index-store/local-index-cache.js';
import { openIndex } from '../src/layer-index/layer-index.js';
import { buildIndex } from '../src/layer/build-index.js';
import { openLayerIndex } from '../src/layer/indexed-layer.js';
import { fetchForeignBlob } from '../src/layer/fetch-blob.js';
import { identifyManifest } from '../src/registry/manifest.js';
import { BufferSource } from '../src/source/read-at.js';
import type { TarEntry } from '../src/tar/entry.js';
import { compress, dir, file, writeTar } from '../src/testing/builder/index.js';
import { parseZstdChunkedFooter } from '../src/zstd-chunked/footer.js';
import { zstdTocToLayout } from '../src/zstd-chunked/toc-entries.js';

const D = (c: string): string => `sha256:${c.repeat(64)}`;
const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

function typed(fn: () => unknown): ImageFsError {
  try {
    fn();
  } catch (error) {
    if (ImageFsError.is(error)) return error;
    throw error;
  }
  throw new Error('expected a typed error');
}

async function indexOf(entries: Parameters<typeof writeTar>[0]): Promise<Uint8Array> {
  const blob = await compress(writeTar(entries), 'gzip');
  const descriptor = { mediaType: GZIP, digest: `sha256:${createHash('sha256').update(blob).digest('hex')}`, size: blob.length };
  return (await buildIndex(new BufferSource(blob), descriptor, { span: 16384 })).bytes;
}

function section(bytes: Uint8Array, i: number): [number, number] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return [v.getUint32(40 + 8 * i, true), v.getUint32(44 + 8 * i, true)];
}

const fileEntry = (over: Partial<TarEntry>): TarEntry => ({ path: 'f', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, mtimeNsec: 0, size: 10, dataOffset: 512, ...over });

describe('fuzz regressions: the layer index', () => {
  it('fuzz-index-table-names-missing-entry: a path table naming entry 999 of 4 is DataLoss, not a RangeError', async () => {
    const bytes = await indexOf([dir('d'), file('d/a', 'a'), file('d/b', 'b')]);
    const body = bytes.slice(0, bytes.length - 32);
    const [offset, length] = section(body, 4); // PathTable: P hashes, then P entry indices
    const view = new DataView(body.buffer);
    for (let at = offset + length / 2; at < offset + length; at += 4) view.setUint32(at, 999, true);
    const idx = openIndex(withTrailer(body));
    const error = typed(() => idx.lookup('d/a'));
    expect(error.code).toBe('DataLoss');
    expect(error.message).toMatch(/tables name entry 999/);
  });

  it('fuzz-index-entry-data-outside-layer: an entry whose data lies past the layer is DataLoss before any read (and a stored one is dropped)', async () => {
    const index = (entries: TarEntry[], checkpoints = [{ compressedOffset: 10, bitOffset: 0, uncompressedOffset: 0, memberStart: true, window: new Uint8Array(0) }]): Uint8Array => encodeIndex({
      layer: { digest: D('a'), compressedSize: 100, mediaType: GZIP, uncompressedSize: 2048 },
      entries, checkpoints, spanDigests: checkpoints.map(() => new Uint8Array(32)),
    });
    const bad = index([fileEntry({ dataOffset: 512 }), fileEntry({ path: 'g', dataOffset: 1 << 30, size: 1 << 20 })]);
    const error = typed(() => checkIndexBounds(openIndex(bad)));
    expect(error.code).toBe('DataLoss');
    expect(error.message).toMatch(/entry 1 \('g'\) has data at 1073741824/);
    expect(() => checkIndexBounds(openIndex(index([fileEntry({ dataOffset: 512 })])))).not.toThrow();
    // Bytes handed straight to openLayerIndex (openIndexedLayer's callers) are checked the same way.
    const layer = { mediaType: GZIP, digest: D('a'), size: 100 };
    expect(typed(() => openLayerIndex(layer, bad)).code).toBe('DataLoss');
    expect(() => openLayerIndex(layer, index([fileEntry({ dataOffset: 512 })]))).not.toThrow();
    // A checkpoint past the layer, and the IndexStore dropping such a cached index.
    const pastEnd = index([], [{ compressedOffset: 10, bitOffset: 0, uncompressedOffset: 0, memberStart: true, window: new Uint8Array(0) }, { compressedOffset: 50, bitOffset: 0, uncompressedOffset: 4096, memberStart: true, window: new Uint8Array(0) }]);
    expect(typed(() => checkIndexBounds(openIndex(pastEnd))).message).toMatch(/checkpoint 1 .* lies past the layer/);
    const cache = new MemoryIndexCache();
    await cache.put(D('a'), bad);
    const dropped: string[] = [];
    const found = await new IndexStore({ cache, onDroppedEntry: (d) => dropped.push(d) }).find(D('f'), { mediaType: GZIP, digest: D('a'), size: 100 });
    expect(found).toBeUndefined();
    expect(dropped).toEqual([D('a')]);
    expect(cache.size).toBe(0);
  });

  it('index-span-over-bound: a span longer than MAX_SPAN_BYTES (decoded whole when cached) is DataLoss', () => {
    const bytes = encodeIndex({
      layer: { digest: D('a'), compressedSize: 100, mediaType: GZIP, uncompressedSize: 2 ** 40 },
      entries: [],
      checkpoints: [{ compressedOffset: 10, bitOffset: 0, uncompressedOffset: 0, memberStart: true, window: new Uint8Array(0) }],
      spanDigests: [new Uint8Array(32)],
    });
    expect(typed(() => checkIndexBounds(openIndex(bytes))).message).toMatch(/the span after checkpoint 0 is 1099511627776 bytes, over the 1073741824/);
  });

  it('checkpoint-window-bomb: a window is inflated no further than its declared size', () => {
    const raw = new Uint8Array(randomBytes(32768)); // incompressible: the packed window is ~32 KiB
    const bytes = encodeIndex({
      layer: { digest: D('a'), compressedSize: 100, mediaType: GZIP, uncompressedSize: 1 << 20 },
      entries: [],
      checkpoints: [{ compressedOffset: 10, bitOffset: 0, uncompressedOffset: 0, window: raw }],
      spanDigests: [new Uint8Array(32)],
    });
    // Replace the packed window (same length) by a deflate stream of 30 MB of zeros.
    const [wOff, wLen] = section(bytes, 8);
    const bomb = deflateRawSync(new Uint8Array(30 << 20), { level: 9 });
    expect(bomb.length).toBeLessThanOrEqual(wLen);
    const body = bytes.slice(0, bytes.length - 32);
    body.fill(0, wOff, wOff + wLen);
    body.set(bomb, wOff);
    const error = typed(() => openIndex(withTrailer(body)).window(0));
    expect(error.code).toBe('DataLoss');
    expect((error.cause as { code?: string }).code).toBe('ERR_BUFFER_TOO_LARGE');
  });
});

describe('fuzz regressions: manifests from a registry', () => {
  const url = 'http://127.0.0.1/v2/x/manifests/y';
  const index = (manifests: unknown[]): Uint8Array => new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
  const good = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D('b'), size: 10 };

  it('fuzz-registry-index-entry-not-descriptor: null in an index manifests list is InvalidArgument', () => {
    expect(typed(() => identifyManifest(index([good, null]), undefined, url)).message).toMatch(/manifests\[1\] of the image index is not a descriptor object/);
  });

  it('fuzz-registry-index-platform-null: a null platform is InvalidArgument, not a TypeError in platform selection', () => {
    expect(typed(() => identifyManifest(index([{ ...good, platform: null }]), undefined, url)).code).toBe('InvalidArgument');
  });

  it('fuzz-registry-manifest-layer-null: a null layer or a config without a size is InvalidArgument', () => {
    const manifest = (config: unknown, layers: unknown[]): Uint8Array => new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers }));
    expect(typed(() => identifyManifest(manifest(good, [null]), undefined, url)).message).toMatch(/layers\[0\]/);
    expect(typed(() => identifyManifest(manifest({ mediaType: 'x', digest: D('c') }, []), undefined, url)).message).toMatch(/config/);
  });
});

describe('fuzz regressions: eStargz and zstd:chunked TOCs', () => {
  it('fuzz-estargz-toc-null-entry: null entries and a missing entries list are InvalidArgument', () => {
    expect(typed(() => tocToLayout({ version: 1, entries: [null as never] }, 100, { subject: 's' })).code).toBe('InvalidArgument');
    expect(typed(() => tocToLayout({ version: 1 } as never, 100, { subject: 's' })).code).toBe('InvalidArgument');
    expect(typed(() => zstdTocToLayout({ version: 1 } as never, { subject: 's', tocOffset: 100 })).code).toBe('InvalidArgument');
  });

  it('fuzz-toc-linkname-not-string: a symlink whose linkName is a number is InvalidArgument', () => {
    expect(typed(() => tocEntryToTarEntry({ type: 'symlink', name: 'l', linkName: 7 as never }, 's')).message).toMatch(/no string linkName/);
    expect(typed(() => tocEntryToTarEntry({ type: 'hlink', name: 'h', linkName: null as never }, 's')).code).toBe('InvalidArgument');
  });

  it('toc-type-from-object-prototype: types such as constructor or __proto__ are unknown types', () => {
    expect(typed(() => tocEntryToTarEntry({ type: 'constructor' as never, name: 'x' }, 's')).message).toMatch(/unknown type 'constructor'/);
    expect(typed(() => tocEntryToTarEntry({ type: 'toString' as never, name: 'x' }, 's')).code).toBe('InvalidArgument');
  });

  it('toc-xattr-value-not-text: an xattr whose value is not base64 text is InvalidArgument', () => {
    expect(typed(() => tocEntryToTarEntry({ type: 'dir', name: 'd', xattrs: { 'user.a': 5 as never } }, 's')).code).toBe('InvalidArgument');
    expect(tocEntryToTarEntry({ type: 'dir', name: 'd', xattrs: { 'user.a': 'YQ==' } }, 's').xattrs).toEqual({ 'user.a': new Uint8Array([0x61]) });
  });

  it('fuzz-zstd-footer-offset-over-2^53: a footer field past 2^53 is no footer (not a number that lost bits)', () => {
    const b = new Uint8Array(48);
    const v = new DataView(b.buffer);
    v.setUint32(0, 0x184d2a50, true);
    v.setUint32(4, 40, true);
    v.setBigUint64(8, 2n ** 60n + 1n, true);
    v.setBigUint64(16, 100n, true);
    v.setBigUint64(24, 100n, true);
    v.setBigUint64(32, 1n, true);
    b.set(new TextEncoder().encode('GnUlInUx'), 40);
    expect(parseZstdChunkedFooter(b)).toBeUndefined();
    v.setBigUint64(8, 1000n, true);
    expect(parseZstdChunkedFooter(b)).toEqual({ offset: 1000, length: 100, lengthUncompressed: 100, type: 1 });
  });

  it('fuzz-toc-sizes-past-2^53: files adding up past 2^53, or a chunk over the chunk bound, are InvalidArgument', () => {
    const big = 2 ** 52;
    const toc = { version: 1, entries: [
      { type: 'reg', name: 'a', size: big, offset: 100, endOffset: 200, digest: D('a'), chunkSize: big / 2, chunkDigest: D('a') },
      { type: 'chunk', name: 'a', offset: 150, chunkOffset: big / 2, chunkDigest: D('b') },
    ] };
    expect(typed(() => zstdTocToLayout(toc as never, { subject: 's', tocOffset: 300 })).message).toMatch(/over the 536870912 a chunk may hold/);
    const estargz = { version: 1, entries: [{ type: 'reg', name: 'a', size: 2 ** 40, offset: 10, chunkDigest: D('a') }] };
    expect(typed(() => tocToLayout(estargz as never, 300, { subject: 's' })).code).toBe('InvalidArgument');
  });

  it('estargz-chunk-gunzip-bomb: a chunk member is inflated only as far as the chunk', async () => {
    const bomb = gzipSync(new Uint8Array(64 << 20));
    const out = await gunzipPrefix(bomb, 100);
    expect(out.length).toBeGreaterThanOrEqual(100);
    expect(out.length).toBeLessThanOrEqual(100 + (64 << 10));
    expect(await gunzipPrefix(gzipSync(Buffer.from('short')), 100)).toEqual(new Uint8Array(Buffer.from('short')));
  });
});

describe('bounds regressions: sizes checked before they allocate', () => {
  it('foreign-url-size-before-allocation: a URL whose Content-Length differs from the descriptor is refused before allocating the descriptor size', async () => {
    const server = createServer((_req, res) => res.writeHead(200, { 'content-length': '5' }).end('hello'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const descriptor = { mediaType: GZIP, digest: D('d'), size: 2 ** 45, urls: [`http://127.0.0.1:${port}/layer`] };
      const error = await fetchForeignBlob(descriptor).then(() => undefined, (e: unknown) => e);
      expect(ImageFsError.is(error) && error.code).toBe('Unavailable');
      expect((error as Error).message).toMatch(/serves 5 bytes, the descriptor says 35184372088832/);
    } finally {
      server.close();
    }
  });
});
