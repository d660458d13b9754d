import type { ReadAtSource, ReadOptions } from '../source/read-at.js';

/** The most bytes one `readAt` call asks a layer for; longer reads are split. */
export const MAX_READ_CHUNK = 8 * 1024 * 1024;

/** The bytes of one regular file: where they sit in which layer's tar. */
export class FileData {
  constructor(
    /** The layer's uncompressed tar. */
    private readonly source: ReadAtSource,
    /** Offset of the file's first byte in the tar. */
    private readonly offset: number,
    /** The file's size in bytes. */
    readonly size: number,
  ) {}

  /**
   * Copies up to `length` bytes at `position` of the file into `into` at `at`; returns how many
   * (0 at or past the end).
   */
  async readInto(into: Uint8Array, at: number, length: number, position: number, options?: ReadOptions): Promise<number> {
    const n = Math.max(0, Math.min(length, this.size - position));
    let done = 0;
    while (done < n) {
      const len = Math.min(MAX_READ_CHUNK, n - done);
      const bytes = await this.source.readAt(this.offset + position + done, len, options);
      into.set(bytes, at + done);
      done += len;
    }
    return n;
  }

  /** The bytes [position, position + length) clipped to the file, as a new Buffer. */
  async read(position: number, length: number, options?: ReadOptions): Promise<Buffer> {
    const n = Math.max(0, Math.min(length, this.size - position));
    const out = Buffer.allocUnsafe(n);
    await this.readInto(out, 0, n, position, options);
    return out;
  }
}
