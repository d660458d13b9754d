/**
 * Random access to the uncompressed stream of a gzip blob through its index: the lazy read path.
 * @module
 */
import { createHash } from 'node:crypto';
import { dataLoss, throwIfAborted } from '../errors/image-fs-error.js';
import { checkRange, type ReadAtSource, type ReadOptions } from '../source/read-at.js';
import { gzipSpanIndex, spanAt, spanRange, type GzipIndex, type GzipSpanIndex } from './checkpoint.js';
import { inflateFrom } from './inflate-from.js';

/** Options of {@link GzipSpanReader}. */
export interface GzipSpanReaderOptions {
  /** Names the blob in error messages (e.g. the layer digest). */
  subject?: string;
}

/** Counters of a reader, for diagnostics and benchmarks. */
export interface GzipSpanReaderStats {
  /** `readAt` calls made on the compressed source. */
  fetches: number;
  /** Compressed bytes fetched. */
  bytesFetched: number;
}

/**
 * A {@link ReadAtSource} over the uncompressed stream of a gzip blob, reading the blob lazily.
 *
 * A read of [a, b) picks the last checkpoint at or before a, fetches the compressed spans that
 * cover [a, b) with ONE `readAt` on the blob, checks each span against its sha256 in the index
 * (a mismatch is `DataLoss` and nothing is returned), then inflates from the checkpoint and
 * returns the slice.
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
  readonly stats: GzipSpanReaderStats = { fetches: 0, bytesFetched: 0 };
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
    for (let i = first; i <= last; i++) this.verifySpan(i, compressed, start);
    const position = positions[first]!;
    const window = this.index.window(first);
    const cp = window === undefined ? position : { ...position, window };
    return inflateFrom(cp, compressed, offset - cp.uncompressedOffset, length, this.options.subject);
  }

  /** Closes the blob source. */
  async close(): Promise<void> {
    await this.blob.close?.();
  }


  private verifySpan(i: number, compressed: Uint8Array, base: number): void {
    const { start, end } = spanRange(this.index.positions, this.index.compressedSize, i);
    const actual = createHash('sha256').update(compressed.subarray(start - base, end - base)).digest();
    if (!actual.equals(this.index.spanDigest(i))) {
      const subject = this.options.subject;
      throw dataLoss(`compressed span ${i} (bytes ${start}-${end - 1})${subject === undefined ? '' : ` of ${subject}`} does not match its digest in the index`, {
        ...(subject === undefined ? {} : { subject }),
        hint: 'the blob or its index is corrupt: fetch the layer again or rebuild the index',
      });
    }
  }
}
