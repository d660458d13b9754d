// The index store against a real registry (CNCF distribution 2.8, no referrers API): the artifact
// manifest's shape, the referrers tag, replacing an older index, cache-first lookups.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageFsError } from '../src/errors/image-fs-error.js';
import { MediaType } from '../src/image/media-types.js';
import type { ImageIndex, ImageManifest } from '../src/image/types.js';
import {
  EMPTY_DESCRIPTOR, IMAGEFS_INDEX_ARTIFACT_TYPE, IndexStore, LAYER_DIGEST_ANNOTATION, LAYER_INDEX_MEDIA_TYPE, MemoryIndexCache, parseIndexManifest, pushRegistryIndexes,
} from '../src/index-store/index.js';
import { buildIndex } from '../src/layer/build-index.js';
import { TRAILER_SIZE, withTrailer } from '../src/layer-index/format.js';
import type { ImageFsEvent } from '../src/open/events.js';
import { openImage } from '../src/open/open-image.js';
import { referrersTag } from '../src/registry/referrers.js';
import { RegistrySource } from '../src/registry/registry-source.js';
import { BufferSource } from '../src/source/read-at.js';
import { buildImage, dir, file, writeLayout, type BuiltImage } from '../src/testing/builder/index.js';
import { pushLayout, startFaultProxy, startRegistry, type FaultProxy, type TestRegistry } from '../src/testing/registry/index.js';
import { tempDir } from './layout-fixtures.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let image: BuiltImage;
let reg: TestRegistry;
let proxy: FaultProxy;
let indexes: Array<{ layer: BuiltImage['layers'][number]['descriptor']; bytes: Uint8Array }>;

beforeAll(async () => {
  tmp = await tempDir('index-store');
  image = await buildImage({
    layers: [
      { entries: [dir('a'), file('a/x', { seed: 1, size: 100_000 })], compression: 'gnu-gzip' },
      { entries: [dir('b'), file('b/y', { seed: 2, size: 50_000 })], compression: 'none' },
    ],
  });
  await writeLayout(`${tmp.path}/layout`, [{ image, tag: 'v1' }]);
  reg = await startRegistry();
  await pushLayout(reg, { layoutDir: `${tmp.path}/layout`, tag: 'v1', repo: 'store/app', destTag: 'v1' });
  proxy = await startFaultProxy({ target: reg.url });
  indexes = await Promise.all(image.layers.map(async (l) => ({ layer: l.descriptor, bytes: (await buildIndex(new BufferSource(l.blob), l.descriptor, { span: 32 * 1024 })).bytes })));
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await reg?.stop();
  await tmp?.cleanup();
});

describe('registry index store', () => {
  it('pushes an OCI artifact manifest referring to the image, listed under the referrers tag', async () => {
    const source = new RegistrySource(`${reg.host}/store/app:v1`);
    const artifact = await pushRegistryIndexes(source, image.descriptor, indexes);
    expect(artifact.artifactType).toBe(IMAGEFS_INDEX_ARTIFACT_TYPE);
    const fetched = await source.fetchManifest({ expected: artifact });
    const m = fetched.parsed as ImageManifest;
    expect(m.mediaType).toBe(MediaType.OCI_MANIFEST);
    expect(m.config).toEqual(EMPTY_DESCRIPTOR);
    expect(m.subject?.digest).toBe(image.descriptor.digest);
    expect(m.layers.map((l) => [l.mediaType, l.annotations?.[LAYER_DIGEST_ANNOTATION]])).toEqual(image.layers.map((l) => [LAYER_INDEX_MEDIA_TYPE, l.descriptor.digest]));
    expect(await source.readBlobVerified(EMPTY_DESCRIPTOR)).toEqual(new TextEncoder().encode('{}'));
    const tagged = await new RegistrySource(`${reg.host}/store/app:${referrersTag(image.descriptor.digest)}`).fetchManifest();
    expect((tagged.parsed as ImageIndex).manifests.map((d) => d.digest)).toEqual([artifact.digest]);

    // a second push (another span) replaces the first in the tag list; lookups find the new one
    const other = [{ layer: indexes[0]!.layer, bytes: (await buildIndex(new BufferSource(image.layers[0]!.blob), image.layers[0]!.descriptor, { span: 16 * 1024 })).bytes }];
    const second = await pushRegistryIndexes(source, image.descriptor, other);
    expect(second.digest).not.toBe(artifact.digest);
    const listed = await source.getReferrers(image.descriptor.digest);
    expect(listed.map((d) => d.digest)).toEqual([second.digest]);
    const store = new IndexStore({ registry: source });
    const found = await store.find(image.descriptor.digest, image.layers[0]!.descriptor);
    expect(found?.from).toBe('registry');
    expect(found?.bytes).toEqual(other[0]!.bytes);
    expect(await store.find(image.descriptor.digest, image.layers[1]!.descriptor)).toBeUndefined();
    await pushRegistryIndexes(source, image.descriptor, indexes);
    await source.close();
  });

  it('looks in the local cache first (no registry request), then the registry (copied to the cache)', async () => {
    const source = new RegistrySource(`${proxy.host}/store/app:v1`);
    const cache = new MemoryIndexCache();
    const store = new IndexStore({ cache, registry: source });
    proxy.reset();
    const fromRegistry = await store.find(image.descriptor.digest, image.layers[1]!.descriptor);
    expect(fromRegistry?.from).toBe('registry');
    expect(proxy.counters.requests).toBeGreaterThan(0);
    expect(cache.size).toBe(1);
    proxy.reset();
    const store2 = new IndexStore({ cache, registry: source });
    const fromCache = await store2.find(image.descriptor.digest, image.layers[1]!.descriptor);
    expect(fromCache?.from).toBe('cache');
    expect(fromCache?.index.entryCount).toBe(fromRegistry?.index.entryCount);
    expect(proxy.counters.requests).toBe(0);
    await source.close();
  });

  it('refuses an index manifest of another subject or another artifact type', () => {
    const manifest: ImageManifest = {
      schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, artifactType: IMAGEFS_INDEX_ARTIFACT_TYPE, config: { ...EMPTY_DESCRIPTOR }, layers: [],
      subject: { ...image.descriptor, digest: `sha256:${'0'.repeat(64)}` },
    };
    const e1 = (() => { try { parseIndexManifest(manifest, image.descriptor.digest); } catch (e) { return e; } })();
    expect(ImageFsError.is(e1) && e1.code).toBe('InvalidArgument');
    const e2 = (() => { try { parseIndexManifest({ ...manifest, artifactType: 'x/y' }, image.descriptor.digest); } catch (e) { return e; } })();
    expect(ImageFsError.is(e2) && e2.code).toBe('InvalidArgument');
  });

  it('ignores a registry index of an older format version: the image still opens (index-ignored event)', async () => {
    const source = new RegistrySource(`${reg.host}/store/app:v1`);
    const old = indexes.map(({ layer, bytes }) => {
      const body = bytes.slice(0, bytes.length - TRAILER_SIZE);
      new DataView(body.buffer).setUint16(8, 1, true); // format version 1
      return { layer, bytes: withTrailer(body) };
    });
    await pushRegistryIndexes(source, image.descriptor, old);
    const outdated: string[] = [];
    const store = new IndexStore({ registry: source, onOutdatedIndex: (digest) => outdated.push(digest) });
    expect(await store.find(image.descriptor.digest, image.layers[0]!.descriptor)).toBeUndefined();
    expect(outdated).toEqual([image.layers[0]!.descriptor.digest]);
    const events: ImageFsEvent[] = [];
    const fs = await openImage(`${reg.host}/store/app:v1`, { onImageEvent: (e) => events.push(e), minLazyLayerSize: 0 });
    expect(await fs.readFile('/a/x')).toEqual(Buffer.from(image.layers[0]!.tar.subarray(1024, 1024 + 100_000)));
    expect(events.filter((e) => e.type === 'index-ignored').map((e) => (e as { digest: string }).digest)).toContain(image.layers[0]!.descriptor.digest);
    await fs.close();
    await pushRegistryIndexes(source, image.descriptor, indexes);
    await source.close();
  });
});
