/**
 * Finding and keeping layer indexes: the local cache first, then the registry's referrers.
 * @module
 */
import { ImageError, ImageFsError } from '../errors/image-fs-error.js';
import type { Descriptor } from '../image/types.js';
import type { LayerIndex } from '../layer-index/layer-index.js';
import { isUnsupportedIndexVersion } from '../layer-index/format.js';
import { openLayerIndex } from '../layer/indexed-layer.js';
import type { ReadOptions } from '../source/read-at.js';
import type { LocalIndexCache } from './local-index-cache.js';
import { findRegistryIndexes, pushRegistryIndexes, type IndexRegistry, type PushIndexesOptions, type RegistryIndexes } from './registry-indexes.js';

/** Options of {@link IndexStore}. */
export interface IndexStoreOptions {
  /** Where indexes are kept on this machine (looked up first; registry finds are copied into it). */
  cache?: LocalIndexCache;
  /** The registry holding the image (its referrers are looked up second). */
  registry?: IndexRegistry;
  /** Called once per image when a SOCI index is among its referrers (imagefs does not read zTOCs). */
  onSociIndex?: (imageDigest: string, soci: Descriptor) => void;
  /** Called when a local cache entry was corrupt or bound to another layer and was dropped. */
  onDroppedEntry?: (layerDigest: string, error: unknown) => void;
  /** Called when a registry index is in a format version this imagefs does not read; it is then ignored. */
  onOutdatedIndex?: (layerDigest: string, error: unknown) => void;
}

/** A layer index found by {@link IndexStore.find}: verified and bound to its layer. */
export interface FoundIndex {
  /** The encoded index. */
  bytes: Uint8Array;
  /** The index, opened and checked against the layer. */
  index: LayerIndex;
  /** Where it came from. */
  from: 'cache' | 'registry';
}

/**
 * Looks layer indexes up where they may be (the local cache, then the image's referrers in the
 * registry) and stores new ones. Nothing is trusted unchecked: a registry index blob must match its
 * descriptor's digest, every index its own sha256 trailer and the layer's digest and size. The
 * referrers of an image are listed once per store.
 *
 * Errors from the registry (other than "no referrers") propagate: a corrupt stored index is a
 * `DataLoss`, never a silent fallback.
 *
 * @example
 * ```ts
 * const store = new IndexStore({ cache: new MemoryIndexCache(), registry: source });
 * const found = await store.find(image.digest, image.layers[0]!);
 * ```
 */
export class IndexStore {
  private readonly lookups = new Map<string, Promise<RegistryIndexes>>();

  /** @param options - see {@link IndexStoreOptions}. */
  constructor(private readonly options: IndexStoreOptions = {}) {}

  /** The imagefs and SOCI indexes among the referrers of `imageDigest` (listed once, then remembered). */
  registryIndexes(imageDigest: string, options: ReadOptions = {}): Promise<RegistryIndexes> {
    const registry = this.options.registry;
    if (registry === undefined) return Promise.resolve({ layers: new Map(), soci: [] });
    let lookup = this.lookups.get(imageDigest);
    if (lookup === undefined) {
      lookup = findRegistryIndexes(registry, imageDigest, options).then((found) => {
        for (const soci of found.soci) this.options.onSociIndex?.(imageDigest, soci);
        return found;
      });
      lookup.catch(() => this.lookups.delete(imageDigest));
      this.lookups.set(imageDigest, lookup);
    }
    return lookup;
  }

  /**
   * The index of `layer` of the image `imageDigest`, or undefined when there is none: the local
   * cache first (a bad entry is dropped and reported), then the registry (the blob verified against
   * its descriptor, then copied into the cache).
   *
   * A registry index in a format version this imagefs does not read is ignored (`onOutdatedIndex`).
   *
   * @throws ImageError `DataLoss` for a registry index whose bytes fail their digest;
   *   `InvalidArgument` for one bound to another layer; registry errors.
   */
  async find(imageDigest: string, layer: Descriptor, options: ReadOptions = {}): Promise<FoundIndex | undefined> {
    const { cache, registry } = this.options;
    if (cache !== undefined) {
      const bytes = await cache.get(layer.digest, options);
      if (bytes !== undefined) {
        try {
          return { bytes, index: openLayerIndex(layer, bytes), from: 'cache' };
        } catch (error) {
          if (!ImageFsError.is(error)) throw error;
          this.options.onDroppedEntry?.(layer.digest, error);
          await cache.delete(layer.digest);
        }
      }
    }
    if (registry === undefined) return undefined;
    const found = await this.registryIndexes(imageDigest, options);
    const descriptor = found.layers.get(layer.digest);
    if (descriptor === undefined) return undefined;
    const bytes = await registry.readBlobVerified(descriptor, options);
    let index: LayerIndex;
    try {
      index = openLayerIndex(layer, bytes, descriptor.digest);
    } catch (error) {
      // An index of another format version is not wrong, only unreadable here: serve as without one.
      if (!isUnsupportedIndexVersion(error)) throw error;
      this.options.onOutdatedIndex?.(layer.digest, error);
      return undefined;
    }
    await this.save(layer, bytes, options);
    return { bytes, index, from: 'registry' };
  }

  /** Keeps `bytes` as the index of `layer` in the local cache (no-op without one). Best effort: a full or closed cache is ignored. */
  async save(layer: Descriptor, bytes: Uint8Array, options: ReadOptions = {}): Promise<void> {
    try {
      await this.options.cache?.put(layer.digest, bytes, options);
    } catch (error) {
      if (!ImageFsError.is(error)) throw error;
    }
  }

  /**
   * Pushes the indexes of an image to the registry as one artifact manifest whose subject is the
   * image manifest (see {@link pushRegistryIndexes}), and keeps them in the local cache.
   *
   * @throws ImageError `FailedPrecondition` when the store has no registry.
   */
  async push(image: Descriptor, indexes: ReadonlyArray<{ layer: Descriptor; bytes: Uint8Array }>, options: PushIndexesOptions = {}): Promise<Descriptor> {
    const registry = this.options.registry;
    if (registry === undefined) {
      throw new ImageError('FailedPrecondition', 'this index store has no registry to push to', { hint: 'push indexes of registry images only; local layouts keep theirs in the cache' });
    }
    for (const i of indexes) await this.save(i.layer, i.bytes, options);
    const artifact = await pushRegistryIndexes(registry, image, indexes, options);
    this.lookups.delete(image.digest);
    return artifact;
  }
}
