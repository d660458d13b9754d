/**
 * Random access to an uncompressed (plain tar) layer through its index: every read is one range
 * request over whole spans, each checked against its sha256 before a byte is returned.
 * @module
 */
import { createHash } from 'node:crypto';
import { dataLoss, throwIfAborted } from '../errors/image-fs-error.js';
import { spanAt, type GzipSpanIndex } from '../gzip/checkpoint.js';
import { checkRange, type ReadAtSource, type ReadOptions } from '../source/read-at.js';

/** Counters of a span reader, for diagnostics and benchmarks. */
export interface SpanReaderStats {
  /** `readAt` calls made on the blob. */
  fetches: number;
  /** Blob bytes fetched. */
  bytesFetched: number;
}

/**
 * A {@link ReadAtSource} over a plain tar blob, verified span by span. The index's checkpoints
 * mark span starts (compressed offset = uncompressed offset, bit offset 0, no window), and
 * `spanDigest(i)` is the sha256 of span `i` (to the next checkpoint, the last to the end).
 *
 * A read of [a, b) fetches the spans that cover it with ONE `readAt` and verifies each; a mismatch
 * is `DataLoss` and nothing is returned. So a lazy read of an uncompressed layer is as trustworthy
 * as one of a gzip layer.
 *
 * @example
 * ```ts
 * const data = new UncompressedSpanReader(spanIndex, await source.openBlob(layer));
 * const bytes = await data.readAt(entry.dataOffset, entry.size);
 * ```
 */
export class UncompressedSpanReader implements ReadAtSource {
  /** The blob's (and the tar's) size. */
  readonly size: number;
  /** Fetch counters. */
  readonly stats: SpanReaderStats = { fetches: 0, bytesFetched: 0 };

  /**
   * @param index - span positions and digests (trusted: from a verified index).
   * @param blob - the layer blob, of size `index.compressedSize`.
   * @param subject - names the blob in error messages (e.g. the layer digest).
   */
  constructor(private readonly index: GzipSpanIndex, private readonly blob: ReadAtSource, private readonly subject?: string) {
    const { positions } = index;
    if (index.compressedSize !== index.uncompressedSize) throw new TypeError('an uncompressed layer index must have equal compressed and uncompressed sizes');
    if (positions.length === 0 || positions[0]!.uncompressedOffset !== 0) throw new TypeError('the index must have a checkpoint at offset 0');
    if (positions.some((p) => p.compressedOffset !== p.uncompressedOffset || p.bitOffset !== 0)) {
      throw new TypeError('an uncompressed layer index must have checkpoints with equal offsets and bit offset 0');
    }
    if (blob.size !== index.compressedSize) throw new TypeError(`the blob has ${blob.size} bytes but the index expects ${index.compressedSize}`);
    this.size = index.uncompressedSize;
  }

  /** Reads bytes [offset, offset + length). Rejects with `DataLoss` when a span fails its digest. */
  async readAt(offset: number, length: number, options: ReadOptions = {}): Promise<Uint8Array> {
    throwIfAborted(options.signal);
    checkRange(this.size, offset, length);
    if (length === 0) return new Uint8Array(0);
    const first = spanAt(this.index.positions, offset);
    const last = spanAt(this.index.positions, offset + length - 1);
    const start = this.spanStart(first);
    const end = this.spanStart(last + 1);
    const bytes = await this.blob.readAt(start, end - start, options);
    this.stats.fetches++;
    this.stats.bytesFetched += end - start;
    throwIfAborted(options.signal);
    for (let i = first; i <= last; i++) {
      const from = this.spanStart(i) - start;
      const to = this.spanStart(i + 1) - start;
      const actual = createHash('sha256').update(bytes.subarray(from, to)).digest();
      if (!actual.equals(this.index.spanDigest(i))) {
        throw dataLoss(`span ${i} (bytes ${from + start}-${to + start - 1})${this.subject === undefined ? '' : ` of ${this.subject}`} does not match its digest in the index`, {
          ...(this.subject === undefined ? {} : { subject: this.subject }),
          hint: 'the blob or its index is corrupt: fetch the layer again or rebuild the index',
        });
      }
    }
    return bytes.subarray(offset - start, offset - start + length);
  }

  /** Closes the blob source. */
  async close(): Promise<void> {
    await this.blob.close?.();
  }

  private spanStart(i: number): number {
    return this.index.positions[i]?.compressedOffset ?? this.index.compressedSize;
  }

}
