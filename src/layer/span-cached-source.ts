import { getOrFetch } from '../cache/get-or-fetch.js';
import type { BlobCache } from '../cache/types.js';
import { spanAt } from '../gzip/checkpoint.js';
import type { Checkpoint } from '../layer-index/checkpoint.js';
import { checkRange, type ReadAtSource, type ReadOptions } from '../source/read-at.js';

/**
 * Keeps decoded spans of a lazily read layer in a {@link BlobCache}, so that reading many small
 * files of one span fetches, verifies and inflates that span once, not once per file; concurrent
 * readers of a span share one fetch (`getOrFetch` is single-flight).
 *
 * A read inside one span goes through the cache (key `span/<layer digest>/<span>`, the whole span
 * decoded by the inner reader, which verifies it against the index first). A read across spans
 * goes straight to the inner reader, which serves it with one range request.
 */
export class SpanCachedSource implements ReadAtSource {
  readonly size: number;

  /**
   * @param inner - the verifying span reader (gzip or plain tar) over the layer blob.
   * @param positions - the index's checkpoints: span i is [positions[i], positions[i+1]) of output.
   * @param cache - where decoded spans are kept (a bounded MemoryCache by default in openImage).
   * @param layerDigest - names the spans in the cache.
   */
  constructor(
    private readonly inner: ReadAtSource,
    private readonly positions: readonly Checkpoint[],
    private readonly cache: BlobCache,
    private readonly layerDigest: string,
  ) {
    this.size = inner.size;
  }

  async readAt(offset: number, length: number, options: ReadOptions = {}): Promise<Uint8Array> {
    checkRange(this.size, offset, length);
    if (length === 0) return new Uint8Array(0);
    const span = spanAt(this.positions, offset);
    const start = this.positions[span]!.uncompressedOffset;
    const end = this.positions[span + 1]?.uncompressedOffset ?? this.size;
    if (offset + length > end) return this.inner.readAt(offset, length, options);
    const decoded = await getOrFetch(this.cache, `span/${this.layerDigest}/${span}`, async (writer, signal) => {
      await writer.write(await this.inner.readAt(start, end - start, { signal }));
    }, { expectedSize: end - start, fallbackMaxBytes: end - start, ...(options.signal ? { signal: options.signal } : {}) });
    try {
      return await decoded.readAt(offset - start, length, options);
    } finally {
      await decoded.close?.();
    }
  }

  /** Closes the inner reader (the cache belongs to whoever made it). */
  async close(): Promise<void> {
    await this.inner.close?.();
  }
}
