/**
 * The pluggable cache every read goes through: a small contract ({@link BlobCache} with a
 * {@link CacheWriter} that commits or aborts), three implementations and a single-flight helper.
 *
 * @module
 */
export type { BlobCache, CacheWriter, CacheCreateOptions } from './types.js';
export { validateCacheKey, derivedKeyFileName, MAX_CACHE_KEY_LENGTH } from './keys.js';
export type { CacheKey } from './keys.js';
export { MemoryCache } from './memory-cache.js';
export type { MemoryCacheOptions } from './memory-cache.js';
export { DiskCache } from './disk-cache.js';
export type { DiskCacheOptions } from './disk-cache.js';
export { CACHE_MARKER_FILE, CACHE_LAYOUT_VERSION } from './disk-layout.js';
export { NoCache } from './no-cache.js';
export { getOrFetch } from './get-or-fetch.js';
export type { CacheFetch, GetOrFetchOptions } from './get-or-fetch.js';
export { TieredCache } from './tiered-cache.js';
export type { TieredCacheOptions } from './tiered-cache.js';
export { listDiskCache, pruneDiskCache, removeFromDiskCache, DEFAULT_CACHE_MAX_BYTES, DEFAULT_IN_USE_MS } from './disk-admin.js';
export type { DiskCacheEntry, PruneOptions } from './disk-admin.js';
export { storageError, storageErrno } from './storage-error.js';
