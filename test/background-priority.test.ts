// Foreground first (issue 11): while a foreground fetch runs, the background download starts no
// request; it goes on once the foreground is idle. Counted on a blob whose reads the test holds.
import { describe, expect, it } from 'vitest';
import { MemoryCache } from '../src/cache/memory-cache.js';
import { BACKGROUND_RUN_BYTES, BackgroundDownload } from '../src/layer/background-download.js';
import { BACKGROUND_PIECE } from '../src/layer/compressed-spans.js';
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

  it('a span entry damaged on disk is found when the joined blob fails its digest, fetched again, and the blob commits', async () => {
    const image = await buildImage({ layers: [{ entries: Array.from({ length: 30 }, (_, i) => file(`f${i}`, { seed: i + 7, size: 40_000, kind: 'random' })), compression: 'gzip' }] });
    const layer = image.layers[0]!;
    const built = await buildIndex(new BufferSource(layer.blob), layer.descriptor, { span: 128 * 1024 });
    const held = heldBlob(layer.blob);
    held.release();
    const source: ImageSource = { reference: 'held', resolve: () => Promise.reject(new Error('unused')), openBlob: async (_d: Descriptor) => held.blob, close: async () => {} };
    const store = new MemoryCache({ maxBytes: 64 << 20 });
    const lazy = await openIndexedLayer(source, layer.descriptor, built.bytes, { store });
    const b = lazy.spans.bounds[2]!;
    // The entry the download will find for span 2: the right size, one byte changed.
    const damaged = Uint8Array.from(layer.blob.subarray(b.start, b.end));
    damaged[10]! ^= 0xff;
    const writer = await store.create(lazy.spans.key(2), { expectedSize: damaged.length });
    await writer.write(damaged);
    await writer.commit();
    const download = new BackgroundDownload([lazy.spans]);
    download.start();
    await download.done;
    const whole = await store.get(layer.descriptor.digest);
    expect(Buffer.from(await whole!.readAt(0, whole!.size)).equals(Buffer.from(layer.blob))).toBe(true);
    // span 2 was skipped on the first pass (an entry was there) and fetched after the join failed
    expect(held.calls.filter((c) => c.offset === b.start && c.length === b.end - b.start)).toHaveLength(1);
    expect(await store.has(lazy.spans.key(2))).toBe(false);
    await lazy.close();
  }, 60_000);

  it('right after foreground reads the download asks in pieces (a new read shares the link with one piece); when reads are quiet, one request per run of spans', async () => {
    const image = await buildImage({ layers: [{ entries: Array.from({ length: 10 }, (_, i) => file(`f${i}`, { seed: i + 40, size: 700_000, kind: 'random' })), compression: 'gzip' }] });
    const layer = image.layers[0]!;
    const built = await buildIndex(new BufferSource(layer.blob), layer.descriptor, { span: 1 << 20 });
    const source = (blob: ReadAtSource): ImageSource => ({ reference: 'held', resolve: () => Promise.reject(new Error('unused')), openBlob: async (_d: Descriptor) => blob, close: async () => {} });
    const spanSizes = (spans: { bounds: readonly { start: number; end: number }[] }): number[] => spans.bounds.map((b) => b.end - b.start);

    // quiet: no foreground read ever, every span in one request
    const quiet = heldBlob(layer.blob);
    quiet.release();
    const a = await openIndexedLayer(source(quiet.blob), layer.descriptor, built.bytes, { store: new MemoryCache({ maxBytes: 64 << 20 }), priority: new FetchPriority() });
    const da = new BackgroundDownload([a.spans], { priority: new FetchPriority() });
    da.start();
    await da.done;
    // consecutive spans together, up to BACKGROUND_RUN_BYTES a request, whole spans, in order
    const sizes = spanSizes(a.spans);
    const runs: number[] = [];
    for (let i = 0, sum = 0; i < sizes.length; i++) {
      if (sum > 0 && sum + sizes[i]! > BACKGROUND_RUN_BYTES) {
        runs.push(sum);
        sum = 0;
      }
      sum += sizes[i]!;
      if (i === sizes.length - 1) runs.push(sum);
    }
    expect(quiet.calls.map((c) => c.length)).toEqual(runs);
    expect(runs.length).toBeLessThan(sizes.length);
    expect(Math.max(...quiet.calls.map((c) => c.length))).toBeGreaterThan(BACKGROUND_PIECE);
    await a.close();

    // busy: a foreground read just ended, so pieces; a foreground read started meanwhile goes before the next piece
    const busy = heldBlob(layer.blob);
    busy.release();
    const priority = new FetchPriority();
    const b = await openIndexedLayer(source(busy.blob), layer.descriptor, built.bytes, { store: new MemoryCache({ maxBytes: 64 << 20 }), priority });
    await b.data.readAt(layer.tar.length - 1000, 1000); // the last span, in the foreground
    const foregroundCalls = busy.calls.length;
    busy.hold = true;
    const db = new BackgroundDownload([b.spans], { priority });
    db.start();
    await turns(20);
    expect(busy.calls.length).toBe(foregroundCalls + 1); // one background piece on the wire
    const read = b.data.readAt(Math.floor(layer.tar.length * 0.7), 1000); // a foreground read arrives, past the download's first request
    await turns(20);
    expect(priority.foreground).toBe(1);
    busy.release();
    await read;
    await db.done;
    const background = busy.calls.slice(foregroundCalls);
    expect(background.length).toBeGreaterThan(b.spans.count);
    for (const c of background) expect(c.length).toBeLessThanOrEqual(Math.max(BACKGROUND_PIECE, ...spanSizes(b.spans)));
    expect(background.filter((c) => c.length <= BACKGROUND_PIECE).length).toBeGreaterThan(b.spans.count);
    const whole = await (b.spans.store as MemoryCache).get(layer.descriptor.digest);
    expect(Buffer.from(await whole!.readAt(0, whole!.size)).equals(Buffer.from(layer.blob))).toBe(true);
    await b.close();
  }, 60_000);

  it('a foreground read that joins a span the download is fetching in pieces gets the rest of that request at once', async () => {
    const image = await buildImage({ layers: [{ entries: Array.from({ length: 6 }, (_, i) => file(`f${i}`, { seed: i + 60, size: 700_000, kind: 'random' })), compression: 'gzip' }] });
    const layer = image.layers[0]!;
    const built = await buildIndex(new BufferSource(layer.blob), layer.descriptor, { span: 1 << 20 });
    const held = heldBlob(layer.blob);
    held.release();
    const priority = new FetchPriority();
    const source: ImageSource = { reference: 'held', resolve: () => Promise.reject(new Error('unused')), openBlob: async (_d: Descriptor) => held.blob, close: async () => {} };
    const lazy = await openIndexedLayer(source, layer.descriptor, built.bytes, { store: new MemoryCache({ maxBytes: 64 << 20 }), priority });
    await lazy.data.readAt(layer.tar.length - 1000, 1000); // a recent foreground read: the download goes in pieces
    const before = held.calls.length;
    held.hold = true;
    const download = new BackgroundDownload([lazy.spans], { priority });
    download.start();
    await turns(20);
    const span0 = lazy.spans.bounds[0]!;
    expect(held.calls.slice(before)).toEqual([{ offset: span0.start, length: BACKGROUND_PIECE }]);
    const read = lazy.data.readAt(1000, 1000); // span 0: joins the background fetch
    await turns(20);
    held.release();
    expect(Buffer.from(await read).equals(Buffer.from(layer.tar.subarray(1000, 2000)))).toBe(true);
    // after the first piece, the rest of the request (span 0 and the spans after it, up to
    // BACKGROUND_RUN_BYTES) in one request
    const run = lazy.spans.bounds.filter((b) => b.end - span0.start <= BACKGROUND_RUN_BYTES).at(-1)!;
    expect(held.calls[before + 1]).toEqual({ offset: span0.start + BACKGROUND_PIECE, length: run.end - span0.start - BACKGROUND_PIECE });
    await download.done;
    await lazy.close();
  }, 60_000);
});
