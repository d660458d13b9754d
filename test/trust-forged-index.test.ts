// Issue 13, index trust: an index referrer forged by someone with push rights (an index built for
// ANOTHER layer holding /data/EVIL, its Layer section rewritten to claim the target layer's digest
// and sizes, its trailer recomputed, pushed as the newest referrer) changes nothing a caller of an
// image named by digest sees; `imagefs index --push --pin` makes a digest that streams through the
// genuine index only. Real registry (distribution 2.8), images from the test bench.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageFsError } from '../src/errors/image-fs-error.js';
import { IndexStore } from '../src/index-store/index-store.js';
import { MemoryIndexCache } from '../src/index-store/local-index-cache.js';
import { pushRegistryIndexes } from '../src/index-store/registry-indexes.js';
import { PINNED_INDEX_DIGEST_ANNOTATION } from '../src/index-store/trust.js';
import { encodeIndex } from '../src/layer-index/encode.js';
import { openIndex } from '../src/layer-index/layer-index.js';
import { buildIndex } from '../src/layer/build-index.js';
import { openImage } from '../src/open/open-image.js';
import type { ImageFsEvent } from '../src/open/events.js';
import { RegistrySource } from '../src/registry/registry-source.js';
import { BufferSource } from '../src/source/read-at.js';
import { buildImage, contentBytes, dir, file, writeLayout, type BuiltImage } from '../src/testing/builder/index.js';
import { pushLayout, startRegistry, type TestRegistry } from '../src/testing/registry/index.js';
import { tempDir } from './layout-fixtures.js';
import { runCliCapture } from './helpers/run-cli.js';

const PLATFORM = { os: 'linux', architecture: 'amd64' };
const SPAN = 64 * 1024;
const REAL = { seed: 11, size: 300_000, kind: 'text' } as const;

let tmp: Awaited<ReturnType<typeof tempDir>>;
let image: BuiltImage;
let evil: BuiltImage;
let reg: TestRegistry;
let forged: Uint8Array;

/** The evil layer's index, re-encoded to claim the target layer (digest, sizes, media type) with a fresh trailer. */
async function forgeIndex(): Promise<Uint8Array> {
  const target = image.layers[0]!;
  const other = evil.layers[0]!;
  const built = await buildIndex(new BufferSource(other.blob), other.descriptor, { span: SPAN });
  const idx = openIndex(built.bytes);
  const checkpoints = Array.from({ length: idx.checkpointCount }, (_, i) => idx.checkpoint(i));
  const spanDigests = Array.from({ length: idx.spanDigestCount }, (_, i) => idx.spanDigest(i));
  const targetTar = (await buildIndex(new BufferSource(target.blob), target.descriptor, { span: SPAN })).index.layer.uncompressedSize;
  return encodeIndex({
    layer: { digest: target.descriptor.digest, compressedSize: target.descriptor.size, mediaType: target.descriptor.mediaType, uncompressedSize: targetTar },
    entries: idx.entries(), checkpoints, spanDigests,
  });
}

beforeAll(async () => {
  tmp = await tempDir('trust-forged');
  image = await buildImage({
    layers: [{ entries: [dir('data'), file('data/real.txt', REAL), file('data/other.bin', { seed: 12, size: 200_000 })], compression: 'gnu-gzip' }],
  });
  evil = await buildImage({
    layers: [{ entries: [dir('data'), file('data/EVIL', 'owned\n', { mode: 0o4755 }), file('data/pad.bin', { seed: 13, size: 200_000 })], compression: 'gnu-gzip' }],
  });
  await writeLayout(join(tmp.path, 'layout'), [{ image, tag: 'v1' }]);
  reg = await startRegistry();
  await pushLayout(reg, { layoutDir: join(tmp.path, 'layout'), tag: 'v1', repo: 'trust/app', destTag: 'v1' });
  forged = await forgeIndex();
  // The attacker's push: the forged index as the newest imagefs referrer of the image.
  const source = new RegistrySource(`${reg.host}/trust/app:v1`);
  await pushRegistryIndexes(source, image.descriptor, [{ layer: image.layers[0]!.descriptor, bytes: forged }]);
  await source.close();
}, 90_000);

afterAll(async () => {
  await reg?.stop();
  await tmp?.cleanup();
});

/** Asserts the caller sees the real layer: real files, no /data/EVIL. */
async function expectGenuine(ref: string, options: Parameters<typeof openImage>[1] = {}): Promise<ImageFsEvent[]> {
  const events: ImageFsEvent[] = [];
  const fs = await openImage(ref, { platform: PLATFORM, ...options, onImageEvent: (e) => events.push(e) });
  try {
    expect((await fs.readdir('/data')).sort()).toEqual(['other.bin', 'real.txt']);
    expect((await fs.readFile('/data/real.txt')).equals(Buffer.from(contentBytes(REAL)))).toBe(true);
    const err = await fs.lstat('/data/EVIL').then(() => undefined, (e: unknown) => e);
    expect(ImageFsError.is(err) && err.code).toBe('ENOENT');
  } finally {
    await fs.close();
  }
  return events;
}

describe('a forged index referrer', () => {
  it('is a valid index that claims the target layer (the attack is real)', () => {
    const idx = openIndex(forged, { expectedLayer: { digest: image.layers[0]!.descriptor.digest, compressedSize: image.layers[0]!.descriptor.size } });
    expect(idx.lookup('data/EVIL')?.mode).toBe(0o4755);
    expect(idx.lookup('data/real.txt')).toBeUndefined();
  });

  it('changes nothing a caller of the image named by digest sees: ignored with an event, the layer pulled whole', async () => {
    const events = await expectGenuine(`${reg.host}/trust/app@${image.descriptor.digest}`);
    const ignored = events.filter((e) => e.type === 'index-ignored');
    expect(ignored).toHaveLength(1);
    expect(ignored[0]).toMatchObject({ digest: image.layers[0]!.descriptor.digest });
    expect((ignored[0] as { why: string }).why).toMatch(/names the image by digest.*imagefs index --push --pin/);
    expect(events.find((e) => e.type === 'layer')).toMatchObject({ how: 'whole' });
  }, 60_000);

  it('changes nothing with indexing on the fly: the index is built from the verified layer instead', async () => {
    const events = await expectGenuine(`${reg.host}/trust/app@${image.descriptor.digest}`, { indexing: 'on-the-fly', minLazyLayerSize: 0 });
    expect(events.find((e) => e.type === 'layer')).toMatchObject({ how: 'indexed-now', mode: 'lazy' });
  }, 60_000);

  it('imagefs ls REF@DIGEST lists the real files only', async () => {
    const out = await runCliCapture('ls', '--no-cache', '--platform', 'linux/amd64', `${reg.host}/trust/app@${image.descriptor.digest}`, '/data');
    expect(out.code).toBe(0);
    expect(out.stdout.split('\n').filter(Boolean).sort()).toEqual(['other.bin', 'real.txt']);
  }, 60_000);

  it("registryTrust 'pinned' ignores it for a tag too; the default trusts a tag's repository (SECURITY.md)", async () => {
    const source = new RegistrySource(`${reg.host}/trust/app:v1`);
    const why: string[] = [];
    const strict = new IndexStore({ registry: source, registryTrust: 'pinned', onIgnoredIndex: (_d, w) => why.push(w) });
    expect(await strict.find({ digest: image.descriptor.digest, reference: source.reference, manifest: image.manifest }, image.layers[0]!.descriptor)).toBeUndefined();
    expect(why[0]).toMatch(/registryTrust 'pinned'/);
    const byTag = await new IndexStore({ registry: source }).find(image.descriptor.digest, image.layers[0]!.descriptor);
    expect(byTag?.binding).toBe('repository');
    await source.close();
  }, 60_000);

  it('a tag-trusted index kept in the local cache never serves the image named by digest', async () => {
    const cache = new MemoryIndexCache();
    const source = new RegistrySource(`${reg.host}/trust/app:v1`);
    const byTag = await new IndexStore({ registry: source, cache }).find(image.descriptor.digest, image.layers[0]!.descriptor);
    expect(byTag?.from).toBe('registry');
    expect(cache.size).toBe(1);
    await source.close();
    const events = await expectGenuine(`${reg.host}/trust/app@${image.descriptor.digest}`, { indexCache: cache });
    expect(events.some((e) => e.type === 'index-ignored')).toBe(true);
  }, 60_000);
});

describe('imagefs index --push --pin', () => {
  it('writes a manifest pinning the genuine index; its digest streams through it whatever is pushed later', async () => {
    const out = await runCliCapture('index', '--no-cache', '--push', '--pin', '--json', '--span', String(SPAN), '--platform', 'linux/amd64', `${reg.host}/trust/app:v1`);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const doc = JSON.parse(out.stdout) as { pushed: { digest: string }; pinned: { digest: string; mediaType: string; size: number; reference: string } };
    expect(doc.pinned.reference).toBe(`${reg.host}/trust/app@${doc.pinned.digest}`);
    expect(doc.pinned.digest).not.toBe(image.descriptor.digest);
    // The attacker pushes the forged index again, as the newest referrer of both digests.
    const source = new RegistrySource(`${reg.host}/trust/app:v1`);
    const pinnedManifest = await source.fetchManifest({ expected: { mediaType: doc.pinned.mediaType, digest: doc.pinned.digest, size: doc.pinned.size } });
    expect((pinnedManifest.parsed as { annotations?: Record<string, string> }).annotations?.[PINNED_INDEX_DIGEST_ANNOTATION]).toBe(doc.pushed.digest);
    await pushRegistryIndexes(source, image.descriptor, [{ layer: image.layers[0]!.descriptor, bytes: forged }]);
    await source.close();
    const events = await expectGenuine(doc.pinned.reference);
    expect(events.find((e) => e.type === 'layer')).toMatchObject({ how: 'index', mode: 'lazy' });
    expect(events.some((e) => e.type === 'index-ignored')).toBe(false);
    // --pin without --push is a usage error.
    expect((await runCliCapture('index', '--no-cache', '--pin', `${reg.host}/trust/app:v1`)).code).toBe(2);
  }, 90_000);
});
