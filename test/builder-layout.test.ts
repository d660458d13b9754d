import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../src/image/media-types.js';
import {
  buildImage,
  buildImageIndex,
  buildSchema1Manifest,
  compareTrees,
  dir,
  EMPTY_LAYER_DIGEST,
  EMPTY_LAYER_GZIP,
  expectedTree,
  file,
  hardlink,
  kitchenSinkLayers,
  readDiskTree,
  REF_NAME,
  runTool,
  sha256Digest,
  skopeoSchema1,
  symlink,
  whiteout,
  writeDirImage,
  writeLayout,
  type ImageSpec,
} from '../src/testing/builder/index.js';

const spec = (): ImageSpec => ({
  layers: [
    { entries: [dir('etc'), file('etc/os-release', 'ID=test\n'), file('bin/blob', { seed: 5, size: 70_000 })], compression: 'gzip-sync' },
    { entries: [file('etc/hostname', 'box\n'), symlink('etc/h', 'hostname')], compression: { kind: 'gzip-multi', members: 3 } },
    { entries: [whiteout('etc/os-release')], compression: 'none' },
  ],
  config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['/bin/sh'] },
  annotations: { 'org.example.test': 'yes' },
});

async function skopeoJson(args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await runTool('skopeo', args);
  return JSON.parse(Buffer.from(stdout).toString('utf8')) as Record<string, unknown>;
}

describe('buildImage', () => {
  it('is deterministic: the same spec gives the same manifest digest', async () => {
    const a = await buildImage(spec());
    const b = await buildImage(spec());
    expect(a.descriptor.digest).toBe(b.descriptor.digest);
    expect(a.descriptor.digest).toBe(sha256Digest(a.manifestBytes));
    const c = await buildImage({ ...spec(), config: { Env: ['X=1'] } });
    expect(c.descriptor.digest).not.toBe(a.descriptor.digest);
  });

  it('sets diff_ids to the sha256 of the uncompressed tars and digests of the blobs', async () => {
    const img = await buildImage(spec());
    expect(img.config.rootfs.diff_ids).toHaveLength(3);
    img.layers.forEach((l, i) => {
      expect(img.config.rootfs.diff_ids[i]).toBe(sha256Digest(l.tar));
      expect(l.descriptor.digest).toBe(sha256Digest(l.blob));
      expect(l.descriptor.size).toBe(l.blob.length);
      expect(img.blobs.get(l.descriptor.digest)).toBe(l.blob);
    });
    expect(Buffer.from(gunzipSync(img.layers[0]!.blob)).equals(Buffer.from(img.layers[0]!.tar))).toBe(true);
    expect(img.manifest.layers.map((l) => l.mediaType)).toEqual([MediaType.OCI_LAYER_GZIP, MediaType.OCI_LAYER_GZIP, MediaType.OCI_LAYER]);
    expect(img.manifest.config.digest).toBe(sha256Digest(img.configBytes));
    expect(img.config.config).toEqual({ Env: ['PATH=/usr/bin:/bin'], Cmd: ['/bin/sh'] });
  });

  it('uses a ready blob verbatim (the empty layer GKE refuses)', async () => {
    const img = await buildImage({ layers: [{ blob: EMPTY_LAYER_GZIP, compression: 'gzip' }, { entries: [file('a', 'a')] }] });
    expect(img.layers[0]!.descriptor.digest).toBe(EMPTY_LAYER_DIGEST);
    expect(img.layers[0]!.diffId).toBe(sha256Digest(new Uint8Array(1024)));
  });
});

describe('expectedTree', () => {
  it('applies whiteouts, opaque markers, hardlinks and replacements as the OCI spec says', () => {
    const t = expectedTree([
      [dir('a'), file('a/x', 'x'), file('a/y', 'y'), dir('b'), file('b/z', 'z')],
      [hardlink('a/x2', 'a/x'), whiteout('a/y'), file('b', 'now a file')],
    ]);
    expect([...t.keys()].sort()).toEqual(['a', 'a/x', 'a/x2', 'b']);
    expect(t.get('a/x2')!.inode).toBe(t.get('a/x')!.inode);
    expect(t.get('b')!.type).toBe('file');
    expect(() => expectedTree([[hardlink('h', 'missing')]])).toThrow(/missing/);
  });
});

describe('OCI layouts read by skopeo and umoci', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'builder-layout-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('writes oci-layout, blobs and index.json with ref names; merges later writes', async () => {
    const layout = join(tmp, 'plain');
    const img = await buildImage(spec());
    const w = await writeLayout(layout, [{ image: img, tag: 'v1' }]);
    expect(w.blobsWritten).toBe(img.blobs.size);
    expect(JSON.parse(await readFile(join(layout, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const blobs = await readdir(join(layout, 'blobs', 'sha256'));
    for (const d of img.blobs.keys()) expect(blobs).toContain(d.slice(7));
    const other = await buildImage({ layers: [{ entries: [file('b', 'b')] }] });
    await writeLayout(layout, [{ image: other, tag: 'v2' }]);
    await writeLayout(layout, [{ image: other, tag: 'v1' }]);
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations: Record<string, string> }> };
    expect(index.manifests.map((m) => [m.annotations[REF_NAME], m.digest])).toEqual([
      ['v2', other.descriptor.digest],
      ['v1', other.descriptor.digest],
    ]);
    const inspected = await skopeoJson(['inspect', `oci:${layout}:v2`]);
    expect(inspected.Digest).toBe(other.descriptor.digest);
  });

  it('serves a nested multi-platform index that skopeo resolves per architecture', async () => {
    const layout = join(tmp, 'multi');
    const amd = await buildImage({ layers: [{ entries: [file('arch', 'amd64')] }] });
    const arm = await buildImage({ layers: [{ entries: [file('arch', 'arm64')] }], platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    const idx = buildImageIndex([amd, arm], { annotations: { 'org.example': 'multi' } });
    await writeLayout(layout, [{ image: idx, tag: 'multi' }]);
    const top = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ mediaType: string; digest: string }> };
    expect(top.manifests[0]).toMatchObject({ mediaType: MediaType.OCI_INDEX, digest: idx.descriptor.digest });
    const raw = await skopeoJson(['inspect', '--raw', `oci:${layout}:multi`]);
    expect(raw.manifests).toEqual(idx.index.manifests);
    for (const [img, arch] of [[amd, 'amd64'], [arm, 'arm64']] as const) {
      const got = await skopeoJson(['--override-os', 'linux', '--override-arch', arch, 'inspect', `oci:${layout}:multi`]);
      // skopeo reports the digest of the reference (the index) and the chosen image's layers.
      expect(got.Digest).toBe(idx.descriptor.digest);
      expect(got.Layers).toEqual([img.layers[0]!.descriptor.digest]);
      expect(got.Architecture).toBe(arch);
    }
  });

  it('makes a Docker schema 2 image that skopeo reads (dir: transport) and converts to OCI for umoci', async () => {
    const layers = kitchenSinkLayers();
    const img = await buildImage({ flavour: 'docker', layers: layers.map((entries) => ({ entries, compression: 'gzip' as const })) });
    expect(img.manifest.mediaType).toBe(MediaType.DOCKER_MANIFEST);
    expect(img.manifest.config.mediaType).toBe(MediaType.DOCKER_CONFIG);
    expect(new Set(img.manifest.layers.map((l) => l.mediaType))).toEqual(new Set([MediaType.DOCKER_LAYER_GZIP]));
    const d = join(tmp, 'docker-dir');
    await writeDirImage(d, img);
    const raw = await skopeoJson(['inspect', '--raw', `dir:${d}`]);
    expect(raw.mediaType).toBe(MediaType.DOCKER_MANIFEST);
    const info = await skopeoJson(['inspect', `dir:${d}`]);
    expect(info.Layers).toEqual(img.manifest.layers.map((l) => l.digest));
    const layout = join(tmp, 'from-docker');
    await runTool('skopeo', ['copy', '--quiet', '--insecure-policy', '--format', 'oci', `dir:${d}`, `oci:${layout}:conv`]);
    const bundle = join(tmp, 'docker-bundle');
    await runTool('umoci', ['unpack', '--image', `${layout}:conv`, bundle]);
    expect(compareTrees(expectedTree(layers), await readDiskTree(join(bundle, 'rootfs')))).toEqual([]);
    const list = buildImageIndex([img]);
    expect(list.index.mediaType).toBe(MediaType.DOCKER_LIST);
  });

  it('makes schema 1 manifests: signed through skopeo, unsigned by the builder', async () => {
    const layout = join(tmp, 's1-layout');
    const img = await buildImage(spec());
    await writeLayout(layout, [{ image: img, tag: 'v1' }]);
    const signed = await skopeoSchema1(layout, 'v1', join(tmp, 's1-signed'));
    expect(signed.manifest.schemaVersion).toBe(1);
    expect(signed.manifest.fsLayers).toHaveLength(3);
    expect(Array.isArray(signed.manifest.signatures)).toBe(true);
    for (const { blobSum } of signed.manifest.fsLayers) expect(sha256Digest(signed.blobs.get(blobSum)!)).toBe(blobSum);

    const unsigned = buildSchema1Manifest(img, { name: 'test/s1', tag: 'v1' });
    expect(unsigned.manifest.fsLayers.map((l) => l.blobSum)).toEqual(img.layers.map((l) => l.descriptor.digest).reverse());
    const d = join(tmp, 's1-unsigned');
    await runTool('mkdir', [d]);
    await writeFile(join(d, 'manifest.json'), unsigned.manifestBytes);
    await writeFile(join(d, 'version'), 'Directory Transport Version: 1.1\n');
    for (const [digest, bytes] of unsigned.blobs) await writeFile(join(d, digest.slice(7)), bytes);
    const info = await skopeoJson(['inspect', `dir:${d}`]);
    expect(info.Layers).toEqual(img.layers.map((l) => l.descriptor.digest));
    expect(info.Architecture).toBe('amd64');
  });
});
