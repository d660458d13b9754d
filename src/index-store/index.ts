/**
 * Where layer indexes live: the local cache (keyed by layer digest) and the registry, as an OCI
 * artifact manifest referring to the image manifest. See README.md.
 * @module
 */
export * from './media-types.js';
export { indexManifestBytes, parseIndexManifest, type StoredLayerIndex } from './artifact-manifest.js';
export { BlobCacheIndexCache, layerIndexCacheKey, MemoryIndexCache, type LocalIndexCache, type LocalIndexOptions } from './local-index-cache.js';
export { findRegistryIndexes, pushRegistryIndexes, type IndexRegistry, type PushIndexesOptions, type RegistryIndexes } from './registry-indexes.js';
export { DEFAULT_MAX_INDEX_BYTES, IndexStore, type FoundIndex, type IndexedImage, type IndexStoreOptions } from './index-store.js';
export * from './trust.js';
export { pinIndexes, pinnedManifestBytes } from './pin.js';
