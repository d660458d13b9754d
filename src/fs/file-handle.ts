import type { ReadableStream } from 'node:stream/web';
import { Readable } from 'node:stream';
import { createInterface, type Interface } from 'node:readline';
import { FsError } from '../errors/fs-error.js';
import type { ReadOptions } from '../source/read-at.js';
import type { FileContent, SetAttrs } from '../tree/types.js';
import { guardRead } from './fs-args.js';
import { dataArg, toTimespec, type TimeLike } from './write-args.js';
import { createFileReadStream, type ReadStreamOptions } from './read-stream.js';
import type { ImageBigIntStats, ImageStats } from './stats.js';

/** What {@link ImageFileHandle.read} resolves to, as Node's `FileHandle.read`. */
export interface ReadResult<T extends Uint8Array> {
  /** Bytes read (0 at the end of the file). */
  bytesRead: number;
  /** The buffer that was given. */
  buffer: T;
}

/** What {@link ImageFileHandle.readv} resolves to. */
export interface ReadVResult<T extends readonly NodeJS.ArrayBufferView[]> {
  /** Bytes read into all buffers together. */
  bytesRead: number;
  /** The buffers that were given. */
  buffers: T;
}

/** The object form of {@link ImageFileHandle.read}'s arguments. */
export interface ReadIntoOptions<T extends Uint8Array> {
  /** Where to put the bytes (default: a new 16 KiB buffer). */
  buffer?: T;
  /** Offset in `buffer` (default 0). */
  offset?: number;
  /** Bytes to read (default: the rest of `buffer`). */
  length?: number;
  /** File position; `null`, `-1` or omitted reads at the current position and advances it. */
  position?: number | bigint | null;
}

/** Chunk size of {@link ImageFileHandle}'s async iteration. */
export const HANDLE_CHUNK = 64 * 1024;

/** How an open file reaches its inode's data and status (given by {@link ImageFs.open}). */
export interface OpenedFile {
  /** The path it was opened by, for errors. */
  path: string;
  /** The bytes, or null for a directory. */
  data: FileContent | null;
  /** The status, number or bigint form. */
  stat(bigint: boolean): ImageStats | ImageBigIntStats;
  /** False for a handle opened write-only (reads fail with `EBADF`). Default true. */
  readable?: boolean;
  /** How the handle writes; absent for a handle not opened for writing (writes fail with `EBADF`). */
  writer?: HandleWriter;
  /** Changes the inode's attributes (`chmod`, `chown`, `utimes`; absent: `EROFS`). */
  setattr?(attrs: SetAttrs, syscall: string): void;
  /** Called once when the handle closes. */
  onClose?(): void;
}

/** How an {@link ImageFileHandle} opened for writing reaches its inode (given by `ImageFs.open`). */
export interface HandleWriter {
  /** Opened with `O_APPEND`: every write goes to the end. */
  append: boolean;
  /** Writes `data` at `position`; resolves to the bytes written. */
  write(position: number, data: Uint8Array): Promise<number>;
  /** The file's current size. */
  size(): number;
  /** Makes the upper's changes durable. */
  sync(): Promise<void>;
}

/** What {@link ImageFileHandle.write} resolves to, as Node's `FileHandle.write`. */
export interface WriteResult<T> {
  /** Bytes written. */
  bytesWritten: number;
  /** The buffer (or string) that was given. */
  buffer: T;
}

let nextFd = 1000;

/**
 * An open file of an {@link ImageFs}, shaped like `node:fs/promises` `FileHandle`: `read` (every
 * overload Node has), `readv`, `readFile`, `readLines`, `createReadStream`, `readableWebStream`,
 * `stat`, `close`, `[Symbol.asyncDispose]`, and async iteration over its bytes. Directories can
 * be opened (as with `open(2)`), but reading one fails with `EISDIR`. A read that cannot fetch
 * its bytes fails with `EIO` (the cause attached).
 *
 * @example
 * ```ts
 * await using fh = await fs.open('/etc/os-release');
 * const { bytesRead, buffer } = await fh.read(Buffer.alloc(64), { position: 0 });
 * ```
 */
export class ImageFileHandle implements AsyncIterable<Buffer> {
  /** A number naming the handle (not an OS descriptor). */
  readonly fd: number;
  private position = 0;
  private closed = false;

  constructor(private readonly file: OpenedFile) {
    this.fd = nextFd++;
  }

  /**
   * Reads bytes: `read()`, `read(buffer, offset?, length?, position?)`, `read(buffer, { offset,
   * length, position })` or `read({ buffer, offset, length, position })`. A `position` of null,
   * -1 or omitted reads at the current position and advances it; a number reads there and does
   * not move it.
   */
  async read<T extends Uint8Array = Buffer>(
    buffer?: T | ReadIntoOptions<T> | null,
    offset?: number | ReadIntoOptions<T> | null,
    length?: number | null,
    position?: number | bigint | null,
  ): Promise<ReadResult<T>> {
    let buf: T;
    let opts: ReadIntoOptions<T> = {};
    if (buffer instanceof Uint8Array) {
      buf = buffer;
      if (offset !== null && typeof offset === 'object') opts = offset;
      else opts = { offset: offset ?? undefined, length: length ?? undefined, position };
    } else {
      opts = buffer ?? {};
      buf = opts.buffer ?? (Buffer.alloc(16384) as unknown as T);
    }
    const at = opts.offset ?? 0;
    const len = opts.length ?? buf.byteLength - at;
    if (!Number.isInteger(at) || at < 0 || at > buf.byteLength) throw rangeError('offset', at, `>= 0 && <= ${buf.byteLength}`);
    if (!Number.isInteger(len) || len < 0 || at + len > buf.byteLength) throw rangeError('length', len, `>= 0 && <= ${buf.byteLength - at}`);
    const pos = toPosition(opts.position);
    const data = this.readable('read');
    const n = await guardRead('read', this.file.path, undefined, () => data.readInto(buf, at, len, pos ?? this.position));
    if (pos === null) this.position += n;
    return { bytesRead: n, buffer: buf };
  }

  /** Reads into several buffers in turn, from `position` (or the current position, advancing it). */
  async readv<T extends readonly NodeJS.ArrayBufferView[]>(buffers: T, position?: number | null): Promise<ReadVResult<T>> {
    const data = this.readable('read');
    const start = toPosition(position);
    let pos = start ?? this.position;
    let total = 0;
    for (const b of buffers) {
      const view = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      const n = await guardRead('read', this.file.path, undefined, () => data.readInto(view, 0, view.byteLength, pos));
      total += n;
      pos += n;
      if (n < view.byteLength) break;
    }
    if (start === null) this.position += total;
    return { bytesRead: total, buffers };
  }

  /** Reads the rest of the file from the current position; a string when `encoding` is given. */
  async readFile(options: (ReadOptions & { encoding: BufferEncoding }) | BufferEncoding): Promise<string>;
  async readFile(options?: (ReadOptions & { encoding?: null }) | null): Promise<Buffer>;
  async readFile(options?: (ReadOptions & { encoding?: BufferEncoding | null }) | BufferEncoding | null): Promise<Buffer | string>;
  async readFile(options?: (ReadOptions & { encoding?: BufferEncoding | null }) | BufferEncoding | null): Promise<Buffer | string> {
    const opts = typeof options === 'string' ? { encoding: options } : options ?? {};
    const data = this.readable('read');
    const bytes = await guardRead('read', this.file.path, opts.signal, () => data.read(this.position, data.size - this.position, { signal: opts.signal }));
    this.position += bytes.length;
    return opts.encoding ? bytes.toString(opts.encoding) : bytes;
  }

  /** The file's status (`{ bigint: true }` for {@link ImageBigIntStats}). */
  async stat(options: { bigint: true }): Promise<ImageBigIntStats>;
  async stat(options?: { bigint?: false }): Promise<ImageStats>;
  async stat(options?: { bigint?: boolean }): Promise<ImageStats | ImageBigIntStats> {
    this.check('fstat');
    return this.file.stat(options?.bigint === true);
  }

  /** A `Readable` of the file's bytes `[start, end]` (default: from the current position to the end). */
  createReadStream(options: Omit<ReadStreamOptions, 'fd'> = {}): Readable {
    const data = this.readable('read');
    return createFileReadStream(async () => data, this.file.path, { start: this.position, ...options });
  }

  /** The file's lines (from the current position), as `readline` gives them. */
  readLines(options: Omit<ReadStreamOptions, 'fd'> = {}): Interface {
    return createInterface({ input: this.createReadStream(options), crlfDelay: Infinity });
  }

  /** A web `ReadableStream` of the file's bytes from the current position. */
  readableWebStream(): ReadableStream<Uint8Array> {
    return Readable.toWeb(this.createReadStream()) as ReadableStream<Uint8Array>;
  }

  /**
   * Writes bytes: `write(buffer, offset?, length?, position?)`, `write(buffer, { offset, length,
   * position })` or `write(string, position?, encoding?)`. A `position` of null or omitted writes
   * at the current position and advances it; with `O_APPEND` every write goes to the end (as
   * Linux does, even with a position). `EBADF` on a handle not opened for writing.
   */
  async write<T extends Uint8Array>(buffer: T, offset?: number | { offset?: number; length?: number; position?: number | bigint | null } | null, length?: number | null, position?: number | bigint | null): Promise<WriteResult<T>>;
  async write(data: string, position?: number | bigint | null, encoding?: BufferEncoding | null): Promise<WriteResult<string>>;
  async write(
    data: Uint8Array | string,
    offset?: number | bigint | { offset?: number; length?: number; position?: number | bigint | null } | null,
    length?: number | BufferEncoding | null,
    position?: number | bigint | null,
  ): Promise<WriteResult<Uint8Array | string>> {
    const w = this.writable('write');
    let bytes: Uint8Array;
    let pos: number | null;
    if (typeof data === 'string') {
      bytes = Buffer.from(data, (typeof length === 'string' ? length : 'utf8') as BufferEncoding);
      pos = toPosition(offset as number | bigint | null | undefined);
    } else {
      const buf = dataArg(data, undefined);
      const opts = offset !== null && typeof offset === 'object' ? offset : { offset: offset as number | undefined, length: length as number | undefined, position };
      const at = opts.offset ?? 0;
      const len = opts.length ?? buf.byteLength - at;
      if (!Number.isInteger(at) || at < 0 || at > buf.byteLength) throw rangeError('offset', at, `>= 0 && <= ${buf.byteLength}`);
      if (!Number.isInteger(len) || len < 0 || at + len > buf.byteLength) throw rangeError('length', len, `>= 0 && <= ${buf.byteLength - at}`);
      bytes = buf.subarray(at, at + len);
      pos = toPosition(opts.position);
    }
    const n = await this.writeAt(w, bytes, pos);
    return { bytesWritten: n, buffer: data };
  }

  /** Writes several buffers in turn at `position` (or the current position, advancing it). */
  async writev<T extends readonly NodeJS.ArrayBufferView[]>(buffers: T, position?: number | null): Promise<{ bytesWritten: number; buffers: T }> {
    const w = this.writable('write');
    const parts = buffers.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    const n = await this.writeAt(w, Buffer.concat(parts), toPosition(position));
    return { bytesWritten: n, buffers };
  }

  /** Replaces nothing: writes `data` from the current position (as Node's `FileHandle.writeFile` on an open handle). */
  async writeFile(data: string | Uint8Array, options?: { encoding?: BufferEncoding | null } | BufferEncoding | null): Promise<void> {
    const w = this.writable('write');
    const encoding = typeof options === 'string' ? options : options?.encoding ?? undefined;
    await this.writeAt(w, dataArg(data, encoding), null);
  }

  /** Appends `data` (the handle's position, or the end with `O_APPEND`). */
  async appendFile(data: string | Uint8Array, options?: { encoding?: BufferEncoding | null } | BufferEncoding | null): Promise<void> {
    await this.writeFile(data, options);
  }

  /** `ftruncate`: the file becomes `len` bytes (default 0). `EINVAL` on a handle not opened for writing. */
  async truncate(len = 0): Promise<void> {
    this.check('ftruncate');
    if (this.file.writer === undefined) throw new FsError('EINVAL', 'ftruncate', this.file.path);
    this.setattr({ size: len }, 'ftruncate');
  }

  /** `fsync`: the upper's changes are made durable. */
  async sync(): Promise<void> {
    this.check('fsync');
    await this.file.writer?.sync();
  }

  /** `fdatasync` (same as {@link ImageFileHandle.sync}). */
  async datasync(): Promise<void> {
    this.check('fdatasync');
    await this.file.writer?.sync();
  }

  /** `fchmod`. */
  async chmod(mode: number): Promise<void> {
    this.setattr({ mode }, 'fchmod');
  }

  /** `fchown`. */
  async chown(uid: number, gid: number): Promise<void> {
    this.setattr({ ...(uid === -1 ? {} : { uid }), ...(gid === -1 ? {} : { gid }) }, 'fchown');
  }

  /** `futimes`, to the nanosecond with `bigint`s. */
  async utimes(atime: TimeLike, mtime: TimeLike): Promise<void> {
    this.setattr({ atime: toTimespec(atime, 'atime'), mtime: toTimespec(mtime, 'mtime') }, 'futime');
  }

  /** Closes the handle; later calls fail with `EBADF`. Idempotent. */
  async close(): Promise<void> {
    if (!this.closed) this.file.onClose?.();
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
      const chunk = await guardRead('read', this.file.path, undefined, () => data.read(this.position, HANDLE_CHUNK));
      this.position += chunk.length;
      yield chunk;
    }
  }

  private check(syscall: string): void {
    if (this.closed) throw new FsError('EBADF', syscall, this.file.path);
  }

  private async writeAt(w: HandleWriter, bytes: Uint8Array, pos: number | null): Promise<number> {
    const at = w.append ? w.size() : pos ?? this.position;
    const n = bytes.byteLength === 0 ? 0 : await w.write(at, bytes);
    if (pos === null || w.append) this.position = at + n;
    return n;
  }

  private writable(syscall: string): HandleWriter {
    this.check(syscall);
    if (this.file.writer === undefined) throw new FsError('EBADF', syscall, this.file.path);
    return this.file.writer;
  }

  private setattr(attrs: SetAttrs, syscall: string): void {
    this.check(syscall);
    if (this.file.setattr === undefined) throw new FsError('EROFS', syscall, this.file.path);
    this.file.setattr(attrs, syscall);
  }

  private readable(syscall: string): FileContent {
    this.check(syscall);
    if (this.file.readable === false) throw new FsError('EBADF', syscall, this.file.path);
    if (this.file.data === null) throw new FsError('EISDIR', syscall, this.file.path);
    return this.file.data;
  }
}

/** A file position argument: null (current position) or a non-negative safe integer. */
function toPosition(position: number | bigint | null | undefined): number | null {
  if (position === null || position === undefined || position === -1 || position === -1n) return null;
  const n = typeof position === 'bigint' ? Number(position) : position;
  if (!Number.isSafeInteger(n) || n < 0) throw rangeError('position', position, '>= 0 && <= 9007199254740991');
  return n;
}

function rangeError(name: string, value: unknown, range: string): RangeError {
  const err = new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${String(value)}`) as RangeError & { code: string };
  err.code = 'ERR_OUT_OF_RANGE';
  return err;
}
