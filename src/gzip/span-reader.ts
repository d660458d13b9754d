/**
 * Random access to the uncompressed stream of a gzip blob through its index: the lazy read path.
 * @module
 */
import { dataLoss, throwIfAborted } from '../errors/image-fs-error.js';
import { checkRange, type ReadAtSource, type ReadOptions } from '../source/read-at.js';
import { gzipSpanIndex, spanAt, spanRange, type GzipIndex, type GzipSpanIndex } from './checkpoint.js';
import { inflateFromAsync } from './inflate-async.js';
import type { SpanPool } from './span-pool.js';

/** Options of {@link GzipSpanReader}. */
export interface GzipSpanReaderOptions {
  /** Names the blob in error messages (e.g. the layer digest). */
  subject?: string;
  /**
   * Where spans are checked and inflated: a {@link SpanPool} of worker threads (default: the
   * process-wide {@link defaultSpanPool}), or `false` for the calling thread. When a worker cannot
   * run, the read is decoded on the calling thread.
   */
  pool?: SpanPool | false;
}

/** Counters of a reader, for diagnostics and benchmarks. */
export interface GzipSpanReaderStats {
  /** `readAt` calls made on the compressed source. */
  fetches: number;
  /** Compressed bytes fetched. */
  bytesFetched: number;
  /** Reads decoded on a worker thread. */
  offloaded: number;
}

/**
 * A {@link ReadAtSource} over the uncompressed stream of a gzip blob, reading the blob lazily.
 *
 * A read of [a, b) picks the last checkpoint at or before a, fetches the compressed spans that
 * cover [a, b) with ONE `readAt` on the blob, checks each span against its sha256 in the index
 * (a mismatch is `DataLoss` and nothing is returned), then inflates from the checkpoint and
 * returns the slice. The checks and the inflate run on a worker thread ({@link SpanPool}) unless
 * `options.pool` is `false`, so the caller's event loop keeps turning.
 *
 * @example
 * ```ts
 * const data = new GzipSpanReader(builder.finish(), registryBlob);
 * const header = await data.readAt(entry.dataOffset, 512);
 * ```
 */
export class GzipSpanReader implements ReadAtSource {
  /** The uncompressed size. */
  readonly size: number;
  /** Fetch counters. */
  readonly stats: GzipSpanReaderStats = { fetches: 0, bytesFetched: 0, offloaded: 0 };
  private readonly index: GzipSpanIndex;

  /**
   * @param index - the checkpoints and span digests (trusted: from a verified index); a
   *   {@link GzipIndex} or any {@link GzipSpanIndex} (e.g. over a stored LayerIndex).
   * @param blob - the compressed blob, of size `index.compressedSize`.
   */
  constructor(index: GzipIndex | GzipSpanIndex, private readonly blob: ReadAtSource, private readonly options: GzipSpanReaderOptions = {}) {
    this.index = 'positions' in index ? index : gzipSpanIndex(index);
    const { positions } = this.index;
    if (positions.length === 0 || positions[0]?.uncompressedOffset !== 0) throw new TypeError('the index must have a checkpoint at uncompressed offset 0');
    if (blob.size !== this.index.compressedSize) throw new TypeError(`the blob has ${blob.size} bytes but the index expects ${this.index.compressedSize}`);
    this.size = this.index.uncompressedSize;
  }

  /** Reads uncompressed bytes [offset, offset + length). Rejects with `DataLoss` when a span fails its digest. */
  async readAt(offset: number, length: number, options: ReadOptions = {}): Promise<Uint8Array> {
    throwIfAborted(options.signal);
    checkRange(this.size, offset, length);
    if (length === 0) return new Uint8Array(0);
    const { positions, compressedSize } = this.index;
    const first = spanAt(this.index.positions, offset);
    const last = spanAt(this.index.positions, offset + length - 1);
    const start = spanRange(positions, compressedSize, first).start;
    const end = spanRange(positions, compressedSize, last).end;
    const compressed = await this.blob.readAt(start, end - start, options);
    this.stats.fetches++;
    this.stats.bytesFetched += end - start;
    throwIfAborted(options.signal);
    const position = positions[first]!;
    const window = this.index.window(first);
    const cp = window === undefined ? position : { ...position, window };
    const spans = [];
    for (let i = first; i <= last; i++) {
      const range = spanRange(positions, compressedSize, i);
      spans.push({ start: range.start - start, end: range.end - start, digest: this.index.spanDigest(i) });
    }
    const { bytes, offloaded } = await inflateFromAsync(cp, compressed, offset - cp.uncompressedOffset, length, {
      ...(this.options.subject === undefined ? {} : { subject: this.options.subject }),
      ...(this.options.pool === undefined ? {} : { pool: this.options.pool }),
      verify: { spans, mismatch: (k) => this.spanMismatch(first + k) },
    });
    throwIfAborted(options.signal);
    if (offloaded) this.stats.offloaded++;
    return bytes;
  }

  /** Closes the blob source. */
  async close(): Promise<void> {
    await this.blob.close?.();
  }

  private spanMismatch(i: number): Error {
    const { start, end } = spanRange(this.index.positions, this.index.compressedSize, i);
    const subject = this.options.subject;
    return dataLoss(`compressed span ${i} (bytes ${start}-${end - 1})${subject === undefined ? '' : ` of ${subject}`} does not match its digest in the index`, {
      ...(subject === undefined ? {} : { subject }),
      hint: 'the blob or its index is corrupt: fetch the layer again or rebuild the index',
    });
  }
}
