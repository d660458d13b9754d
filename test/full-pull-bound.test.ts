// A whole layer never holds an unverified tar in memory without a bound (issue 11): past
// `maxMemoryBytes` (openImage: `wholeLayerMemoryBytes`) it stops with ResourceExhausted naming the
// limit; with a disk cache the same layer streams to disk and is served.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskCache } from '../src/cache/disk-cache.js';
import { ImageFsError } from '../src/errors/image-fs-error.js';
import { openWholeLayer } from '../src/layer/whole-layer.js';
import { OciLayoutSource } from '../src/layout/oci-layout-source.js';
import { openImage } from '../src/open/open-image.js';
import { buildImage, file, writeLayout, type BuiltImage } from '../src/testing/builder/index.js';
import { tempDir } from './layout-fixtures.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let image: BuiltImage;
let layout: string;

beforeAll(async () => {
  tmp = await tempDir('full-pull-bound');
  image = await buildImage({ layers: [{ entries: Array.from({ length: 20 }, (_, i) => file(`f${i}`, { seed: i + 1, size: 30_000, kind: 'text' })), compression: 'gzip' }] });
  layout = join(tmp.path, 'layout');
  await writeLayout(layout, [{ image, tag: 'v1' }]);
}, 60_000);

afterAll(async () => {
  await tmp?.cleanup();
});

describe('whole layers held in memory are bounded', () => {
  it('past maxMemoryBytes: ResourceExhausted naming the limit and the way out', async () => {
    const source = new OciLayoutSource(layout, { tag: 'v1' });
    const layer = image.layers[0]!;
    const err = await openWholeLayer(source, layer.descriptor, { diffId: layer.diffId, maxMemoryBytes: 100_000 }).then(() => undefined, (e: unknown) => e);
    expect(ImageFsError.is(err) && err.code).toBe('ResourceExhausted');
    expect((err as Error).message).toContain('100000 bytes');
    expect((err as ImageFsError).hint).toContain('disk cache');
    // at the bound exactly it is served
    const ok = await openWholeLayer(source, layer.descriptor, { diffId: layer.diffId, maxMemoryBytes: layer.tar.length });
    expect((await ok.entries()).length).toBe(20);
    await ok.close();
    await source.close();
  });

  it('openImage passes wholeLayerMemoryBytes; with a disk cache the layer streams to disk instead', async () => {
    const err = await openImage(`oci:${layout}:v1`, { mode: 'full', wholeLayerMemoryBytes: 50_000 }).then(() => undefined, (e: unknown) => e);
    expect(ImageFsError.is(err) && err.code).toBe('ResourceExhausted');
    const cache = await DiskCache.open(join(tmp.path, 'cache'));
    const fs = await openImage(`oci:${layout}:v1`, { mode: 'full', wholeLayerMemoryBytes: 50_000, cache });
    expect(Buffer.from(await fs.readFile('/f3')).equals(Buffer.from(image.layers[0]!.entries![3]!.data!))).toBe(true);
    await fs.close();
    await cache.close();
  });
});
