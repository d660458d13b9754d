import { BufferSource, type ReadAtSource, type ReadOptions } from '../source/read-at.js';
import { cacheClosed } from './closed.js';
import { validateCacheKey } from './keys.js';
import type { BlobCache, CacheCreateOptions, CacheWriter } from './types.js';

/** Options of {@link TieredCache}. */
export interface TieredCacheOptions {
  /**
   * Entries up to this many bytes are also kept in the front cache: written through on commit,
   * and copied up when read from the back. Larger ones live in the back only. Default 4 MiB
   * (one index span).
   */
  promoteMaxBytes?: number;
}

/**
 * Two caches in series, typically a {@link MemoryCache} in front of a {@link DiskCache}: reads try
 * the front, then the back (copying small entries up); writes go to the back and, for small
 * entries, to the front too. The back decides what is stored: a commit succeeds when the back's
 * does; the front is best effort.
 *
 * @example
 * ```ts
 * const cache = new TieredCache(new MemoryCache(), await DiskCache.open(dir));
 * ```
 */
export class TieredCache implements BlobCache {
  /** The byte bound of entries kept in the front. */
  readonly promoteMaxBytes: number;
  private closed = false;

  /** Throws a TypeError naming the field when an option is invalid. */
  constructor(readonly front: BlobCache, readonly back: BlobCache, options: TieredCacheOptions = {}) {
    const bound = options.promoteMaxBytes ?? 4 * 1024 * 1024;
    if (!Number.isSafeInteger(bound) || bound < 0) {
      throw new TypeError(`TieredCache: promoteMaxBytes must be a non-negative integer number of bytes, got ${String(options.promoteMaxBytes)}`);
    }
    this.promoteMaxBytes = bound;
  }

  async get(key: string, options?: ReadOptions): Promise<ReadAtSource | undefined> {
    this.assertOpen();
    validateCacheKey(key);
    const front = await this.front.get(key, options);
    if (front !== undefined) return front;
    const back = await this.back.get(key, options);
    if (back === undefined || back.size > this.promoteMaxBytes) return back;
    let bytes: Uint8Array;
    try {
      bytes = await back.readAt(0, back.size, options);
    } finally {
      await back.close?.();
    }
    await this.promote(key, bytes);
    return new BufferSource(bytes);
  }

  async has(key: string): Promise<boolean> {
    this.assertOpen();
    return (await this.front.has(key)) || this.back.has(key);
  }

  async create(key: string, options: CacheCreateOptions = {}): Promise<CacheWriter> {
    this.assertOpen();
    const back = await this.back.create(key, options);
    const small = options.expectedSize === undefined || options.expectedSize <= this.promoteMaxBytes;
    const front = small ? await this.front.create(key, options).catch(() => undefined) : undefined;
    return new TieredWriter(back, front, this.promoteMaxBytes);
  }

  async delete(key: string): Promise<void> {
    this.assertOpen();
    await Promise.all([this.front.delete(key), this.back.delete(key)]);
  }

  /** Closes both tiers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.front.close(), this.back.close()]);
  }

  private async promote(key: string, bytes: Uint8Array): Promise<void> {
    try {
      const w = await this.front.create(key);
      await w.write(bytes);
      await w.commit();
    } catch {
      // The front is best effort: the back already holds the entry.
    }
  }

  private assertOpen(): void {
    if (this.closed) throw cacheClosed('the tiered cache');
  }
}

/** Writes to the back, and to the front while the entry stays small. */
class TieredWriter implements CacheWriter {
  private size = 0;

  constructor(private readonly back: CacheWriter, private front: CacheWriter | undefined, private readonly limit: number) {}

  async write(chunk: Uint8Array): Promise<void> {
    try {
      await this.back.write(chunk);
    } catch (error) {
      await this.dropFront();
      throw error;
    }
    this.size += chunk.length;
    if (this.front === undefined) return;
    if (this.size > this.limit) await this.dropFront();
    else await this.front.write(chunk).catch(() => this.dropFront());
  }

  async commit(): Promise<void> {
    try {
      await this.back.commit();
    } catch (error) {
      await this.dropFront();
      throw error;
    }
    await this.front?.commit().catch(() => {});
  }

  async abort(): Promise<void> {
    await Promise.all([this.back.abort(), this.dropFront()]);
  }

  private async dropFront(): Promise<void> {
    const front = this.front;
    this.front = undefined;
    await front?.abort();
  }
}
