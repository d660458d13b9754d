/**
 * Where layer indexes are kept on this machine, keyed by layer digest.
 * @module
 */
import type { BlobCache } from '../cache/types.js';
import type { ReadOptions } from '../source/read-at.js';

/**
 * A local store of encoded layer indexes, keyed by the digest of the layer they index. Entries
 * are never trusted: readers open them with the layer binding and the sha256 trailer checked, and
 * drop those that fail.
 */
export interface LocalIndexCache {
  /** The index of `layerDigest`, or undefined. */
  get(layerDigest: string, options?: ReadOptions): Promise<Uint8Array | undefined>;
  /** Stores the index of `layerDigest` (a later put of the same layer may be ignored). */
  put(layerDigest: string, bytes: Uint8Array, options?: ReadOptions): Promise<void>;
  /** Forgets the index of `layerDigest` (used when an entry proves corrupt). */
  delete(layerDigest: string): Promise<void>;
}

/**
 * A {@link LocalIndexCache} in memory (a Map), for one process.
 *
 * @example
 * ```ts
 * const fs = await openImage(ref, { indexCache: new MemoryIndexCache() });
 * ```
 */
export class MemoryIndexCache implements LocalIndexCache {
  private readonly map = new Map<string, Uint8Array>();

  /** Number of indexes held. */
  get size(): number {
    return this.map.size;
  }

  /** The index of `layerDigest`, or undefined. */
  async get(layerDigest: string): Promise<Uint8Array | undefined> {
    return this.map.get(layerDigest);
  }

  /** Keeps `bytes` as the index of `layerDigest`. */
  async put(layerDigest: string, bytes: Uint8Array): Promise<void> {
    this.map.set(layerDigest, bytes);
  }

  /** Forgets the index of `layerDigest`. */
  async delete(layerDigest: string): Promise<void> {
    this.map.delete(layerDigest);
  }
}

/** The cache key of the index of `layerDigest` in a {@link BlobCache}: `layer-index/<digest>`. */
export function layerIndexCacheKey(layerDigest: string): string {
  return `layer-index/${layerDigest}`;
}

/**
 * A {@link LocalIndexCache} over a {@link BlobCache} (for instance the `DiskCache` of `--cache DIR`):
 * each index is the entry `layer-index/<layer digest>`.
 *
 * @example
 * ```ts
 * const indexCache = new BlobCacheIndexCache(await DiskCache.open(dir));
 * ```
 */
export class BlobCacheIndexCache implements LocalIndexCache {
  /** @param cache - the cache to store indexes in (not closed by this object). */
  constructor(private readonly cache: BlobCache) {}

  /** The entry `layer-index/<layerDigest>`, read whole, or undefined. */
  async get(layerDigest: string, options?: ReadOptions): Promise<Uint8Array | undefined> {
    const source = await this.cache.get(layerIndexCacheKey(layerDigest), options);
    if (source === undefined) return undefined;
    try {
      return await source.readAt(0, source.size, options);
    } finally {
      await source.close?.();
    }
  }

  /** Writes and commits the entry `layer-index/<layerDigest>` (size-checked). */
  async put(layerDigest: string, bytes: Uint8Array): Promise<void> {
    const writer = await this.cache.create(layerIndexCacheKey(layerDigest), { expectedSize: bytes.length });
    try {
      await writer.write(bytes);
      await writer.commit();
    } catch (error) {
      await writer.abort();
      throw error;
    }
  }

  /** Deletes the entry `layer-index/<layerDigest>`. */
  async delete(layerDigest: string): Promise<void> {
    await this.cache.delete(layerIndexCacheKey(layerDigest));
  }
}
