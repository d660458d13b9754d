// Startup profiles (issue 11): the spans read right after an open are kept in the cache
// (`startup-profile/<image digest>`); a later open's background download fetches them first, in
// that order, before the rest. Checked on the request order the fault proxy saw.
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskCache } from '../src/cache/disk-cache.js';
import { BlobCacheIndexCache } from '../src/index-store/local-index-cache.js';
import type { BackgroundDownload } from '../src/layer/background-download.js';
import { buildIndex } from '../src/layer/build-index.js';
import { spanBounds } from '../src/layer/span-keys.js';
import { loadStartupProfile } from '../src/layer/startup-profile.js';
import { openImage } from '../src/open/open-image.js';
import { BufferSource } from '../src/source/read-at.js';
import type { FaultProxy } from '../src/testing/registry/index.js';
import type { BuiltImage } from '../src/testing/builder/index.js';
import { PLATFORM, REPO, SPAN, startFetchFixture, type FetchFixture } from './fetch-fixture.js';

let fx: FetchFixture;
let tmp: FetchFixture['tmp'];
let proxy: FaultProxy;
let image: BuiltImage;

beforeAll(async () => {
  fx = await startFetchFixture('background-profile');
  ({ tmp, proxy, image } = fx);
}, 120_000);

afterAll(async () => {
  await fx?.stop();
});

describe('startup profiles', () => {
  it('records the spans read after open; a later background download fetches them first, in order', async () => {
    const cacheDir = join(tmp.path, 'cache');
    const open = async (background: boolean) => {
      const cache = await DiskCache.open(cacheDir);
      let download: BackgroundDownload | undefined;
      const fs = await openImage(`${proxy.host}/${REPO}:v1`, { platform: PLATFORM, cache, indexCache: new BlobCacheIndexCache(cache), background, onBackground: (d) => { download = d; } });
      return { cache, fs, download: () => download };
    };
    const a = await open(false);
    for (const p of ['/a/f250', '/p/g07', '/a/f010']) await a.fs.readFile(p);
    await a.fs.close();
    const profile = await loadStartupProfile(a.cache, image.descriptor.digest);
    await a.cache.close();
    expect(profile?.spans.length).toBeGreaterThanOrEqual(3);
    // the spans recorded, in the order read: a late span of the gzip layer, one of the plain layer, an early one
    const big = image.layers[0]!.descriptor.digest;
    const plain = image.layers[1]!.descriptor.digest;
    expect(profile!.spans.map(([d]) => d)).toEqual([big, plain, big]);
    expect(profile!.spans[0]![1]).toBeGreaterThan(profile!.spans[2]![1]);

    // A node with the profile but none of the spans: drop the span entries, keep the profile.
    const other = join(cacheDir, 'other');
    for (const name of await readdir(other)) if (name.startsWith('blob-range')) await unlink(join(other, name));
    proxy.reset();
    const b = await open(true);
    await b.download()!.done;
    await b.fs.close();
    await b.cache.close();
    const expected: string[] = [];
    for (const [digest, span] of profile!.spans) {
      const layer = image.layers.find((l) => l.descriptor.digest === digest)!;
      const built = await buildIndex(new BufferSource(layer.blob), layer.descriptor, { span: SPAN, diffId: layer.diffId });
      const bounds = spanBounds(built.index.checkpointPositions(), layer.blob.length, built.index.layer.uncompressedSize);
      expected.push(`${digest} bytes=${bounds[span]!.start}-${bounds[span]!.end - 1}`);
    }
    const seen = proxy.log
      .filter((r) => r.kind === 'blob' && r.range !== undefined && r.range !== 'bytes=1-1')
      .map((r) => `${image.layers.find((l) => r.path.includes(l.descriptor.digest))?.descriptor.digest} ${r.range}`);
    expect(seen.slice(0, expected.length)).toEqual(expected);
    expect(seen.length).toBeGreaterThan(expected.length); // then the rest
  }, 120_000);
});
