import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageError } from '../src/errors/image-fs-error.js';
import { parsePlatform } from '../src/image/platform.js';
import { OciLayoutSource } from '../src/layout/oci-layout-source.js';
import { parseImageRef } from '../src/layout/image-ref.js';
import {
  buildImage, buildImageIndex, dir, file, jsonBytes, runTool, sha256Digest, type BuiltImage,
} from '../src/testing/builder/index.js';
import { layoutWith, tempDir } from './layout-fixtures.js';

const AMD = { os: 'linux', architecture: 'amd64' };
const ARM = { os: 'linux', architecture: 'arm64', variant: 'v8' };

let tmp: Awaited<ReturnType<typeof tempDir>>;
let twoLayers: BuiltImage;
let amd: BuiltImage;
let arm: BuiltImage;
let n = 0;
const fresh = (): string => join(tmp.path, `l${n++}`);

beforeAll(async () => {
  tmp = await tempDir('layout');
  twoLayers = await buildImage({ layers: [{ entries: [dir('etc'), file('etc/a', 'a')] }, { entries: [file('etc/b', 'b')], compression: 'zstd' }] });
  amd = await buildImage({ layers: [{ entries: [file('arch', 'amd64')] }], platform: AMD });
  arm = await buildImage({ layers: [{ entries: [file('arch', 'arm64')] }], platform: ARM });
});
afterAll(async () => tmp.cleanup());

/** Runs `fn`, expects an ImageError and returns it. */
async function failure(fn: () => Promise<unknown>): Promise<ImageError> {
  const result = await fn().then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  expect(result.ok, 'expected a failure').toBe(false);
  const error = (result as { error: unknown }).error;
  expect(error).toBeInstanceOf(ImageError);
  return error as ImageError;
}

describe('parseImageRef', () => {
  it('splits oci:DIR[:TAG] on the last colon unless a slash follows', () => {
    expect(parseImageRef('oci:./lay:v1')).toEqual({ kind: 'oci', dir: './lay', tag: 'v1' });
    expect(parseImageRef('oci:/tmp/lay')).toEqual({ kind: 'oci', dir: '/tmp/lay' });
    expect(parseImageRef('oci:/tmp/a:b/lay')).toEqual({ kind: 'oci', dir: '/tmp/a:b/lay' });
    expect(parseImageRef('oci:/tmp/a:b/lay:x:1')).toEqual({ kind: 'oci', dir: '/tmp/a:b/lay:x', tag: '1' });
    expect(parseImageRef('oci:/tmp/lay:x/')).toEqual({ kind: 'oci', dir: '/tmp/lay:x/' });
    expect(parseImageRef('127.0.0.1:5000/a/b:t')).toEqual({ kind: 'registry', text: '127.0.0.1:5000/a/b:t' });
  });
  it('rejects empty parts with InvalidArgument', () => {
    for (const bad of ['', 'oci:', 'oci::v1', 'oci:/tmp/lay:']) {
      expect(() => parseImageRef(bad)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    }
  });
});

describe('OciLayoutSource happy paths', () => {
  it('resolves a tagged image and verifies what it reads', async () => {
    const path = await layoutWith(fresh(), [{ image: twoLayers, tag: 'v1' }, { image: amd, tag: 'other' }]);
    const source = new OciLayoutSource(path, { tag: 'v1' });
    const image = await source.resolve();
    expect(image.digest).toBe(twoLayers.descriptor.digest);
    expect(image.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(Buffer.from(image.manifestBytes)).toEqual(Buffer.from(twoLayers.manifestBytes));
    expect(image.layers.map((l) => l.digest)).toEqual(twoLayers.layers.map((l) => l.descriptor.digest));
    expect(image.config.rootfs.diff_ids).toEqual(twoLayers.layers.map((l) => l.diffId));
    expect(image.platform).toEqual(AMD);
    expect(image.indexDigest).toBeUndefined();
    expect(image.reference).toBe(`oci:${path}:v1`);
    const blob = await source.openBlob(image.layers[1]!);
    expect(blob.size).toBe(twoLayers.layers[1]!.blob.length);
    expect(Buffer.from(await blob.readAt(5, 20))).toEqual(Buffer.from(twoLayers.layers[1]!.blob.subarray(5, 25)));
    await expect(blob.readAt(blob.size - 1, 2)).rejects.toThrow(RangeError);
    await source.close();
    await expect(blob.readAt(0, 1)).rejects.toThrow(/closed/);
  });

  it('takes the only image of a layout without a tag', async () => {
    const path = await layoutWith(fresh(), [{ image: twoLayers }]);
    expect((await new OciLayoutSource(path).resolve()).digest).toBe(twoLayers.descriptor.digest);
  });

  it('reads a layout written by umoci (the real tool)', async () => {
    const path = fresh();
    await runTool('umoci', ['init', '--layout', path]);
    await runTool('umoci', ['new', '--image', `${path}:base`]);
    await writeFile(join(tmp.path, 'layer.tar'), twoLayers.layers[0]!.tar);
    await runTool('umoci', ['raw', 'add-layer', '--image', `${path}:base`, '--tag', 'v2', join(tmp.path, 'layer.tar')]);
    const index = JSON.parse(await readFile(join(path, 'index.json'), 'utf8'));
    const entry = index.manifests.find((d: { annotations?: Record<string, string> }) => d.annotations?.['org.opencontainers.image.ref.name'] === 'v2');
    const image = await OciLayoutSource.fromRef(parseImageRef(`oci:${path}:v2`) as never).resolve();
    expect(image.digest).toBe(entry.digest);
    expect(image.layers).toHaveLength(1);
    expect(image.config.rootfs.diff_ids[0]).toBe(twoLayers.layers[0]!.diffId);
    const err = await failure(() => new OciLayoutSource(path).resolve());
    expect(err.code).toBe('InvalidArgument');
    expect(err.message).toMatch(/tags: base, v2/);
  });

  it('follows a tagged multi-platform index and picks the platform', async () => {
    const idx = buildImageIndex([amd, arm]);
    const path = await layoutWith(fresh(), [{ image: idx, tag: 'multi' }]);
    const source = new OciLayoutSource(path, { tag: 'multi' });
    const a = await source.resolve({ platform: AMD });
    expect(a.digest).toBe(amd.descriptor.digest);
    expect(a.indexDigest).toBe(idx.descriptor.digest);
    const b = await source.resolve({ platform: parsePlatform('linux/arm64') });
    expect(b.digest).toBe(arm.descriptor.digest);
    expect(b.platform).toEqual(ARM);
    const err = await failure(() => source.resolve({ platform: parsePlatform('linux/s390x') }));
    expect(err.code).toBe('NotFound');
    expect(err.message).toContain('linux/s390x');
    expect(err.message).toContain('linux/amd64, linux/arm64/v8');
  });

  it('finds a tag inside an untagged nested index (index.json → index → index → manifests)', async () => {
    const inner = buildImageIndex([amd, arm]);
    const outer = buildImageIndex([inner]);
    // Tag the platform manifests inside `inner` by rebuilding it with annotations.
    const tagged = buildImageIndex([], { extra: [{ ...amd.descriptor, annotations: { 'org.opencontainers.image.ref.name': 'deep' } }] });
    tagged.blobs = new Map([...amd.blobs, [tagged.descriptor.digest, tagged.indexBytes]]);
    const path = await layoutWith(fresh(), [{ image: tagged }]);
    const image = await new OciLayoutSource(path, { tag: 'deep' }).resolve();
    expect(image.digest).toBe(amd.descriptor.digest);
    // Two levels of indexes, untagged, no tag in the reference: the only image, platform chosen.
    const path2 = await layoutWith(fresh(), [{ image: outer }]);
    const deep = await new OciLayoutSource(path2).resolve({ platform: ARM });
    expect(deep.digest).toBe(arm.descriptor.digest);
    expect(deep.indexDigest).toBe(outer.descriptor.digest);
  });

  it('reads Docker schema 2 images and manifest lists in a layout', async () => {
    const d1 = await buildImage({ layers: [{ entries: [file('a', '1')] }], flavour: 'docker' });
    const d2 = await buildImage({ layers: [{ entries: [file('a', '2')] }], flavour: 'docker', platform: ARM });
    const list = buildImageIndex([d1, d2]);
    const path = await layoutWith(fresh(), [{ image: list, tag: 'list' }]);
    const image = await new OciLayoutSource(path, { tag: 'list' }).resolve({ platform: AMD });
    expect(image.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(image.digest).toBe(d1.descriptor.digest);
    expect(image.indexDigest).toBe(list.descriptor.digest);
  });

  it('verifies sha512 descriptors', async () => {
    const path = await layoutWith(fresh(), [{ image: twoLayers }]);
    const hex = createHash('sha512').update(twoLayers.manifestBytes).digest('hex');
    await mkdir(join(path, 'blobs', 'sha512'), { recursive: true });
    await writeFile(join(path, 'blobs', 'sha512', hex), twoLayers.manifestBytes);
    const index = { schemaVersion: 2, manifests: [{ ...twoLayers.descriptor, digest: `sha512:${hex}`, annotations: { 'org.opencontainers.image.ref.name': 's' } }] };
    await writeFile(join(path, 'index.json'), JSON.stringify(index));
    expect((await new OciLayoutSource(path, { tag: 's' }).resolve()).digest).toBe(`sha512:${hex}`);
    await writeFile(join(path, 'blobs', 'sha512', hex), Buffer.from(twoLayers.manifestBytes).map((b, i) => (i === 3 ? b ^ 1 : b)));
    expect((await failure(() => new OciLayoutSource(path, { tag: 's' }).resolve())).code).toBe('DataLoss');
  });
});

describe('OciLayoutSource bad input', () => {
  /** A fresh one-image layout tagged v1 and the paths of its blobs. */
  async function layout(): Promise<{ path: string; blob: (digest: string) => string }> {
    const path = await layoutWith(fresh(), [{ image: twoLayers, tag: 'v1' }]);
    return { path, blob: (d) => join(path, 'blobs', 'sha256', d.slice(7)) };
  }
  const resolve = (path: string, tag?: string) => () => new OciLayoutSource(path, tag === undefined ? {} : { tag }).resolve();

  it('a missing directory, oci-layout or index.json is NotFound naming the file', async () => {
    let err = await failure(resolve(join(tmp.path, 'nope')));
    expect(err.code).toBe('NotFound');
    expect(err.message).toContain(join(tmp.path, 'nope'));
    const { path } = await layout();
    await rm(join(path, 'index.json'));
    err = await failure(resolve(path));
    expect(err.code).toBe('NotFound');
    expect(err.message).toContain(join(path, 'index.json'));
    expect(err.hint).toMatch(/skopeo copy|umoci init/);
    await rm(join(path, 'oci-layout'));
    err = await failure(resolve(path));
    expect(err.message).toContain(join(path, 'oci-layout'));
  });

  it('an unsupported imageLayoutVersion or a malformed index.json is InvalidArgument', async () => {
    const { path } = await layout();
    await writeFile(join(path, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}');
    let err = await failure(resolve(path));
    expect([err.code, err.message]).toEqual(['InvalidArgument', expect.stringContaining('imageLayoutVersion "2.0.0"')]);
    await writeFile(join(path, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(join(path, 'index.json'), '{"schemaVersion":2,"manifests":[');
    err = await failure(resolve(path));
    expect([err.code, err.message]).toEqual(['InvalidArgument', expect.stringContaining('index.json is not valid JSON')]);
  });

  it('a missing blob is NotFound naming the file', async () => {
    const { path, blob } = await layout();
    await rm(blob(twoLayers.manifest.config.digest));
    const err = await failure(resolve(path, 'v1'));
    expect(err.code).toBe('NotFound');
    expect(err.message).toContain(blob(twoLayers.manifest.config.digest));
  });

  it('a blob that does not match its digest is DataLoss naming the file', async () => {
    const { path, blob } = await layout();
    const bytes = Buffer.from(twoLayers.manifestBytes);
    bytes[bytes.length - 2] = 0x20;
    await writeFile(blob(twoLayers.descriptor.digest), bytes);
    const err = await failure(resolve(path, 'v1'));
    expect(err.code).toBe('DataLoss');
    expect(err.message).toContain(blob(twoLayers.descriptor.digest));
    expect(err.message).toContain('does not match its digest');
  });

  it('a truncated blob is DataLoss (size checked before reading), for openBlob too', async () => {
    const { path, blob } = await layout();
    await truncate(blob(twoLayers.manifest.config.digest), 10);
    let err = await failure(resolve(path, 'v1'));
    expect(err.code).toBe('DataLoss');
    expect(err.message).toMatch(/truncated: it has 10 bytes/);
    const layer = twoLayers.layers[0]!.descriptor;
    await truncate(blob(layer.digest), layer.size - 1);
    err = await failure(() => new OciLayoutSource(path).openBlob(layer));
    expect(err.code).toBe('DataLoss');
    expect(err.message).toContain(blob(layer.digest));
  });

  it('an unknown media type, an unknown algorithm and a diff_ids mismatch are InvalidArgument naming the descriptor', async () => {
    const { path } = await layout();
    const write = (manifests: unknown[]) => writeFile(join(path, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
    await write([{ ...twoLayers.descriptor, mediaType: 'application/vnd.example.thing+json' }]);
    let err = await failure(resolve(path));
    expect([err.code, err.message]).toEqual(['InvalidArgument', expect.stringContaining("'application/vnd.example.thing+json'")]);
    await write([{ ...twoLayers.descriptor, digest: `md5:${'0'.repeat(32)}`, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }]);
    err = await failure(resolve(path, 'v1'));
    expect([err.code, err.message]).toEqual(['InvalidArgument', expect.stringMatching(/index\.json manifests\[0\]\) uses digest algorithm 'md5'/)]);
    await write([{ ...twoLayers.descriptor, digest: 'sha256:../../../etc/passwd' }]);
    expect((await failure(resolve(path))).code).toBe('InvalidArgument');

    // A manifest whose config lists one diff_id for two layers.
    const config = { ...twoLayers.config, rootfs: { type: 'layers', diff_ids: [twoLayers.layers[0]!.diffId] } };
    const configBytes = jsonBytes(config);
    const manifest = { ...twoLayers.manifest, config: { ...twoLayers.manifest.config, digest: sha256Digest(configBytes), size: configBytes.length } };
    const manifestBytes = jsonBytes(manifest);
    await writeFile(join(path, 'blobs', 'sha256', sha256Digest(configBytes).slice(7)), configBytes);
    await writeFile(join(path, 'blobs', 'sha256', sha256Digest(manifestBytes).slice(7)), manifestBytes);
    await write([{ mediaType: twoLayers.descriptor.mediaType, digest: sha256Digest(manifestBytes), size: manifestBytes.length }]);
    err = await failure(resolve(path));
    expect([err.code, err.message]).toEqual(['InvalidArgument', expect.stringMatching(/lists 1 diff_ids but the manifest has 2 layers/)]);
  });

  it('an absent tag is NotFound listing the tags; several images and no tag is InvalidArgument listing them', async () => {
    const path = await layoutWith(fresh(), [{ image: twoLayers, tag: 'v1' }, { image: amd, tag: 'v2' }]);
    let err = await failure(resolve(path, 'v3'));
    expect([err.code, err.message]).toEqual(['NotFound', expect.stringContaining("no image tagged 'v3' (tags: v1, v2)")]);
    expect(err.message).toContain(join(path, 'index.json'));
    err = await failure(resolve(path));
    expect([err.code, err.message]).toEqual(['InvalidArgument', expect.stringContaining('several images and the reference names none (tags: v1, v2)')]);
    expect(err.hint).toContain('oci:DIR:TAG');
    const empty = await layoutWith(fresh(), []);
    expect((await failure(resolve(empty))).code).toBe('NotFound');
  });
});
