import { lstat, unlink, utimes } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import { throwIfAborted } from '../errors/image-fs-error.js';
import { FileSource } from '../source/file-source.js';
import type { ReadAtSource, ReadOptions } from '../source/read-at.js';
import { cacheClosed } from './closed.js';
import { entryPath, prepareCacheDir } from './disk-layout.js';
import { DiskUsage } from './disk-usage.js';
import { DiskWriter } from './disk-writer.js';
import { validateCacheKey } from './keys.js';
import { storageError } from './storage-error.js';
import type { BlobCache, CacheCreateOptions, CacheWriter } from './types.js';

/** Options of {@link DiskCache.open}. */
export interface DiskCacheOptions {
  /**
   * Soft bound on the bytes of committed entries, enforced after each commit by deleting the least
   * recently used files this process knows of (never the entry just committed). Default: unbounded.
   */
  maxBytes?: number;
  /** Temp files older than this (ms) are deleted on open as leftovers of a crash. Default 6 hours. */
  staleTempMs?: number;
  /** `fsync` each entry before publishing it (survives power loss; slower). Default false. */
  durable?: boolean;
}

const SIX_HOURS = 6 * 60 * 60 * 1000;
const USE_MARK_MS = 60 * 1000;

/**
 * A {@link BlobCache} in a directory, safe to share between processes. Layout (docs/cache.md):
 * `imagefs-cache.json` (the marker), `blobs/<algo>/<hex>` for digest keys, `other/<encoded key>`
 * for derived keys, `tmp/` for writes in progress. Writes go to a unique temp file and are
 * hard-linked into place on commit; reads are positioned reads of the committed file
 * (`FileSource`). Symbolic links inside the cache are never followed: a link where an entry
 * should be is a miss, and is replaced by the next commit of that key.
 *
 * @example
 * ```ts
 * const cache = await DiskCache.open(join(homedir(), '.cache/imagefs'), { maxBytes: 10 * 2 ** 30 });
 * const src = await cache.get(layerDigest); // FileSource or undefined
 * ```
 */
export class DiskCache implements BlobCache {
  /** The cache directory (absolute). */
  readonly dir: string;
  /** The byte bound, or `undefined` when unbounded. */
  readonly maxBytes: number | undefined;
  private readonly durable: boolean;
  private readonly writers = new Set<DiskWriter>();
  private closed = false;

  private constructor(dir: string, options: DiskCacheOptions, private readonly usage: DiskUsage) {
    this.dir = dir;
    this.maxBytes = options.maxBytes;
    this.durable = options.durable ?? false;
  }

  /**
   * Opens (creating when missing) the cache directory `dir`. An empty directory is adopted and an
   * imagefs cache reused; a non-empty directory that is not an imagefs cache rejects with
   * `FailedPrecondition`, as does a layout directory replaced by a symbolic link. Invalid options
   * throw a TypeError naming the field.
   */
  static async open(dir: string, options: DiskCacheOptions = {}): Promise<DiskCache> {
    const { maxBytes, staleTempMs = SIX_HOURS } = options;
    if (maxBytes !== undefined && (!Number.isSafeInteger(maxBytes) || maxBytes < 0)) {
      throw new TypeError(`DiskCache: maxBytes must be a non-negative integer number of bytes, got ${String(maxBytes)}`);
    }
    if (!Number.isFinite(staleTempMs) || staleTempMs < 0) {
      throw new TypeError(`DiskCache: staleTempMs must be a non-negative number of milliseconds, got ${String(staleTempMs)}`);
    }
    const abs = resolve(dir);
    await prepareCacheDir(abs, staleTempMs);
    return new DiskCache(abs, options, await DiskUsage.scan(abs));
  }

  /** Bytes of committed entries this process knows of. */
  get knownBytes(): number {
    return this.usage.totalBytes;
  }

  async get(key: string, options?: ReadOptions): Promise<ReadAtSource | undefined> {
    this.assertOpen();
    const path = entryPath(this.dir, validateCacheKey(key));
    throwIfAborted(options?.signal);
    const info = await this.entryInfo(path);
    if (info === undefined) return undefined;
    this.markUsed(path, info.atimeMs, info.mtime);
    let source: FileSource;
    try {
      source = await FileSource.open(path, { noFollow: true, signal: options?.signal });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ELOOP') return undefined; // evicted meanwhile, or swapped for a link
      throw error;
    }
    this.usage.touch(path, source.size);
    return source;
  }

  async has(key: string): Promise<boolean> {
    this.assertOpen();
    return this.isEntry(entryPath(this.dir, validateCacheKey(key)));
  }

  async create(key: string, options: CacheCreateOptions = {}): Promise<CacheWriter> {
    this.assertOpen();
    const parsed = validateCacheKey(key);
    const writer = await DiskWriter.open(parsed, options, {
      tmpDir: join(this.dir, 'tmp'),
      finalPath: entryPath(this.dir, parsed),
      durable: this.durable,
      onDone: (w) => this.writers.delete(w),
      onCommitted: (path, size) => this.committed(path, size),
      onStorageError: (error) => storageError(error, this.dir),
    }).catch((error: unknown) => {
      throw storageError(error, this.dir);
    });
    if (this.closed) {
      await writer.abort();
      throw cacheClosed(`the disk cache ${this.dir}`);
    }
    this.writers.add(writer);
    return writer;
  }

  async delete(key: string): Promise<void> {
    this.assertOpen();
    const path = entryPath(this.dir, validateCacheKey(key));
    this.usage.remove(path);
    await unlink(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.writers].map((w) => w.abort()));
  }

  private async isEntry(path: string): Promise<boolean> {
    return (await this.entryInfo(path)) !== undefined;
  }

  private async entryInfo(path: string): Promise<Stats | undefined> {
    try {
      const info = await lstat(path);
      return info.isFile() ? info : undefined;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw error;
    }
  }

  /**
   * Sets the file's atime to now (at most once a minute per entry; best effort), so that other
   * processes (`imagefs cache prune`) see it in use: relatime mounts would not update it on read.
   */
  private markUsed(path: string, atimeMs: number, mtime: Date): void {
    const now = Date.now();
    if (now - atimeMs < USE_MARK_MS) return;
    void utimes(path, new Date(now), mtime).catch(() => {});
  }

  private async committed(path: string, size: number): Promise<void> {
    this.usage.touch(path, size);
    if (this.maxBytes === undefined) return;
    const victims = this.usage.victims(this.maxBytes, path);
    // Best effort: another process may have removed a victim already; open handles keep reading.
    await Promise.all(victims.map((victim) => unlink(victim).catch(() => {})));
  }

  private assertOpen(): void {
    if (this.closed) throw cacheClosed(`the disk cache ${this.dir}`);
  }
}
