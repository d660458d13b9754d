// Many reads at once through a lazily opened image: every byte equal to the whole path, and
// overlapping reads of one span share fetches instead of each paying for it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Descriptor, ImageSource } from '../src/image/types.js';
import { MemoryIndexCache } from '../src/index-store/local-index-cache.js';
import { OciLayoutSource } from '../src/layout/oci-layout-source.js';
import { openImage } from '../src/open/open-image.js';
import type { ReadAtSource } from '../src/source/read-at.js';
import { buildImage, dir, file, writeLayout, type TarRecord } from '../src/testing/builder/index.js';
import { tempDir } from './layout-fixtures.js';

const PLATFORM = { os: 'linux', architecture: 'amd64' };
const FILES = 120;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let ref: string;
let layout: string;

/** Counts the blob reads made through a source. */
function counting(source: ImageSource): { source: ImageSource; reads: () => number } {
  let reads = 0;
  return {
    reads: () => reads,
    source: {
      reference: source.reference,
      resolve: (o) => source.resolve(o),
      close: () => source.close(),
      async openBlob(d: Descriptor, o) {
        const blob = await source.openBlob(d, o);
        const counted: ReadAtSource = {
          size: blob.size,
          readAt: (offset, length, ro) => { reads++; return blob.readAt(offset, length, ro); },
          close: () => blob.close?.() ?? Promise.resolve(),
        };
        return counted;
      },
    },
  };
}

beforeAll(async () => {
  tmp = await tempDir('lazy-concurrent');
  const entries: TarRecord[] = [dir('d')];
  for (let i = 0; i < FILES; i++) entries.push(file(`d/f${i}`, { seed: i + 1, size: 3000 + i * 523, kind: i % 2 ? 'text' : 'random' }));
  const image = await buildImage({ layers: [{ entries, compression: 'gnu-gzip' }, { entries: [file('d/f7', 'replaced\n')], compression: 'none' }] });
  layout = `${tmp.path}/layout`;
  await writeLayout(layout, [{ image, tag: 'v1' }]);
  ref = `oci:${layout}:v1`;
}, 60_000);

afterAll(async () => {
  await tmp?.cleanup();
});

describe('concurrent reads of a lazily opened image', () => {
  it('serve exactly the bytes of the whole path, all at once, sharing span fetches', async () => {
    const indexCache = new MemoryIndexCache();
    // Index once (on the fly), then open again lazily through the stored indexes.
    await (await openImage(ref, { platform: PLATFORM, indexing: 'on-the-fly', minLazyLayerSize: 0, span: 256 * 1024, indexCache })).close();
    const { source, reads } = counting(new OciLayoutSource(layout, { tag: 'v1' }));
    const lazy = await openImage(source, { platform: PLATFORM, indexCache, minLazyLayerSize: 0 });
    const whole = await openImage(ref, { platform: PLATFORM, mode: 'full' });
    const paths = (await whole.readdir('/d')).map((n) => `/d/${n}`);
    expect(paths).toHaveLength(FILES);
    const before = reads();
    const [got, want] = await Promise.all([
      Promise.all(paths.map((p) => lazy.readFile(p))),
      Promise.all(paths.map((p) => whole.readFile(p))),
    ]);
    got.forEach((bytes, i) => expect(bytes.equals(want[i]!), paths[i]).toBe(true));
    expect((await lazy.readFile('/d/f7', 'utf8'))).toBe('replaced\n');
    // 120 files (~4 MB of tar) over ~16 spans of 256 KiB: each span is fetched once (a file that
    // crosses a span boundary is read directly, in one request), far fewer reads than files.
    expect(reads() - before).toBeGreaterThan(0);
    expect(reads() - before).toBeLessThan(FILES / 3);
    // Read again: every single-span file now comes from the span cache.
    const again = reads();
    await Promise.all(paths.map((p) => lazy.readFile(p)));
    expect(reads() - again).toBeLessThan(FILES / 6);
    await lazy.close();
    await whole.close();
  });
});
