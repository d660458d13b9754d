import { totalmem } from 'node:os';
import { LRUCache } from 'lru-cache';
import { throwIfAborted } from '../errors/image-fs-error.js';
import { imageStreamingMemoryReservation } from '../eligibility/memory-reservation.js';
import { BufferSource, type ReadAtSource, type ReadOptions } from '../source/read-at.js';
import { BufferedWriter } from './buffered-writer.js';
import { cacheClosed } from './closed.js';
import { validateCacheKey } from './keys.js';
import type { BlobCache, CacheCreateOptions, CacheWriter } from './types.js';

/** Options of {@link MemoryCache}. */
export interface MemoryCacheOptions {
  /**
   * The most bytes of entries kept; least recently used entries go first, and an entry larger than
   * this is not kept at all. `0` keeps nothing. Default: GKE's image streaming reservation for this
   * machine, `imageStreamingMemoryReservation(os.totalmem())` (0 below 1 GiB of memory, ~73.7 MiB at
   * 8 GiB, ~106.5 MiB at 16 GiB).
   */
  maxBytes?: number;
}

/**
 * A {@link BlobCache} in memory, bounded by bytes (an `lru-cache` with `maxSize`). Entries are
 * `Uint8Array`s; `get` returns a {@link BufferSource} over the stored bytes (no copy).
 *
 * @example
 * ```ts
 * const cache = new MemoryCache({ maxBytes: 64 * 1024 * 1024 });
 * const src = await getOrFetch(cache, 'span/sha256:ab.../0', async (w) => { await w.write(bytes); });
 * ```
 */
export class MemoryCache implements BlobCache {
  /** The byte bound in force. */
  readonly maxBytes: number;
  private readonly lru: LRUCache<string, Uint8Array> | undefined;
  private readonly writers = new Set<BufferedWriter>();
  private closed = false;

  /** Throws a TypeError naming the field when an option is invalid. */
  constructor(options: MemoryCacheOptions = {}) {
    const maxBytes = options.maxBytes ?? imageStreamingMemoryReservation(totalmem());
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
      throw new TypeError(`MemoryCache: maxBytes must be a non-negative integer number of bytes, got ${String(options.maxBytes)}`);
    }
    this.maxBytes = maxBytes;
    this.lru = maxBytes === 0
      ? undefined
      : new LRUCache<string, Uint8Array>({ maxSize: maxBytes, sizeCalculation: (v) => Math.max(1, v.length) });
  }

  /** Bytes held by committed entries now. */
  get size(): number {
    return this.lru?.calculatedSize ?? 0;
  }

  async get(key: string, options?: ReadOptions): Promise<ReadAtSource | undefined> {
    this.assertOpen();
    validateCacheKey(key);
    throwIfAborted(options?.signal);
    const bytes = this.lru?.get(key);
    return bytes === undefined ? undefined : new BufferSource(bytes);
  }

  async has(key: string): Promise<boolean> {
    this.assertOpen();
    validateCacheKey(key);
    return this.lru?.has(key) ?? false;
  }

  async create(key: string, options: CacheCreateOptions = {}): Promise<CacheWriter> {
    this.assertOpen();
    const parsed = validateCacheKey(key);
    const writer = new BufferedWriter(
      parsed,
      options,
      (bytes) => {
        if (bytes === undefined || this.closed || this.lru === undefined || this.lru.has(key)) return; // first commit wins
        this.lru.set(key, bytes);
      },
      this.maxBytes,
      (w) => this.writers.delete(w),
    );
    this.writers.add(writer);
    return writer;
  }

  async delete(key: string): Promise<void> {
    this.assertOpen();
    validateCacheKey(key);
    this.lru?.delete(key);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.writers].map((w) => w.abort()));
    this.lru?.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw cacheClosed('the memory cache');
  }
}
