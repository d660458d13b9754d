/**
 * The uncompressed tar of a lazily read layer, built from verified spans.
 * @module
 */
import { getOrFetch } from '../cache/get-or-fetch.js';
import { NoCache } from '../cache/no-cache.js';
import type { BlobCache } from '../cache/types.js';
import { spanAt, type GzipSpanIndex } from '../gzip/checkpoint.js';
import { inflateFromAsync } from '../gzip/inflate-async.js';
import { checkRange, type ReadAtSource, type ReadOptions } from '../source/read-at.js';
import type { CompressedSpans } from './compressed-spans.js';
import { tarRangeKey } from './span-keys.js';

/**
 * A {@link ReadAtSource} over a layer's uncompressed tar, made of spans: every read, inside one
 * span or across many, is assembled from decoded spans (cache key `tar-range/<layer>/<a>-<b>`),
 * and every decoded span from its verified compressed span ({@link CompressedSpans}: fetched
 * once, shared, kept). A read across spans first asks for all its missing compressed spans at
 * once, so they travel in one range request.
 *
 * @example
 * ```ts
 * const data = new LazyLayerData(spans, spanIndexOf(index), 'gzip', new MemoryCache());
 * const header = await data.readAt(0, 512);
 * ```
 */
export class LazyLayerData implements ReadAtSource {
  readonly size: number;
  private readonly decoded: BlobCache;

  /**
   * @param spans - the layer's compressed spans.
   * @param index - checkpoints and windows (for inflating gzip spans).
   * @param compression - `gzip`, or `none` for a plain tar (a span is then its own bytes).
   * @param decoded - where decoded gzip spans are kept (a bounded MemoryCache). Default: none.
   */
  constructor(
    private readonly spans: CompressedSpans,
    private readonly index: GzipSpanIndex,
    private readonly compression: 'gzip' | 'none',
    decoded?: BlobCache,
  ) {
    this.size = index.uncompressedSize;
    this.decoded = decoded ?? new NoCache();
  }

  async readAt(offset: number, length: number, options: ReadOptions = {}): Promise<Uint8Array> {
    checkRange(this.size, offset, length);
    if (length === 0) return new Uint8Array(0);
    const { positions } = this.index;
    const first = spanAt(positions, offset);
    const last = spanAt(positions, offset + length - 1);
    const bounds = this.spans.bounds;
    if (this.compression === 'none') {
      const parts = await this.spans.spans(first, last, options);
      return assemble(parts, first, bounds.map((b) => b.uStart), offset, length);
    }
    const compressed = new Map<number, Uint8Array>();
    if (first !== last) {
      // Ask for every compressed span not decoded yet in one call: one request per missing run.
      const has = await Promise.all(Array.from({ length: last - first + 1 }, (_, k) => this.decoded.has(this.key(first + k)).catch(() => false)));
      const lo = has.indexOf(false);
      if (lo >= 0) {
        const got = await this.spans.spans(first + lo, first + has.lastIndexOf(false), options);
        got.forEach((bytes, k) => compressed.set(first + lo + k, bytes));
      }
    }
    const parts = await Promise.all(Array.from({ length: last - first + 1 }, (_, k) => this.decodedSpan(first + k, options.signal, compressed.get(first + k))));
    return assemble(parts, first, bounds.map((b) => b.uStart), offset, length);
  }

  /** Closes the compressed spans (the caches belong to whoever made them). */
  async close(): Promise<void> {
    await this.spans.close();
  }

  private key(i: number): string {
    const b = this.spans.bounds[i]!;
    return tarRangeKey(this.spans.layerDigest, b.uStart, b.uEnd);
  }

  /** Decoded span `i`, from the decoded cache or inflated from `compressed` (fetched when not given). */
  private async decodedSpan(i: number, signal: AbortSignal | undefined, compressed?: Uint8Array): Promise<Uint8Array> {
    const b = this.spans.bounds[i]!;
    const size = b.uEnd - b.uStart;
    const source = await getOrFetch(this.decoded, this.key(i), async (writer, fetchSignal) => {
      const bytes = compressed ?? (await this.spans.spans(i, i, { signal: fetchSignal }))[0]!;
      const position = this.index.positions[i]!;
      const window = this.index.window(i);
      // On the gzip worker pool, so the event loop keeps turning while a span inflates.
      const { bytes: decoded } = await inflateFromAsync(window === undefined ? position : { ...position, window }, bytes, 0, size, { subject: this.spans.layerDigest });
      await writer.write(decoded);
    }, { expectedSize: size, fallbackMaxBytes: size, ...(signal === undefined ? {} : { signal }) });
    try {
      return await source.readAt(0, size);
    } finally {
      await source.close?.();
    }
  }
}

/** Copies [offset, offset + length) out of consecutive spans starting at span `first`. */
function assemble(parts: Uint8Array[], first: number, starts: readonly number[], offset: number, length: number): Uint8Array {
  if (parts.length === 1) {
    const from = offset - starts[first]!;
    return parts[0]!.slice(from, from + length); // a copy: the span may be a cache's own bytes
  }
  const out = new Uint8Array(length);
  parts.forEach((part, k) => {
    const base = starts[first + k]!;
    const from = Math.max(offset, base);
    const to = Math.min(offset + length, base + part.length);
    if (to > from) out.set(part.subarray(from - base, to - base), from - offset);
  });
  return out;
}
