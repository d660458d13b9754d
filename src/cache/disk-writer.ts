import { constants as fsConstants } from 'node:fs';
import { link, lstat, open, rename, rm, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageError } from '../errors/image-fs-error.js';
import { ContentCheck } from './content-check.js';
import { uniqueTempName } from './disk-layout.js';
import type { CacheKey } from './keys.js';
import type { CacheCreateOptions, CacheWriter } from './types.js';

/** Where a {@link DiskWriter} writes and what it tells its cache. */
export interface DiskWriterTarget {
  /** The cache's `tmp/` directory. */
  tmpDir: string;
  /** The committed entry's path. */
  finalPath: string;
  /** `fsync` the file before publishing it. */
  durable: boolean;
  /** Called once the entry is in place (or was already), with its size; `commit` awaits it. */
  onCommitted(path: string, size: number): Promise<void>;
  /** Called once when the writer commits or aborts, so the cache can forget it. */
  onDone(writer: DiskWriter): void;
  /** Maps a failed write or publish (ENOSPC, EROFS...) to the error to throw. Default: as it is. */
  onStorageError?(error: unknown): unknown;
}

const CREATE_FLAGS = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;

/**
 * Writes one disk cache entry to a uniquely named file in `tmp/`, then publishes it with
 * `link(2)` (which never replaces: when the entry exists already, the existing file is kept and
 * the temp dropped) so readers in any process see nothing or the whole file.
 *
 * @example
 * ```ts
 * const w = await DiskWriter.open(validateCacheKey(key), {}, target);
 * await w.write(bytes); await w.commit();
 * ```
 */
export class DiskWriter implements CacheWriter {
  private state: 'open' | 'committing' | 'committed' | 'aborted' = 'open';

  private constructor(
    private readonly check: ContentCheck,
    private handle: FileHandle | undefined,
    private readonly tempPath: string,
    private readonly target: DiskWriterTarget,
  ) {}

  /** Validates the options (`InvalidArgument`) and creates the temp file. */
  static async open(key: CacheKey, options: CacheCreateOptions, target: DiskWriterTarget): Promise<DiskWriter> {
    const check = new ContentCheck(key, options);
    const tempPath = join(target.tmpDir, uniqueTempName('.part'));
    const handle = await open(tempPath, CREATE_FLAGS, 0o644);
    return new DiskWriter(check, handle, tempPath, target);
  }

  async write(chunk: Uint8Array): Promise<void> {
    const handle = this.assertOpen('write');
    try {
      this.check.update(chunk);
      let done = 0;
      while (done < chunk.length) {
        const { bytesWritten } = await handle.write(chunk, done, chunk.length - done);
        done += bytesWritten;
      }
    } catch (error) {
      await this.abort();
      throw this.target.onStorageError?.(error) ?? error;
    }
  }

  async commit(): Promise<void> {
    const handle = this.assertOpen('commit');
    this.state = 'committing';
    try {
      this.check.verify();
      if (this.target.durable) await handle.sync();
      this.handle = undefined;
      await handle.close();
      await this.publish();
    } catch (error) {
      this.state = 'open';
      await this.abort();
      throw this.target.onStorageError?.(error) ?? error;
    }
    this.state = 'committed';
    this.target.onDone(this);
    await this.target.onCommitted(this.target.finalPath, this.check.size);
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => {});
    await unlink(this.tempPath).catch(() => {});
    this.target.onDone(this);
  }

  /** Links the temp file into place without replacing a committed file, then drops the temp. */
  private async publish(): Promise<void> {
    const { finalPath } = this.target;
    for (let attempt = 0; ; attempt++) {
      try {
        await link(this.tempPath, finalPath);
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') {
          const info = await lstat(finalPath).catch(() => undefined);
          if (info?.isFile()) break; // first commit wins; same key, same content
          if (attempt > 0) throw error;
          // Something planted there that is not ours (a symlink, a directory): remove it, never follow it.
          await rm(finalPath, { recursive: true, force: true });
          continue;
        }
        if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EMLINK') {
          // A file system without hard links: rename is still atomic, it may replace an equal entry.
          await rename(this.tempPath, finalPath);
          return;
        }
        throw error;
      }
    }
    await unlink(this.tempPath).catch(() => {});
  }

  private assertOpen(call: string): FileHandle {
    if (this.state !== 'open' || this.handle === undefined) {
      throw new ImageError('FailedPrecondition', `cannot ${call}: the cache writer was already ${this.state}`, {
        hint: 'create a new writer for another attempt',
      });
    }
    return this.handle;
  }
}
