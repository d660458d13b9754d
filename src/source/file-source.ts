import { constants as fsConstants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dataLoss, throwIfAborted } from '../errors/image-fs-error.js';
import { checkRange, type ReadAtSource, type ReadOptions } from './read-at.js';

/** Options of {@link FileSource.open}. */
export interface FileSourceOptions extends ReadOptions {
  /** Where the region starts in the file, in bytes. Default 0. */
  offset?: number;
  /** Length of the region in bytes. Default: from `offset` to the end of the file. */
  length?: number;
  /** Refuse to follow a symbolic link in the last path component (`O_NOFOLLOW`: `ELOOP`). Default false. */
  noFollow?: boolean;
}

/**
 * A {@link ReadAtSource} over a region of a local file, read with positioned reads
 * (`FileHandle.read` at a position), so concurrent `readAt` calls never disturb each other.
 * The file handle stays open until {@link FileSource.close}.
 *
 * A file that shrinks after opening makes `readAt` reject with `DataLoss` instead of returning
 * short data.
 *
 * @example
 * ```ts
 * const src = await FileSource.open('/tmp/layout/blobs/sha256/ab12...');
 * const head = await src.readAt(0, 512);
 * await src.close();
 * ```
 */
export class FileSource implements ReadAtSource {
  /** Size of the region in bytes. */
  readonly size: number;
  /** The file's path, for messages. */
  readonly path: string;
  private handle: FileHandle | undefined;
  private readonly base: number;

  private constructor(handle: FileHandle, path: string, base: number, size: number) {
    this.handle = handle;
    this.path = path;
    this.base = base;
    this.size = size;
  }

  /**
   * Opens `path` read-only. Rejects with the Node error (`ENOENT`, `EACCES`, ...) when the file
   * cannot be opened, and with a RangeError when the region passes the end of the file.
   */
  static async open(path: string, options: FileSourceOptions = {}): Promise<FileSource> {
    throwIfAborted(options.signal);
    const handle = await open(path, options.noFollow === true ? fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW : 'r');
    try {
      const { size: fileSize } = await handle.stat();
      const offset = options.offset ?? 0;
      const length = options.length ?? fileSize - offset;
      checkRange(fileSize, offset, length);
      return new FileSource(handle, path, offset, length);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async readAt(offset: number, length: number, options?: ReadOptions): Promise<Uint8Array> {
    throwIfAborted(options?.signal);
    checkRange(this.size, offset, length);
    const handle = this.handle;
    if (handle === undefined) throw new Error(`FileSource ${this.path} is closed`);
    const out = Buffer.allocUnsafe(length); // every byte is overwritten below, or the read fails
    let done = 0;
    while (done < length) {
      throwIfAborted(options?.signal);
      const { bytesRead } = await handle.read(out, done, length - done, this.base + offset + done);
      if (bytesRead === 0) {
        throw dataLoss(`${this.path} ended after ${this.base + offset + done} bytes; expected at least ${this.base + offset + length}`, {
          subject: this.path,
          hint: 'the file was truncated while in use; copy the image again',
        });
      }
      done += bytesRead;
    }
    return out;
  }

  /** Closes the file handle. Idempotent. */
  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }
}
