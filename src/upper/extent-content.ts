import type { ReadOptions } from '../source/read-at.js';
import type { FileContent } from '../tree/types.js';

/** Where a written extent's bytes are: in memory, or at an offset of the upper's journal. */
export type DataRef = Uint8Array | number;

/** Reads `length` bytes of a {@link DataRef} from `offset` into `into` at `at`. */
export type RefReader = (ref: DataRef, offset: number, into: Uint8Array, at: number, length: number) => Promise<void>;

/** One written range of a file: bytes `[start, start + length)` are `ref`'s bytes from `refOffset`. */
export interface Extent {
  /** File offset of the first byte. */
  start: number;
  /** Bytes. */
  length: number;
  /** Where they are. */
  ref: DataRef;
  /** Offset of the first byte in `ref`. */
  refOffset: number;
}

/**
 * The bytes of a file of the upper layer: written extents over a base (the lower file's bytes,
 * read lazily, or nothing). A write never reads the base, so writing one block of a big lower file
 * fetches none of it; truncating only lowers `baseLimit` (what is left of the base). Bytes that
 * are neither written nor base read as zeros (holes).
 *
 * @example
 * ```ts
 * const c = new ExtentContent(lowerContent, readRef);
 * c.write(4096, Buffer.from('x'));
 * await c.read(4096, 1); // <Buffer 78>
 * ```
 */
export class ExtentContent implements FileContent {
  /** Logical size. */
  size: number;
  /** Bytes `[0, baseLimit)` not covered by an extent come from `base`. */
  baseLimit: number;
  /** Written extents, sorted by `start`, not overlapping. */
  readonly extents: Extent[] = [];

  constructor(readonly base: FileContent | null, private readonly readRef: RefReader) {
    this.size = base?.size ?? 0;
    this.baseLimit = this.size;
  }

  /** Records that bytes `[position, position + length)` are now `ref`'s (from `refOffset`). */
  write(position: number, length: number, ref: DataRef, refOffset = 0): void {
    if (length === 0) return;
    const end = position + length;
    const last = this.extents[this.extents.length - 1];
    if (last === undefined || position >= last.start + last.length) {
      this.extents.push({ start: position, length, ref, refOffset });
      if (end > this.size) this.size = end;
      return;
    }
    const kept: Extent[] = [];
    let insertAt = -1;
    for (const e of this.extents) {
      const eEnd = e.start + e.length;
      if (eEnd <= position || e.start >= end) {
        if (e.start >= end && insertAt < 0) insertAt = kept.length;
        kept.push(e);
        continue;
      }
      if (e.start < position) kept.push({ ...e, length: position - e.start });
      if (insertAt < 0) insertAt = kept.length;
      if (eEnd > end) kept.push({ start: end, length: eEnd - end, ref: e.ref, refOffset: e.refOffset + (end - e.start) });
    }
    if (insertAt < 0) insertAt = kept.length;
    // Keep the pieces of a split extent that start after `end` behind the new one.
    kept.splice(insertAt, 0, { start: position, length, ref, refOffset });
    kept.sort((a, b) => a.start - b.start);
    this.extents.length = 0;
    this.extents.push(...kept);
    if (end > this.size) this.size = end;
  }

  /** Changes the size: shrinking drops what is past it (of extents and of the base), growing adds a hole. */
  truncate(size: number): void {
    if (size < this.size) {
      for (let i = this.extents.length - 1; i >= 0; i--) {
        const e = this.extents[i]!;
        if (e.start >= size) this.extents.splice(i, 1);
        else if (e.start + e.length > size) e.length = size - e.start;
      }
      this.baseLimit = Math.min(this.baseLimit, size);
    }
    this.size = size;
  }

  /** Bytes held by the extents (not the base). */
  get writtenBytes(): number {
    let n = 0;
    for (const e of this.extents) n += e.length;
    return n;
  }

  async readInto(into: Uint8Array, at: number, length: number, position: number, options?: ReadOptions): Promise<number> {
    const n = Math.max(0, Math.min(length, this.size - position));
    const end = position + n;
    let cur = position;
    for (const e of this.extents) {
      const eEnd = e.start + e.length;
      if (eEnd <= cur) continue;
      if (e.start >= end) break;
      if (e.start > cur) await this.fillGap(into, at + cur - position, cur, e.start, options);
      const from = Math.max(cur, e.start);
      const to = Math.min(end, eEnd);
      await this.readRef(e.ref, e.refOffset + from - e.start, into, at + from - position, to - from);
      cur = to;
    }
    if (cur < end) await this.fillGap(into, at + cur - position, cur, end, options);
    return n;
  }

  async read(position: number, length: number, options?: ReadOptions): Promise<Buffer> {
    const n = Math.max(0, Math.min(length, this.size - position));
    const out = Buffer.alloc(n);
    await this.readInto(out, 0, n, position, options);
    return out;
  }

  /** Bytes `[from, to)` that no extent covers: the base's below `baseLimit`, zeros above. */
  private async fillGap(into: Uint8Array, at: number, from: number, to: number, options?: ReadOptions): Promise<void> {
    const baseTo = Math.min(to, this.baseLimit);
    if (this.base !== null && baseTo > from) await this.base.readInto(into, at, baseTo - from, from, options);
    const zeroFrom = Math.max(from, baseTo);
    if (zeroFrom < to) into.fill(0, at + zeroFrom - from, at + to - from);
  }
}
