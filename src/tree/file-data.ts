import type { ReadAtSource, ReadOptions } from '../source/read-at.js';
import type { SparseMap } from '../tar/entry.js';
import type { FileContent } from './types.js';

/** The most bytes one `readAt` call asks a layer for; longer reads are split. */
export const MAX_READ_CHUNK = 8 * 1024 * 1024;

/**
 * The bytes of one regular file: where they sit in which layer's tar. A sparse file's stored
 * segments sit one after another from `offset`; its holes read as zeros.
 */
export class FileData implements FileContent {
  constructor(
    /** The layer's uncompressed tar. */
    private readonly source: ReadAtSource,
    /** Offset of the file's first stored byte in the tar. */
    private readonly offset: number,
    /** The file's logical size in bytes. */
    readonly size: number,
    /** Sparse files: the data segments (`[offset, length, ...]`). */
    private readonly sparse?: SparseMap,
  ) {}

  /**
   * Copies up to `length` bytes at `position` of the file into `into` at `at`; returns how many
   * (0 at or past the end).
   */
  async readInto(into: Uint8Array, at: number, length: number, position: number, options?: ReadOptions): Promise<number> {
    const n = Math.max(0, Math.min(length, this.size - position));
    if (this.sparse !== undefined) {
      await this.readSparse(into, at, n, position, options);
      return n;
    }
    await this.readStored(into, at, n, this.offset + position, options);
    return n;
  }

  /** The bytes [position, position + length) clipped to the file, as a new Buffer. */
  async read(position: number, length: number, options?: ReadOptions): Promise<Buffer> {
    const n = Math.max(0, Math.min(length, this.size - position));
    const out = Buffer.allocUnsafe(n);
    await this.readInto(out, 0, n, position, options);
    return out;
  }

  private async readStored(into: Uint8Array, at: number, n: number, from: number, options?: ReadOptions): Promise<void> {
    let done = 0;
    while (done < n) {
      const len = Math.min(MAX_READ_CHUNK, n - done);
      const bytes = await this.source.readAt(from + done, len, options);
      into.set(bytes, at + done);
      done += len;
    }
  }

  /** Zeros, then the stored segments that overlap `[position, position + n)` copied over them. */
  private async readSparse(into: Uint8Array, at: number, n: number, position: number, options?: ReadOptions): Promise<void> {
    into.fill(0, at, at + n);
    const map = this.sparse!;
    const end = position + n;
    let stored = 0;
    for (let i = 0; i < map.length; i += 2) {
      const segStart = map[i]!;
      const segLen = map[i + 1]!;
      const segEnd = segStart + segLen;
      if (segStart >= end) break;
      if (segEnd > position) {
        const from = Math.max(segStart, position);
        const to = Math.min(segEnd, end);
        await this.readStored(into, at + from - position, to - from, this.offset + stored + from - segStart, options);
      }
      stored += segLen;
    }
  }
}
