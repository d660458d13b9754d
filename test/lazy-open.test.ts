// openImage's layer strategy over a local layout: on-the-fly indexing ('indexed-now'), reuse of a
// local index cache ('index'), small layers and zstd whole, mode 'full' whole for all; every file
// equal to the whole path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskCache } from '../src/cache/disk-cache.js';
import { BlobCacheIndexCache, MemoryIndexCache } from '../src/index-store/local-index-cache.js';
import { openImage } from '../src/open/open-image.js';
import type { ImageFsEvent } from '../src/open/events.js';
import { buildImage, dir, file, writeLayout, type BuiltImage } from '../src/testing/builder/index.js';
import { tempDir } from './layout-fixtures.js';

const PLATFORM = { os: 'linux', architecture: 'amd64' };
let tmp: Awaited<ReturnType<typeof tempDir>>;
let image: BuiltImage;
let ref: string;

const PATHS = ['/g/a.bin', '/g/b.txt', '/p/a.bin', '/p/b.txt', '/s/small.txt', '/z/z.txt'];

beforeAll(async () => {
  tmp = await tempDir('lazy-open');
  image = await buildImage({
    layers: [
      { entries: [dir('g'), file('g/a.bin', { seed: 1, size: 500_000 }), file('g/b.txt', { seed: 2, size: 300_000, kind: 'text' })], compression: 'gzip-sync' },
      { entries: [dir('p'), file('p/a.bin', { seed: 3, size: 400_000 }), file('p/b.txt', 'plain\n')], compression: 'none' },
      { entries: [dir('s'), file('s/small.txt', 'small\n')], compression: 'pigz' },
      { entries: [dir('z'), file('z/z.txt', { seed: 4, size: 200_000 })], compression: 'zstd' },
    ],
  });
  await writeLayout(`${tmp.path}/layout`, [{ image, tag: 'v1' }]);
  ref = `oci:${tmp.path}/layout:v1`;
}, 60_000);

afterAll(async () => {
  await tmp?.cleanup();
});

function hows(events: ImageFsEvent[]): string[] {
  return events.filter((e) => e.type === 'layer').sort((a, b) => (a as { position: number }).position - (b as { position: number }).position)
    .map((e) => (e as { how: string }).how);
}

describe('openImage layer strategy', () => {
  it('indexes on the fly, keeps the indexes, reuses them; small and zstd layers stay whole; bytes equal the whole path', async () => {
    const cache = new MemoryIndexCache();
    const events: ImageFsEvent[] = [];
    const first = await openImage(ref, { platform: PLATFORM, indexing: 'on-the-fly', minLazyLayerSize: 100_000, span: 64 * 1024, indexCache: cache, onImageEvent: (e) => events.push(e) });
    expect(hows(events)).toEqual(['indexed-now', 'indexed-now', 'whole', 'whole']);
    expect(events.filter((e) => e.type === 'layer').map((e) => (e as { mode: string }).mode).sort()).toEqual(['lazy', 'lazy', 'whole', 'whole']);
    expect(cache.size).toBe(2);

    const again: ImageFsEvent[] = [];
    const second = await openImage(ref, { platform: PLATFORM, indexCache: cache, onImageEvent: (e) => again.push(e) });
    expect(hows(again)).toEqual(['index', 'index', 'whole', 'whole']);
    expect(again.find((e) => e.type === 'pulled')).toMatchObject({ streaming: true });

    const full: ImageFsEvent[] = [];
    const whole = await openImage(ref, { platform: PLATFORM, mode: 'full', indexCache: cache, onImageEvent: (e) => full.push(e) });
    expect(hows(full)).toEqual(['whole', 'whole', 'whole', 'whole']);
    expect(full.find((e) => e.type === 'pulled')).toMatchObject({ streaming: false });
    for (const p of PATHS) {
      const want = await whole.readFile(p);
      expect((await first.readFile(p)).equals(want)).toBe(true);
      expect((await second.readFile(p)).equals(want)).toBe(true);
    }
    await Promise.all([first.close(), second.close(), whole.close()]);
  });

  it('without a stored index and with the default indexing, layers are pulled whole', async () => {
    const events: ImageFsEvent[] = [];
    const fs = await openImage(ref, { platform: PLATFORM, minLazyLayerSize: 0, onImageEvent: (e) => events.push(e) });
    expect(hows(events)).toEqual(['whole', 'whole', 'whole', 'whole']);
    await fs.close();
  });

  it('a DiskCache keeps indexes across opens (another cache object on the same directory finds them); a corrupt entry is dropped', async () => {
    const dir = `${tmp.path}/cache`;
    const disk = await DiskCache.open(dir);
    const a = await openImage(ref, { platform: PLATFORM, indexing: 'on-the-fly', minLazyLayerSize: 0, span: 64 * 1024, indexCache: new BlobCacheIndexCache(disk) });
    await a.close();
    await disk.close();

    const disk2 = await DiskCache.open(dir);
    const indexCache = new BlobCacheIndexCache(disk2);
    // replace one entry by the index of another layer: it must be dropped, not used
    const other = await indexCache.get(image.layers[1]!.descriptor.digest);
    expect(other).toBeDefined();
    await indexCache.delete(image.layers[0]!.descriptor.digest);
    await indexCache.put(image.layers[0]!.descriptor.digest, other!);
    const events: ImageFsEvent[] = [];
    const b = await openImage(ref, { platform: PLATFORM, indexCache, onImageEvent: (e) => events.push(e) });
    expect(hows(events)).toEqual(['whole', 'index', 'index', 'whole']);
    expect(await indexCache.get(image.layers[0]!.descriptor.digest)).toBeUndefined();
    expect((await b.readFile('/p/a.bin')).length).toBe(400_000);
    await b.close();
    await disk2.close();
  });
});

describe('layer events say why a layer is pulled whole', () => {
  it('names the missing index, the size threshold, zstd and mode full', async () => {
    const events: ImageFsEvent[] = [];
    const fs = await openImage(ref, { platform: PLATFORM, minLazyLayerSize: 100_000, indexCache: new MemoryIndexCache(), onImageEvent: (e) => events.push(e) });
    await fs.close();
    const why = events.filter((e) => e.type === 'layer').sort((a, b) => (a as { position: number }).position - (b as { position: number }).position)
      .map((e) => (e as { why?: string }).why ?? '');
    expect(why[0]).toMatch(/no stored index.*imagefs index --push/);
    expect(why[1]).toMatch(/no stored index/);
    expect(why[2]).toMatch(/under 100000 bytes/);
    expect(why[3]).toMatch(/zstd/i);
    const full: ImageFsEvent[] = [];
    await (await openImage(ref, { platform: PLATFORM, mode: 'full', onImageEvent: (e) => full.push(e) })).close();
    expect(full.filter((e) => e.type === 'layer').every((e) => /mode 'full'/.test((e as { why?: string }).why ?? ''))).toBe(true);
  });
});
