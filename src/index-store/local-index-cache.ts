/**
 * Where layer indexes are kept on this machine, keyed by layer digest.
 * @module
 */
import type { BlobCache } from '../cache/types.js';
import { putEntry } from '../cache/write-entry.js';
import type { ReadOptions } from '../source/read-at.js';

/**
 * Options of {@link LocalIndexCache} calls. An index trusted only because a repository's tag named
 * its image (see SECURITY.md) is kept apart, under that repository: it must never serve an image
 * named by digest, nor another repository.
 */
export interface LocalIndexOptions extends ReadOptions {
  /**
   * `HOST/REPOSITORY` when the entry is trusted for that repository only; absent for entries built
   * on this machine or pinned by an image manifest (trusted everywhere).
   */
  repository?: string;
}

/**
 * A local store of encoded layer indexes, keyed by the digest of the layer they index. Entries
 * are never trusted: readers open them with the layer binding and the sha256 trailer checked, and
 * drop those that fail.
 */
export interface LocalIndexCache {
  /** The index of `layerDigest`, or undefined. */
  get(layerDigest: string, options?: LocalIndexOptions): Promise<Uint8Array | undefined>;
  /** Stores the index of `layerDigest` (a later put of the same layer may be ignored). */
  put(layerDigest: string, bytes: Uint8Array, options?: LocalIndexOptions): Promise<void>;
  /** Forgets the index of `layerDigest` (used when an entry proves corrupt). */
  delete(layerDigest: string, options?: LocalIndexOptions): Promise<void>;
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

  /** The index of `layerDigest` (in `options.repository`'s scope when given), or undefined. */
  async get(layerDigest: string, options?: LocalIndexOptions): Promise<Uint8Array | undefined> {
    return this.map.get(scopedKey(layerDigest, options));
  }

  /** Keeps `bytes` as the index of `layerDigest` (in `options.repository`'s scope when given). */
  async put(layerDigest: string, bytes: Uint8Array, options?: LocalIndexOptions): Promise<void> {
    this.map.set(scopedKey(layerDigest, options), bytes);
  }

  /** Forgets the index of `layerDigest` (in `options.repository`'s scope when given). */
  async delete(layerDigest: string, options?: LocalIndexOptions): Promise<void> {
    this.map.delete(scopedKey(layerDigest, options));
  }
}

/** Map key of a {@link MemoryIndexCache} entry. */
function scopedKey(layerDigest: string, options?: LocalIndexOptions): string {
  return options?.repository === undefined ? layerDigest : `${options.repository}\0${layerDigest}`;
}

/**
 * The cache key of the index of `layerDigest` in a {@link BlobCache}: `layer-index/<digest>`, or
 * `layer-index-repository/<HOST>/<REPOSITORY>/<digest>` for an entry trusted for one repository only.
 *
 * @example
 * ```ts
 * layerIndexCacheKey('sha256:' + 'a'.repeat(64)); // 'layer-index/sha256:aaa...'
 * ```
 */
export function layerIndexCacheKey(layerDigest: string, repository?: string): string {
  return repository === undefined ? `layer-index/${layerDigest}` : `layer-index-repository/${repository}/${layerDigest}`;
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
  async get(layerDigest: string, options?: LocalIndexOptions): Promise<Uint8Array | undefined> {
    const { repository, ...read } = options ?? {};
    const source = await this.cache.get(layerIndexCacheKey(layerDigest, repository), read);
    if (source === undefined) return undefined;
    try {
      return await source.readAt(0, source.size, read);
    } finally {
      await source.close?.();
    }
  }

  /** Writes and commits the entry `layer-index/<layerDigest>` (size-checked). */
  async put(layerDigest: string, bytes: Uint8Array, options?: LocalIndexOptions): Promise<void> {
    await putEntry(this.cache, layerIndexCacheKey(layerDigest, options?.repository), bytes, { expectedSize: bytes.length });
  }

  /** Deletes the entry `layer-index/<layerDigest>`. */
  async delete(layerDigest: string, options?: LocalIndexOptions): Promise<void> {
    await this.cache.delete(layerIndexCacheKey(layerDigest, options?.repository));
  }
}
