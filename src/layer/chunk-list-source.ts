import { throwIfAborted } from '../errors/image-fs-error.js';
import { checkRange, type ReadAtSource, type ReadOptions } from '../source/read-at.js';

/**
 * A {@link ReadAtSource} over a list of chunks held in memory, without joining them into one
 * buffer (a decompressed layer arrives in chunks; joining would hold it twice). A read inside one
 * chunk returns a view of it; a read across chunks copies.
 *
 * @example
 * ```ts
 * const src = new ChunkListSource([a, b, c]);
 * const bytes = await src.readAt(10, 100);
 * ```
 */
export class ChunkListSource implements ReadAtSource {
  /** Total size in bytes. */
  readonly size: number;
  private readonly chunks: Uint8Array[];
  /** Offset of each chunk's first byte. */
  private readonly starts: number[];

  /** @param chunks - the bytes, in order (kept, not copied: do not change them afterwards). */
  constructor(chunks: readonly Uint8Array[]) {
    this.chunks = chunks.filter((c) => c.length > 0);
    this.starts = [];
    let at = 0;
    for (const c of this.chunks) {
      this.starts.push(at);
      at += c.length;
    }
    this.size = at;
  }

  /** Reads exactly `length` bytes at `offset` (RangeError outside the source). */
  async readAt(offset: number, length: number, options: ReadOptions = {}): Promise<Uint8Array> {
    throwIfAborted(options.signal);
    checkRange(this.size, offset, length);
    if (length === 0) return new Uint8Array(0);
    let i = this.find(offset);
    const first = this.chunks[i]!;
    const within = offset - this.starts[i]!;
    if (within + length <= first.length) return first.subarray(within, within + length);
    const out = new Uint8Array(length);
    let done = 0;
    let from = within;
    while (done < length) {
      const c = this.chunks[i++]!;
      const n = Math.min(c.length - from, length - done);
      out.set(c.subarray(from, from + n), done);
      done += n;
      from = 0;
    }
    return out;
  }

  /** Index of the chunk holding `offset` (binary search). */
  private find(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
