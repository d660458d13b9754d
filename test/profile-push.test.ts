// Startup profiles pushed next to the index (issue 11): one process records a profile in its cache,
// `imagefs index --push --profile-from-cache` (or `--profile FILE`) stores it in the real registry
// as a referrer of the image, and a fresh cache's background download fetches its spans first, in
// order (checked on the request order the fault proxy saw). A forged profile (corrupt, oversized,
// naming another image's layer or a span beyond the index, or an unpinned referrer of an image
// named by digest) is ignored with a `profile-ignored` event: the download keeps its layer order,
// fetches only the image's own spans once each, and every read is correct.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskCache } from '../src/cache/disk-cache.js';
import { IMAGEFS_PROFILE_ARTIFACT_TYPE } from '../src/index-store/media-types.js';
import { BlobCacheIndexCache } from '../src/index-store/local-index-cache.js';
import { pushStartupProfile } from '../src/index-store/registry-profile.js';
import { PINNED_PROFILE_DIGEST_ANNOTATION } from '../src/index-store/trust.js';
import type { BackgroundDownload } from '../src/layer/background-download.js';
import { buildIndex } from '../src/layer/build-index.js';
import { spanBounds, type SpanBounds } from '../src/layer/span-keys.js';
import { loadStartupProfile, type StartupProfile } from '../src/layer/startup-profile.js';
import type { ImageFsEvent } from '../src/open/events.js';
import { openImage, type OpenImageOptions } from '../src/open/open-image.js';
import { digestOf } from '../src/registry/manifest.js';
import { RegistrySource } from '../src/registry/registry-source.js';
import { BufferSource } from '../src/source/read-at.js';
import type { BuiltImage } from '../src/testing/builder/index.js';
import type { FaultProxy } from '../src/testing/registry/index.js';
import { PLATFORM, REPO, SPAN, startFetchFixture, type FetchFixture } from './fetch-fixture.js';
import { runCliCapture as cli } from './helpers/run-cli.js';

let fx: FetchFixture;
let proxy: FaultProxy;
let image: BuiltImage;
let recorded: StartupProfile;
let recordDir: string;
const bounds = new Map<string, SpanBounds[]>();
const READ_FIRST = ['/a/f250', '/p/g07', '/a/f010', '/s/h03'];
let fresh = 0;

beforeAll(async () => {
  fx = await startFetchFixture('profile-push');
  ({ proxy, image } = fx);
  for (const layer of image.layers) {
    const built = await buildIndex(new BufferSource(layer.blob), layer.descriptor, { span: SPAN, diffId: layer.diffId });
    bounds.set(layer.descriptor.digest, spanBounds(built.index.checkpointPositions(), layer.blob.length, built.index.layer.uncompressedSize));
  }
  // The recorded run: one process reads a few files with a disk cache, then closes (the profile is kept).
  recordDir = join(fx.tmp.path, 'cache-record');
  const cache = await DiskCache.open(recordDir);
  const fs = await openImage(`${fx.reg.host}/${REPO}:v1`, { platform: PLATFORM, cache, indexCache: new BlobCacheIndexCache(cache) });
  for (const p of READ_FIRST) await fs.readFile(p);
  await fs.close();
  recorded = (await loadStartupProfile(cache, image.descriptor.digest))!;
  await cache.close();
}, 120_000);

afterAll(async () => {
  await fx?.stop();
});

/** The digest of the image's base layer (gzip, ~30 spans). */
function layer0(): string {
  return image.layers[0]!.descriptor.digest;
}

/** `LAYER bytes=A-B` of each span, as the proxy logs a request for it. */
function requestOf(digest: string, span: number): string {
  const b = bounds.get(digest)![span]!;
  return `${digest} bytes=${b.start}-${b.end - 1}`;
}

/**
 * The spans the blob range requests since the proxy's reset asked for, in request order, each as
 * {@link requestOf} names it (a request of several consecutive spans, as the background download
 * makes them, counts as each of its spans; the eligibility analysis's 1-byte probe is left out).
 */
function rangesSeen(): string[] {
  return proxy.log
    .filter((r) => r.kind === 'blob' && r.range !== undefined && r.range !== 'bytes=1-1')
    .flatMap((r) => {
      const digest = image.layers.find((l) => r.path.includes(l.descriptor.digest))!.descriptor.digest;
      const [a, b] = r.range!.slice('bytes='.length).split('-').map(Number) as [number, number];
      const spans = bounds.get(digest)!.flatMap((s, i) => (s.start >= a && s.end - 1 <= b ? [i] : []));
      // a range that is not whole spans stays as it was asked (and fails the comparisons)
      return spans.length === 0 || bounds.get(digest)![spans[0]!]!.start !== a || bounds.get(digest)![spans.at(-1)!]!.end - 1 !== b
        ? [`${digest} ${r.range}`]
        : spans.map((i) => requestOf(digest, i));
    });
}

/** Opens `ref` with a fresh disk cache and a background download, waits for it, checks every file read afterwards. */
async function openFresh(ref: string, options: OpenImageOptions = {}): Promise<ImageFsEvent[]> {
  const cache = await DiskCache.open(join(fx.tmp.path, `cache-fresh-${fresh++}`));
  const events: ImageFsEvent[] = [];
  let download: BackgroundDownload | undefined;
  const fs = await openImage(ref, {
    platform: PLATFORM, cache, indexCache: new BlobCacheIndexCache(cache), background: true, ...options,
    onBackground: (d) => { download = d; }, onImageEvent: (e) => events.push(e),
  });
  try {
    await download!.done;
    for (const p of [...READ_FIRST, '/a/zcross.bin', '/p/g11', '/s/h29']) expect(Buffer.from(await fs.readFile(p)).equals(Buffer.from(fx.files.get(p)!)), p).toBe(true);
  } finally {
    await fs.close();
    await cache.close();
  }
  return events;
}

/** Every span of the image once, base layer first: what a download without a profile asks for. */
function layerOrder(): string[] {
  return image.layers.flatMap((l) => bounds.get(l.descriptor.digest)!.map((_, i) => requestOf(l.descriptor.digest, i)));
}

describe('imagefs index --push --profile', () => {
  it('the recorded run kept a profile of the spans it read, in order', () => {
    expect(recorded.spans.map(([d]) => d)).toEqual([0, 1, 0, 2].map((i) => image.layers[i]!.descriptor.digest));
  });

  it('--profile-from-cache pushes it as a referrer; a fresh cache fetches its spans first, in order, then the rest', async () => {
    const out = await cli('index', `${fx.reg.host}/${REPO}:v1`, '--push', '--profile-from-cache', '--cache', recordDir, '--span', String(SPAN), '--json', '--platform', 'linux/amd64');
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const doc = JSON.parse(out.stdout) as { profile: { digest: string; artifactType: string; spans: number } };
    expect(doc.profile).toMatchObject({ artifactType: IMAGEFS_PROFILE_ARTIFACT_TYPE, spans: recorded.spans.length });

    proxy.reset();
    const events = await openFresh(`${proxy.host}/${REPO}:v1`);
    expect(events.filter((e) => e.type === 'profile-used')).toEqual([
      { type: 'profile-used', reference: `${proxy.host}/${REPO}:v1`, imageDigest: image.descriptor.digest, digest: doc.profile.digest, spans: recorded.spans.length, binding: 'repository' },
    ]);
    expect(events.some((e) => e.type === 'profile-ignored')).toBe(false);
    const expected = recorded.spans.map(([d, s]) => requestOf(d, s));
    const seen = rangesSeen();
    expect(seen.slice(0, expected.length)).toEqual(expected);
    expect(seen.slice(expected.length)).toEqual(layerOrder().filter((r) => !expected.includes(r)));
  }, 120_000);

  it('refuses, before pushing anything, a profile naming another layer, one over 1 MiB, a missing kept one, and bad flag sets', async () => {
    const ref = `${proxy.host}/${REPO}:v1`;
    const foreign = join(fx.tmp.path, 'foreign.json');
    await writeFile(foreign, JSON.stringify({ version: 1, spans: [recorded.spans[0], [`sha256:${'ab'.repeat(32)}`, 0]] }));
    proxy.reset();
    let out = await cli('index', ref, '--no-cache', '--push', '--profile', foreign, '--span', String(SPAN), '--platform', 'linux/amd64');
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^imagefs: InvalidArgument: .*sha256:abab.* is not a layer of this image/);
    const beyond = join(fx.tmp.path, 'beyond.json');
    await writeFile(beyond, JSON.stringify({ version: 1, spans: [[image.layers[0]!.descriptor.digest, bounds.get(image.layers[0]!.descriptor.digest)!.length]] }));
    out = await cli('index', ref, '--no-cache', '--push', '--profile', beyond, '--span', String(SPAN), '--platform', 'linux/amd64');
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^imagefs: InvalidArgument: .*its index cuts it into \d+ spans/);
    expect(proxy.log.filter((r) => r.method !== 'GET' && r.method !== 'HEAD')).toEqual([]); // nothing pushed

    const big = join(fx.tmp.path, 'big.json');
    await writeFile(big, JSON.stringify({ version: 1, spans: recorded.spans, pad: 'x'.repeat(1 << 20) }));
    proxy.reset();
    out = await cli('index', ref, '--no-cache', '--push', '--profile', big, '--platform', 'linux/amd64');
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^imagefs: ResourceExhausted: /);
    expect(proxy.log).toEqual([]); // refused before the image was even resolved

    out = await cli('index', ref, '--push', '--profile-from-cache', '--cache', join(fx.tmp.path, 'cache-empty'), '--platform', 'linux/amd64');
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^imagefs: NotFound: .*keeps no startup profile/);

    expect((await cli('index', ref, '--no-cache', '--profile', foreign)).code).toBe(2); // needs --push
    expect((await cli('index', ref, '--push', '--profile', foreign, '--profile-from-cache')).code).toBe(2);
    expect((await cli('index', ref, '--no-cache', '--push', '--profile-from-cache')).code).toBe(2);
  }, 120_000);
});

describe('a forged profile in the registry', () => {
  const cases: Array<{ name: string; bytes: () => Uint8Array; code: string; why: RegExp }> = [
    { name: 'corrupt (not JSON)', bytes: () => new TextEncoder().encode('{"version": 1, "spans": [[not json'), code: 'InvalidArgument', why: /not UTF-8 JSON/ },
    { name: 'oversized (over 1 MiB)', bytes: () => new TextEncoder().encode(JSON.stringify({ version: 1, spans: [[layer0(), 0]], pad: 'x'.repeat(1 << 20) })), code: 'ResourceExhausted', why: /over the 1048576/ },
    {
      name: 'naming a layer of another image', code: 'InvalidArgument', why: /not a layer of this image/,
      bytes: () => new TextEncoder().encode(JSON.stringify({ version: 1, spans: [[layer0(), 3], [`sha256:${'cd'.repeat(32)}`, 0]] })),
    },
    {
      name: 'naming a span beyond the index', code: 'InvalidArgument', why: /its index cuts it into/,
      bytes: () => new TextEncoder().encode(JSON.stringify({ version: 1, spans: [[layer0(), 2], [layer0(), 1_000_000]] })),
    },
  ];

  for (const c of cases) {
    it(`${c.name} is ignored with a profile-ignored event; the download keeps layer order and fetches each span of the image once`, async () => {
      const bytes = c.bytes();
      const source = new RegistrySource(`${fx.reg.host}/${REPO}:v1`);
      const artifact = await pushStartupProfile(source, image.descriptor, bytes);
      await source.close();
      proxy.reset();
      const events = await openFresh(`${proxy.host}/${REPO}:v1`);
      const ignored = events.filter((e) => e.type === 'profile-ignored');
      expect(ignored).toHaveLength(1);
      expect(ignored[0]).toMatchObject({ imageDigest: image.descriptor.digest, digest: artifact.digest, code: c.code });
      expect((ignored[0] as { why: string }).why).toMatch(c.why);
      expect(events.some((e) => e.type === 'profile-used')).toBe(false);
      expect(rangesSeen()).toEqual(layerOrder());
      if (c.code === 'ResourceExhausted') expect(proxy.log.some((r) => r.path.includes(digestOf(bytes)))).toBe(false); // never fetched
    }, 120_000);
  }
});

describe('trust: the profile follows the rule of the indexes (SECURITY.md)', () => {
  it('an unpinned profile referrer of an image named by digest is not read', async () => {
    const source = new RegistrySource(`${fx.reg.host}/${REPO}:v1`);
    const forged = new TextEncoder().encode(JSON.stringify({ version: 1, spans: [...bounds.get(layer0())!.keys()].reverse().map((i) => [layer0(), i]) }));
    const artifact = await pushStartupProfile(source, image.descriptor, forged);
    await source.close();
    proxy.reset();
    const ref = `${proxy.host}/${REPO}@${image.descriptor.digest}`;
    const events = await openFresh(ref, { indexing: 'on-the-fly', minLazyLayerSize: 0, span: SPAN });
    expect(events.filter((e) => e.type === 'profile-ignored')).toEqual([{
      type: 'profile-ignored', reference: ref, imageDigest: image.descriptor.digest, digest: artifact.digest, code: 'FailedPrecondition', why: expect.stringMatching(/names the image by digest/) as string,
    }]);
    expect(proxy.log.some((r) => r.path.includes(artifact.digest))).toBe(false); // not even its manifest
    // ... as the indexes listed next to it are not (then built from the verified layers instead)
    const indexIgnored = events.filter((e) => e.type === 'index-ignored');
    expect(indexIgnored).toHaveLength(image.layers.length);
    for (const e of indexIgnored) expect((e as { why: string }).why).toMatch(/names the image by digest.*it was not read\. Run `imagefs index --push --pin REF`/);
  }, 120_000);

  it('imagefs index --push --pin --profile FILE pins it: the pinned digest uses it, whatever is pushed later', async () => {
    const file = join(fx.tmp.path, 'profile.json');
    await writeFile(file, JSON.stringify(recorded));
    const out = await cli('index', `${fx.reg.host}/${REPO}:v1`, '--no-cache', '--push', '--pin', '--profile', file, '--span', String(SPAN), '--json', '--platform', 'linux/amd64');
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const doc = JSON.parse(out.stdout) as { profile: { digest: string }; pinned: { digest: string; mediaType: string; size: number; reference: string } };
    const source = new RegistrySource(`${fx.reg.host}/${REPO}:v1`);
    const pinned = await source.fetchManifest({ expected: { mediaType: doc.pinned.mediaType, digest: doc.pinned.digest, size: doc.pinned.size } });
    expect((pinned.parsed as { annotations?: Record<string, string> }).annotations?.[PINNED_PROFILE_DIGEST_ANNOTATION]).toBe(doc.profile.digest);
    // Someone with push rights lists a forged profile, as the newest referrer of both digests.
    const forged = new TextEncoder().encode(JSON.stringify({ version: 1, spans: [[image.layers[2]!.descriptor.digest, 0]] }));
    await pushStartupProfile(source, image.descriptor, forged);
    await pushStartupProfile(source, { mediaType: doc.pinned.mediaType, digest: doc.pinned.digest, size: doc.pinned.size }, forged);
    await source.close();

    proxy.reset();
    const ref = doc.pinned.reference.replace(fx.reg.host, proxy.host);
    const events = await openFresh(ref);
    expect(events.filter((e) => e.type === 'profile-used')).toEqual([
      { type: 'profile-used', reference: ref, imageDigest: doc.pinned.digest, digest: doc.profile.digest, spans: recorded.spans.length, binding: 'pinned' },
    ]);
    const expected = recorded.spans.map(([d, s]) => requestOf(d, s));
    expect(rangesSeen().slice(0, expected.length)).toEqual(expected);
  }, 120_000);
});
