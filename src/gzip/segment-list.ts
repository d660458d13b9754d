/**
 * A list of byte views addressed by absolute stream offsets: the recent part of a stream kept
 * without copying, so that ranges can be copied or hashed later and the head dropped.
 * @module
 */
import type { Hash } from 'node:crypto';

/**
 * Byte views of a stream, in order and contiguous, from {@link SegmentList.start} to
 * {@link SegmentList.end}. Views are referenced, not copied: their owners must not modify them.
 */
export class SegmentList {
  private views: Uint8Array[] = [];
  private starts: number[] = [];
  private first = 0;
  /** Absolute offset of the first byte held. */
  start: number;
  /** Absolute offset just past the last byte held. */
  end: number;

  /** @param start - absolute offset of the first byte that will be appended. */
  constructor(start = 0) {
    this.start = start;
    this.end = start;
  }

  /** Appends the next bytes of the stream (empty views are ignored). */
  append(view: Uint8Array): void {
    if (view.length === 0) return;
    this.views.push(view);
    this.starts.push(this.end);
    this.end += view.length;
  }

  /** Forgets every view that ends at or before `offset`. */
  dropBefore(offset: number): void {
    while (this.first < this.views.length) {
      const view = this.views[this.first] as Uint8Array;
      const viewEnd = (this.starts[this.first] as number) + view.length;
      if (viewEnd > offset) break;
      this.start = viewEnd;
      this.first++;
    }
    if (this.first > 64 && this.first * 2 > this.views.length) {
      this.views = this.views.slice(this.first);
      this.starts = this.starts.slice(this.first);
      this.first = 0;
    }
  }

  /** Calls `visit` with the views covering `[from, to)`, trimmed to it. */
  forEach(from: number, to: number, visit: (bytes: Uint8Array) => void): void {
    if (from < this.start || to > this.end || from > to) {
      throw new RangeError(`internal: range ${from}-${to} is not held (held ${this.start}-${this.end})`);
    }
    for (let i = this.first; i < this.views.length && from < to; i++) {
      const view = this.views[i] as Uint8Array;
      const viewStart = this.starts[i] as number;
      const viewEnd = viewStart + view.length;
      if (viewEnd <= from) continue;
      const a = from - viewStart;
      const b = Math.min(view.length, to - viewStart);
      visit(view.subarray(a, b));
      from = viewStart + b;
    }
  }

  /** Copies `[from, to)` into a new array. */
  copy(from: number, to: number): Uint8Array {
    const out = new Uint8Array(to - from);
    let pos = 0;
    this.forEach(from, to, (bytes) => {
      out.set(bytes, pos);
      pos += bytes.length;
    });
    return out;
  }

  /** Feeds `[from, to)` to a hash. */
  hash(from: number, to: number, hash: Hash): void {
    this.forEach(from, to, (bytes) => hash.update(bytes));
  }
}
