/**
 * Where layer indexes live: the local cache (keyed by layer digest) and the registry, as an OCI
 * artifact manifest referring to the image manifest; and the startup profile pushed next to them.
 * See README.md.
 * @module
 */
export * from './media-types.js';
export { indexManifestBytes, parseIndexManifest, type StoredLayerIndex } from './artifact-manifest.js';
export { BlobCacheIndexCache, layerIndexCacheKey, MemoryIndexCache, type LocalIndexCache, type LocalIndexOptions } from './local-index-cache.js';
export { findRegistryIndexes, listInReferrersTag, pushRegistryIndexes, type IndexRegistry, type PushIndexesOptions, type RegistryIndexes } from './registry-indexes.js';
export { DEFAULT_MAX_INDEX_BYTES, IndexStore, type FoundIndex, type FoundProfile, type IndexedImage, type IndexStoreOptions } from './index-store.js';
export { checkProfileSpans, MAX_PROFILE_BYTES, MAX_PROFILE_SPANS, parseStartupProfile, type UnindexedProfileLayer } from './profile-check.js';
export { fetchStartupProfile, parseProfileManifest, profileManifestBytes, pushStartupProfile, type FetchedProfile } from './registry-profile.js';
export * from './trust.js';
export { pinIndexes, pinnedManifestBytes } from './pin.js';
