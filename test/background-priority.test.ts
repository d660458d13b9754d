// Foreground first (issue 11): while a foreground fetch runs, the background download starts no
// request; it goes on once the foreground is idle. Counted on a blob whose reads the test holds.
import { describe, expect, it } from 'vitest';
import { MemoryCache } from '../src/cache/memory-cache.js';
import { BackgroundDownload } from '../src/layer/background-download.js';
import { buildIndex } from '../src/layer/build-index.js';
import { FetchPriority } from '../src/layer/fetch-priority.js';
import { openIndexedLayer } from '../src/layer/indexed-layer.js';
import type { Descriptor, ImageSource } from '../src/image/types.js';
import { BufferSource, type ReadAtSource } from '../src/source/read-at.js';
import { buildImage, file } from '../src/testing/builder/index.js';

/** A blob whose reads wait until the test releases them. */
function heldBlob(bytes: Uint8Array): { blob: ReadAtSource; calls: Array<{ offset: number; length: number }>; hold: boolean; release(): void } {
  let waiting: Array<() => void> = [];
  const state = {
    calls: [] as Array<{ offset: number; length: number }>,
    hold: true,
    release(): void {
      state.hold = false;
      const w = waiting;
      waiting = [];
      for (const r of w) r();
    },
    blob: {
      size: bytes.length,
      async readAt(offset: number, length: number): Promise<Uint8Array> {
        state.calls.push({ offset, length });
        if (state.hold) await new Promise<void>((r) => waiting.push(r));
        return bytes.subarray(offset, offset + length);
      },
    } as ReadAtSource,
  };
  return state;
}

const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe('background download priority', () => {
  it('starts no request while a foreground fetch runs, then downloads and verifies the whole blob', async () => {
    const image = await buildImage({ layers: [{ entries: Array.from({ length: 40 }, (_, i) => file(`f${i}`, { seed: i + 1, size: 50_000, kind: 'text' })), compression: 'gzip' }] });
    const layer = image.layers[0]!;
    const built = await buildIndex(new BufferSource(layer.blob), layer.descriptor, { span: 128 * 1024 });
    const held = heldBlob(layer.blob);
    const source: ImageSource = { reference: 'held', resolve: () => Promise.reject(new Error('unused')), openBlob: async (_d: Descriptor) => held.blob, close: async () => {} };
    const store = new MemoryCache({ maxBytes: 64 << 20 });
    const priority = new FetchPriority();
    const lazy = await openIndexedLayer(source, layer.descriptor, built.bytes, { store, priority, compressedCache: new MemoryCache({ maxBytes: 16 << 20 }) });
    expect(lazy.spans.count).toBeGreaterThan(5);

    const tar = layer.tar;
    const at = Math.floor(tar.length / 2);
    const read = lazy.data.readAt(at, 1000); // a foreground read, held on the wire
    await turns(5);
    expect(held.calls).toHaveLength(1);
    expect(priority.foreground).toBe(1);

    const download = new BackgroundDownload([lazy.spans], { priority });
    download.start();
    await turns(50);
    expect(held.calls).toHaveLength(1); // the background waited
    held.release();
    expect(Buffer.from(await read).equals(Buffer.from(tar.subarray(at, at + 1000)))).toBe(true);
    await download.done;
    expect(download.progress).toMatchObject({ bytes: layer.blob.length, total: layer.blob.length });
    // each span once: the foreground's span was not fetched again by the background
    const fetched = held.calls.reduce((s, c) => s + c.length, 0);
    expect(fetched).toBeLessThanOrEqual(layer.blob.length + lazy.spans.count);
    const whole = await store.get(layer.descriptor.digest);
    expect(whole?.size).toBe(layer.blob.length);
    // reads now come from the local blob
    const before = held.calls.length;
    expect(Buffer.from(await lazy.data.readAt(0, tar.length)).equals(Buffer.from(tar))).toBe(true);
    expect(held.calls.length).toBe(before);
    await lazy.close();
  }, 60_000);
});
