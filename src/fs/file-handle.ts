import { FsError } from '../errors/fs-error.js';
import type { ReadOptions } from '../source/read-at.js';
import type { FileData } from './file-data.js';
import type { ImageStats } from './stats.js';

/** What {@link ImageFileHandle.read} resolves to, as Node's `FileHandle.read`. */
export interface ReadResult<T extends Uint8Array> {
  /** Bytes read (0 at the end of the file). */
  bytesRead: number;
  /** The buffer that was given. */
  buffer: T;
}

/** The object form of {@link ImageFileHandle.read}'s arguments. */
export interface ReadIntoOptions<T extends Uint8Array> {
  /** Where to put the bytes (default: a new 16 KiB buffer). */
  buffer?: T;
  /** Offset in `buffer` (default 0). */
  offset?: number;
  /** Bytes to read (default: the rest of `buffer`). */
  length?: number;
  /** File position; `null` or omitted reads at the current position and advances it. */
  position?: number | null;
}

/** Chunk size of {@link ImageFileHandle}'s async iteration. */
export const HANDLE_CHUNK = 64 * 1024;

let nextFd = 1000;

/**
 * An open file of an {@link ImageFs}, shaped like `node:fs/promises` `FileHandle`: `read`,
 * `readFile`, `stat`, `close`, and async iteration over its bytes in chunks. Directories can be
 * opened (as with `open(2)`), but reading one fails with `EISDIR`.
 *
 * @example
 * ```ts
 * const fh = await fs.open('/etc/os-release');
 * try { for await (const chunk of fh) process.stdout.write(chunk); } finally { await fh.close(); }
 * ```
 */
export class ImageFileHandle implements AsyncIterable<Buffer> {
  /** A number naming the handle (not an OS descriptor). */
  readonly fd: number;
  private position = 0;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly data: FileData | null,
    private readonly stats: ImageStats,
  ) {
    this.fd = nextFd++;
  }

  /**
   * Reads into `buffer` at `offset`, `length` bytes from `position` (or from the current position,
   * advancing it, when `position` is null or omitted). Also takes Node's object form.
   */
  async read<T extends Uint8Array = Buffer>(buffer?: T | ReadIntoOptions<T>, offset?: number, length?: number, position?: number | null): Promise<ReadResult<T>> {
    let buf: T;
    if (buffer === undefined || !(buffer instanceof Uint8Array)) {
      const o = buffer ?? {};
      buf = o.buffer ?? (Buffer.alloc(16384) as unknown as T);
      offset = o.offset;
      length = o.length;
      position = o.position;
    } else {
      buf = buffer;
    }
    const at = offset ?? 0;
    const len = length ?? buf.byteLength - at;
    if (at < 0 || len < 0 || at + len > buf.byteLength) throw new RangeError(`offset ${at} and length ${len} do not fit a buffer of ${buf.byteLength} bytes`);
    const data = this.readable('read');
    const advance = position === null || position === undefined || position < 0;
    const pos = advance ? this.position : position!;
    const n = await data.readInto(buf, at, len, pos);
    if (advance) this.position += n;
    return { bytesRead: n, buffer: buf };
  }

  /** Reads the rest of the file from the current position; a string when `encoding` is given. */
  async readFile(options?: (ReadOptions & { encoding?: BufferEncoding | null }) | BufferEncoding | null): Promise<Buffer | string> {
    const opts = typeof options === 'string' ? { encoding: options } : options ?? {};
    const data = this.readable('read');
    const bytes = await data.read(this.position, data.size - this.position, opts);
    this.position += bytes.length;
    return opts.encoding ? bytes.toString(opts.encoding) : bytes;
  }

  /** The file's status. */
  async stat(): Promise<ImageStats> {
    this.check('fstat');
    return this.stats;
  }

  /** Closes the handle; later calls fail with `EBADF`. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
  }

  /** Same as {@link ImageFileHandle.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Yields the rest of the file from the current position in chunks of {@link HANDLE_CHUNK} bytes. */
  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    const data = this.readable('read');
    while (this.position < data.size) {
      const chunk = await data.read(this.position, HANDLE_CHUNK);
      this.position += chunk.length;
      yield chunk;
    }
  }

  private check(syscall: string): void {
    if (this.closed) throw new FsError('EBADF', syscall, this.path);
  }

  private readable(syscall: string): FileData {
    this.check(syscall);
    if (this.data === null) throw new FsError('EISDIR', syscall, this.path);
    return this.data;
  }
}
