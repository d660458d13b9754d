/**
 * Brings the lazily served layers of an image local while it is in use.
 * @module
 */
import { createHash } from 'node:crypto';
import { aborted, dataLoss, ImageError } from '../errors/image-fs-error.js';
import type { BlobCache } from '../cache/types.js';
import type { CompressedSpans } from './compressed-spans.js';
import type { FetchPriority } from './fetch-priority.js';

/** Progress of a {@link BackgroundDownload}, in compressed bytes. */
export interface BackgroundProgress {
  /** Bytes of the layers that are local (in the store), fetched now or found there. */
  bytes: number;
  /** Bytes of every layer the download covers. */
  total: number;
  /** Bytes fetched from the network by the download itself. */
  fetched: number;
}

/** Options of {@link BackgroundDownload}. */
export interface BackgroundDownloadOptions {
  /** Foreground fetches of the image: the download starts a request only while none runs. */
  priority?: FetchPriority;
  /** Called after each span and each layer (not more often than each span). */
  onProgress?: (progress: BackgroundProgress) => void;
  /** Called once per layer when its whole blob is in the store, verified against its digest. */
  onLayer?: (digest: string, ms: number) => void;
  /**
   * Spans to fetch before anything else, in this order (a startup profile): `[layer digest, span]`.
   * Unknown layers and spans are skipped. A promise (a profile still being fetched) is awaited
   * before the download's first request; one that rejects or gives undefined means no such spans.
   */
  first?: ReadonlyArray<readonly [string, number]> | PromiseLike<ReadonlyArray<readonly [string, number]> | undefined>;
}

/**
 * Downloads the spans of lazily read layers that the store (a `DiskCache`) lacks, consecutive
 * missing spans together up to {@link BACKGROUND_RUN_BYTES} per request, base layer first, and
 * only while no foreground fetch runs (see {@link FetchPriority}): a foreground read never queues
 * behind it, and while reads are recent a request travels in pieces so that a new foreground read
 * shares the link with one piece at most. Each span is verified against the index and committed
 * on its own, so a download stopped at any point (close, crash, SIGKILL) resumes where it stopped.
 * Once a layer's spans are all stored, they are joined into the whole blob, committed under the
 * layer digest (which verifies it against the digest: a partial or wrong blob never appears
 * complete), the span entries are deleted, and reads move to the local blob.
 *
 * @example
 * ```ts
 * const download = new BackgroundDownload(layers.map((l) => l.spans), { priority });
 * download.start();
 * await download.done;      // every layer local (or the download failed / was stopped)
 * await download.stop();
 * ```
 */
export class BackgroundDownload {
  /** Progress so far. */
  readonly progress: BackgroundProgress;
  /** Settles when the download finished (resolves) or failed or was stopped (rejects). */
  readonly done: Promise<void>;
  private readonly controller = new AbortController();
  private resolveDone!: () => void;
  private rejectDone!: (error: unknown) => void;
  private started = false;

  /** @param layers - the layers' spans; every one must have a store. */
  constructor(private readonly layers: readonly CompressedSpans[], private readonly options: BackgroundDownloadOptions = {}) {
    for (const l of layers) {
      if (l.store === undefined) throw new TypeError(`BackgroundDownload: layer ${l.layerDigest} has no store to download into`);
    }
    const total = layers.reduce((sum, l) => sum + l.bounds.at(-1)!.end, 0);
    this.progress = { bytes: 0, total, fetched: 0 };
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.done.catch(() => {});
  }

  /** Starts the download (once). */
  start(): void {
    if (this.started) return;
    this.started = true;
    void this.run().then(this.resolveDone, this.rejectDone);
  }

  /** Stops the download (what is stored stays) and waits for it to settle. Idempotent. */
  async stop(): Promise<void> {
    this.controller.abort(new ImageError('Aborted', 'the background download was stopped'));
    if (!this.started) this.rejectDone(aborted(this.controller.signal));
    await this.done.catch(() => {});
  }

  private async run(): Promise<void> {
    const signal = this.controller.signal;
    // A startup profile first: the spans an earlier run read right after opening, in order. Each
    // is one request (not pieces): it is what the application is about to read.
    const first = (await Promise.resolve(this.options.first).catch(() => undefined)) ?? [];
    if (signal.aborted) throw aborted(signal);
    for (const [digest, i] of first) {
      const layer = this.layers.find((l) => l.layerDigest === digest);
      if (layer === undefined || !Number.isSafeInteger(i) || i < 0 || i >= layer.count) continue;
      if (signal.aborted) throw aborted(signal);
      if (await layer.stored(i)) continue;
      await this.options.priority?.idle();
      if (!layer.storeWritable) break;
      const before = layer.stats.bytesFetched;
      await layer.spans(i, i, { background: true, signal });
      this.progress.fetched += layer.stats.bytesFetched - before;
    }
    for (const layer of this.layers) {
      const started = performance.now();
      if (await layer.hasLocalBlob()) {
        // Span entries a process stopped between the join's commit and its deletes left behind.
        await deleteSpanEntries(layer);
        this.advance(layer.bounds.at(-1)!.end, 0);
        continue;
      }
      for (let attempt = 0; ; attempt++) {
        for (let i = 0; i < layer.count; i++) {
          if (signal.aborted) throw aborted(signal);
          const size = spanSize(layer, i);
          if (await layer.stored(i)) {
            if (attempt === 0) this.advance(size, 0);
            continue;
          }
          await this.options.priority?.idle();
          if (signal.aborted) throw aborted(signal);
          const before = layer.stats.bytesFetched;
          if (!layer.storeWritable) {
            throw new ImageError('FailedPrecondition', `the cache cannot keep the spans of ${layer.layerDigest} (full or read-only), so the background download stopped`, { subject: layer.layerDigest, hint: 'free space in the cache directory or pass a writable --cache' });
          }
          // The missing spans from i on, up to BACKGROUND_RUN_BYTES, in one request (a request per span costs
          // more than the span on a fast link); in pieces anyway while reads are recent.
          let last = i;
          for (let bytes = size; last + 1 < layer.count && bytes + spanSize(layer, last + 1) <= BACKGROUND_RUN_BYTES && !(await layer.stored(last + 1)); last++) bytes += spanSize(layer, last + 1);
          await layer.spans(i, last, { background: true, yieldToForeground: true, signal });
          if (attempt === 0) {
            this.advance(size, layer.stats.bytesFetched - before);
            for (let k = i + 1; k <= last; k++) this.advance(spanSize(layer, k), 0);
          }
          i = last;
        }
        if (await assemble(layer, signal)) break;
        // A span entry vanished meanwhile (evicted by the size bound): fetch what is missing again.
        if (attempt >= 2) throw new ImageError('ResourceExhausted', `the cache could not hold every span of ${layer.layerDigest} at once`, { subject: layer.layerDigest, hint: 'raise the cache size bound (imagefs cache prune --max, DiskCache maxBytes)' });
      }
      this.options.onLayer?.(layer.layerDigest, performance.now() - started);
      this.options.onProgress?.({ ...this.progress });
    }
  }

  private advance(bytes: number, fetched: number): void {
    this.progress.bytes += bytes;
    this.progress.fetched += fetched;
    this.options.onProgress?.({ ...this.progress });
  }
}

/**
 * Most compressed bytes of consecutive missing spans the download asks for in one request (when
 * reads are quiet; while they are recent it goes in 256 KiB pieces, see `BACKGROUND_PIECE`).
 */
export const BACKGROUND_RUN_BYTES = 4 * 1024 * 1024;

/** Compressed bytes span `i` adds to the blob (consecutive spans may share a byte). */
function spanSize(layer: CompressedSpans, i: number): number {
  const b = layer.bounds[i]!;
  const previousEnd = i === 0 ? 0 : layer.bounds[i - 1]!.end;
  return b.end - Math.max(b.start, previousEnd);
}

/**
 * Joins the stored spans of `layer` into its whole blob under the layer digest (verified on
 * commit: one hash of the layer, not one per span as well), then deletes the span entries and
 * moves reads to the blob. False when a span entry is missing, or when the joined blob fails its
 * digest because a span entry was damaged on disk (the damaged entries are deleted; the caller
 * fetches them again).
 */
async function assemble(layer: CompressedSpans, signal: AbortSignal): Promise<boolean> {
  const store = layer.store as BlobCache;
  const size = layer.bounds.at(-1)!.end;
  const writer = await store.create(layer.layerDigest, { expectedSize: size });
  try {
    let written = 0;
    for (let i = 0; i < layer.count; i++) {
      if (signal.aborted) throw aborted(signal);
      const b = layer.bounds[i]!;
      const bytes = await readEntry(store, layer.key(i));
      if (bytes === undefined || bytes.length !== b.end - b.start) {
        await store.delete(layer.key(i)).catch(() => {});
        await writer.abort();
        return false;
      }
      await writer.write(bytes.subarray(written - b.start));
      written = b.end;
    }
    await writer.commit();
  } catch (error) {
    await writer.abort();
    if (error instanceof ImageError && error.code === 'DataLoss') {
      // Which span is damaged? Each is checked against the index now; the damaged go.
      if (await dropDamagedSpans(layer, store)) return false;
      throw dataLoss(`the stored spans of ${layer.layerDigest} do not join into the layer blob: ${error.message}`, { subject: layer.layerDigest, cause: error, hint: 'the index does not describe this blob; rebuild the index (imagefs index --push)' });
    }
    throw error;
  }
  const blob = await store.get(layer.layerDigest);
  if (blob !== undefined) layer.useLocalBlob(blob);
  await deleteSpanEntries(layer);
  return true;
}

/**
 * Deletes the span entries of `layer` from its store (best effort; missing ones are fine), once the
 * span writes running now are done (reads move to the blob first: no span is stored after that).
 */
async function deleteSpanEntries(layer: CompressedSpans): Promise<void> {
  const store = layer.store as BlobCache;
  await layer.settled();
  await Promise.all(Array.from({ length: layer.count }, (_, i) => store.delete(layer.key(i)).catch(() => {})));
}

/** The bytes of a cache entry, or undefined when it is missing. */
async function readEntry(store: BlobCache, key: string): Promise<Uint8Array | undefined> {
  const source = await store.get(key);
  if (source === undefined) return undefined;
  try {
    return await source.readAt(0, source.size);
  } finally {
    await source.close?.();
  }
}

/** Deletes the span entries of `layer` that do not match the index; true when there was one. */
async function dropDamagedSpans(layer: CompressedSpans, store: BlobCache): Promise<boolean> {
  let damaged = false;
  for (let i = 0; i < layer.count; i++) {
    const bytes = await readEntry(store, layer.key(i)).catch(() => undefined);
    if (bytes !== undefined && createHash('sha256').update(bytes).digest().equals(layer.spanDigestOf(i))) continue;
    damaged = true;
    await store.delete(layer.key(i)).catch(() => {});
  }
  return damaged;
}
