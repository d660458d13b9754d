import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageError } from '../src/errors/image-fs-error.js';
import { MediaType } from '../src/image/media-types.js';
import type { Descriptor, ImageSource } from '../src/image/types.js';
import { openWholeLayer } from '../src/layer/whole-layer.js';
import { OciLayoutSource } from '../src/layout/oci-layout-source.js';
import { BufferSource } from '../src/source/read-at.js';
import {
  buildImage, compress, dir, file, hardlink, runTool, sha256Digest, symlink, writeTar, type Compression, type TarRecord,
} from '../src/testing/builder/index.js';
import { layoutWith, tempDir } from './layout-fixtures.js';

const RECORDS: TarRecord[] = [
  dir('usr'),
  dir('usr/bin'),
  file('usr/bin/tool', { seed: 11, size: 200_000 }, { mode: 0o755 }),
  file('usr/share/doc.txt', { seed: 12, size: 70_000, kind: 'text' }),
  hardlink('usr/bin/tool2', 'usr/bin/tool'),
  symlink('usr/bin/t', 'tool'),
  file('cap', 'x', { xattrs: { 'security.capability': new Uint8Array([1, 2, 3]) } }),
];
const TAR = writeTar(RECORDS);

/** An in-memory ImageSource serving the given blobs. */
function memorySource(blobs: Map<string, Uint8Array>): ImageSource {
  return {
    reference: 'memory',
    resolve: () => Promise.reject(new Error('not used')),
    openBlob: async (d: Descriptor) => new BufferSource(blobs.get(d.digest)!),
    close: async () => {},
  };
}

function layerOf(blob: Uint8Array, mediaType: string): { source: ImageSource; descriptor: Descriptor } {
  const descriptor = { mediaType, digest: sha256Digest(blob), size: blob.length };
  return { source: memorySource(new Map([[descriptor.digest, blob]])), descriptor };
}

async function failure(p: Promise<unknown>): Promise<ImageError> {
  const error = await p.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ImageError);
  return error as ImageError;
}

describe('openWholeLayer', () => {
  const cases: Array<[string, Compression, string]> = [
    ['gzip (node:zlib)', 'gzip', MediaType.OCI_LAYER_GZIP],
    ['gzip, several members', { kind: 'gzip-multi', members: 5 }, MediaType.OCI_LAYER_GZIP],
    ['gzip with pgzip-style sync flushes', 'gzip-sync', MediaType.DOCKER_LAYER_GZIP],
    ['GNU gzip', 'gnu-gzip', MediaType.OCI_LAYER_GZIP],
    ['zstd (zstd CLI)', 'zstd', MediaType.OCI_LAYER_ZSTD],
    ['uncompressed', 'none', MediaType.OCI_LAYER],
  ];
  for (const [name, compression, mediaType] of cases) {
    it(`reads ${name} and serves the tar verbatim`, async () => {
      const blob = await compress(TAR, compression);
      const { source, descriptor } = layerOf(blob, mediaType);
      const layer = await openWholeLayer(source, descriptor, { diffId: sha256Digest(TAR) });
      expect(layer.mode).toBe('whole');
      expect(layer.descriptor).toBe(descriptor);
      expect(layer.data.size).toBe(TAR.length);
      expect(Buffer.from(await layer.data.readAt(0, TAR.length)).equals(Buffer.from(TAR))).toBe(true);
      const entries = await layer.entries();
      expect(entries.map((e) => `${e.type}:${e.path}`)).toEqual(RECORDS.map((r) => `${r.type}:${r.path}`));
      const tool = entries.find((e) => e.path === 'usr/bin/tool')!;
      expect(Buffer.from(await layer.data.readAt(tool.dataOffset, tool.size)).equals(Buffer.from(RECORDS[2]!.data!))).toBe(true);
      expect(entries.find((e) => e.path === 'cap')!.xattrs!['security.capability']).toEqual(new Uint8Array([1, 2, 3]));
      await layer.close();
    });
  }

  it('multi-member gzip equals what node:zlib and gzip -dc give (oracles)', async () => {
    const blob = await compress(TAR, { kind: 'gzip-multi', members: 3 });
    const { source, descriptor } = layerOf(blob, MediaType.OCI_LAYER_GZIP);
    const layer = await openWholeLayer(source, descriptor);
    const viaGzip = (await runTool('gzip', ['-dc'], { input: blob })).stdout;
    expect(Buffer.from(await layer.data.readAt(0, layer.data.size)).equals(Buffer.from(viaGzip))).toBe(true);
    expect(Buffer.from(gunzipSync(blob)).equals(Buffer.from(viaGzip))).toBe(true);
  });

  it('a blob that does not match its digest is DataLoss naming the layer, before decompressing', async () => {
    const blob = await compress(TAR, 'gzip');
    const { source, descriptor } = layerOf(blob, MediaType.OCI_LAYER_GZIP);
    blob[100] ^= 0xff;
    const err = await failure(openWholeLayer(source, descriptor));
    expect(err.code).toBe('DataLoss');
    expect(err.message).toContain(`layer ${descriptor.digest} does not match its digest`);
  });

  it('corrupt or truncated gzip and zstd are DataLoss naming the layer', async () => {
    const gz = await compress(TAR, 'gzip');
    const zs = await compress(TAR, 'zstd');
    const bad: Array<[Uint8Array, string]> = [
      [gz.subarray(0, gz.length - 100), MediaType.OCI_LAYER_GZIP],
      [Uint8Array.from(gz, (b, i) => (i === 40 ? b ^ 0x55 : b)), MediaType.OCI_LAYER_GZIP],
      [zs.subarray(0, zs.length - 200), MediaType.OCI_LAYER_ZSTD],
      [Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]), MediaType.OCI_LAYER_GZIP],
    ];
    for (const [blob, mediaType] of bad) {
      const { source, descriptor } = layerOf(blob, mediaType);
      const err = await failure(openWholeLayer(source, descriptor));
      expect(err.code).toBe('DataLoss');
      expect(err.message).toContain(`layer ${descriptor.digest}`);
    }
  });

  it('a truncated tar inside valid gzip is DataLoss naming the layer', async () => {
    const blob = await compress(TAR.subarray(0, 1024 + 300), 'gzip');
    const { source, descriptor } = layerOf(blob, MediaType.OCI_LAYER_GZIP);
    const err = await failure(openWholeLayer(source, descriptor));
    expect(err.code).toBe('DataLoss');
    expect(err.message).toContain(descriptor.digest);
  });

  it('a diff_id mismatch is DataLoss; a media type it cannot read is InvalidArgument', async () => {
    const { source, descriptor } = layerOf(await compress(TAR, 'gzip'), MediaType.OCI_LAYER_GZIP);
    let err = await failure(openWholeLayer(source, descriptor, { diffId: sha256Digest(new Uint8Array(1)) }));
    expect([err.code, err.message]).toEqual(['DataLoss', expect.stringContaining(`uncompressed layer ${descriptor.digest} (diff_id)`)]);
    err = await failure(openWholeLayer(source, { ...descriptor, mediaType: `${MediaType.OCI_LAYER_GZIP}+encrypted` }));
    expect([err.code, err.hint]).toEqual(['InvalidArgument', expect.stringContaining('decrypt')]);
    err = await failure(openWholeLayer(source, { ...descriptor, mediaType: 'application/octet-stream' }));
    expect([err.code, err.message]).toEqual(['InvalidArgument', expect.stringContaining("'application/octet-stream'")]);
  });

  it('rejects an aborted signal', async () => {
    const { source, descriptor } = layerOf(await compress(TAR, 'gzip'), MediaType.OCI_LAYER_GZIP);
    const err = await failure(openWholeLayer(source, descriptor, { signal: AbortSignal.abort() }));
    expect(err.code).toBe('Aborted');
  });
});

describe('openWholeLayer over an OCI layout', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    tmp = await tempDir('whole');
  });
  afterAll(async () => tmp.cleanup());

  it('reads every layer of a layout image against its config diff_ids', async () => {
    const image = await buildImage({ layers: [{ entries: RECORDS, compression: 'zstd' }, { entries: [file('b', 'b')], compression: 'none' }] });
    const path = await layoutWith(`${tmp.path}/l`, [{ image }]);
    const source = new OciLayoutSource(path);
    const resolved = await source.resolve();
    for (const [i, d] of resolved.layers.entries()) {
      const layer = await openWholeLayer(source, d, { diffId: resolved.config.rootfs.diff_ids[i]! });
      expect(Buffer.from(await layer.data.readAt(0, layer.data.size)).equals(Buffer.from(image.layers[i]!.tar))).toBe(true);
    }
    await source.close();
  });
});

describe('whole layer entries after the merge', () => {
  it('hands the gathered entries over once, then parses them again from the verified tar', async () => {
    const blob = await compress(TAR, 'gzip');
    const { source, descriptor } = layerOf(blob, MediaType.OCI_LAYER_GZIP);
    const layer = await openWholeLayer(source, descriptor);
    const first = await layer.entries();
    const second = await layer.entries();
    expect(second).not.toBe(first);
    expect(second).toEqual(first);
    expect(first.map((e) => e.path)).toEqual(RECORDS.map((r) => r.path));
    await layer.close();
  });
});
