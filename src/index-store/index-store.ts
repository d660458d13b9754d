/**
 * Finding and keeping layer indexes: the local cache first, then the registry's referrers.
 * @module
 */
import { ImageError, ImageFsError } from '../errors/image-fs-error.js';
import type { Descriptor, ImageManifest, ResolvedImage } from '../image/types.js';
import type { LayerIndex } from '../layer-index/layer-index.js';
import type { StartupProfile } from '../layer/startup-profile.js';
import { checkIndexBounds } from '../layer-index/bounds.js';
import { isUnsupportedIndexVersion } from '../layer-index/format.js';
import { openLayerIndex } from '../layer/indexed-layer.js';
import { parseReference } from '../registry/reference.js';
import type { ReadOptions } from '../source/read-at.js';
import { parseIndexManifest } from './artifact-manifest.js';
import type { LocalIndexCache } from './local-index-cache.js';
import { findRegistryIndexes, pushRegistryIndexes, type IndexRegistry, type PushIndexesOptions, type RegistryIndexes } from './registry-indexes.js';
import { fetchStartupProfile } from './registry-profile.js';
import { pinnedIndexOf, pinnedProfileOf, referenceNamesDigest, type IndexBinding, type RegistryIndexTrust } from './trust.js';

/** What {@link IndexStore.find} needs to know of the image: its digest, and for trust its reference and manifest. */
export type IndexedImage = Pick<ResolvedImage, 'digest' | 'reference'> & { manifest?: Pick<ImageManifest, 'annotations'> };

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
  /**
   * Called when a registry index exists but is not bound to the image by anything the caller
   * trusts (see {@link RegistryIndexTrust} and SECURITY.md); it is then ignored, never read, and the
   * layer is served as without an index. `why` says why and what to do.
   */
  onIgnoredIndex?: (layerDigest: string, why: string) => void;
  /** Which registry indexes may be used. Default `reference`: see {@link RegistryIndexTrust}. */
  registryTrust?: RegistryIndexTrust;
  /**
   * Largest index blob read from the registry, in bytes (checked against its descriptor before
   * anything is fetched or allocated). Default {@link DEFAULT_MAX_INDEX_BYTES}.
   */
  maxIndexBytes?: number;
}

/**
 * Default largest layer index read from a registry: 256 MiB (an index is ~0.3-0.8% of its layer
 * at the default span, so this covers layers of tens of GB).
 */
export const DEFAULT_MAX_INDEX_BYTES = 256 << 20;

/** A layer index found by {@link IndexStore.find}: verified and bound to its layer. */
export interface FoundIndex {
  /** The encoded index. */
  bytes: Uint8Array;
  /** The index, opened and checked against the layer. */
  index: LayerIndex;
  /** Where it came from. */
  from: 'cache' | 'registry';
  /** What binds it to the image (see SECURITY.md). */
  binding: IndexBinding;
}

/** A startup profile found by {@link IndexStore.findProfile}: bound to the image like its indexes, parsed strictly. */
export interface FoundProfile {
  /** The profile; its spans are not yet checked against the layers' indexes (see `checkProfileSpans`). */
  profile: StartupProfile;
  /** The profile artifact manifest (artifact type `IMAGEFS_PROFILE_ARTIFACT_TYPE`). */
  artifact: Descriptor;
  /** The profile blob (verified against its digest). */
  blob: Descriptor;
  /** What binds it to the image: pinned by the image manifest, or a referrer of an image named by tag. */
  binding: Exclude<IndexBinding, 'local'>;
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

  private readonly pins = new Map<string, Promise<Map<string, Descriptor>>>();

  /** @param options - see {@link IndexStoreOptions}. */
  constructor(private readonly options: IndexStoreOptions = {}) {}

  /** The index descriptors (by layer digest) of the artifact pinned by `pin`, fetched by digest once. */
  private pinnedLayers(pin: Descriptor, options: ReadOptions): Promise<Map<string, Descriptor>> {
    const registry = this.options.registry;
    if (registry === undefined) return Promise.resolve(new Map());
    let lookup = this.pins.get(pin.digest);
    if (lookup === undefined) {
      lookup = registry.fetchManifest({ expected: pin, ...(options.signal === undefined ? {} : { signal: options.signal }) }).then((fetched) => {
        const manifest = fetched.parsed as ImageManifest;
        // The pin names this artifact by digest: its subject (the image before pinning) binds nothing more.
        return parseIndexManifest(manifest, String(manifest.subject?.digest));
      });
      lookup.catch(() => this.pins.delete(pin.digest));
      this.pins.set(pin.digest, lookup);
    }
    return lookup;
  }

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
   * The index of `layer` of `image`, or undefined when there is none that may be used: the local
   * cache first (a bad entry is dropped and reported), then the registry, where only an index bound
   * to the image is used (SECURITY.md): pinned by the image manifest
   * (`imagefs index --push --pin`), or, under the default `registryTrust: 'reference'`, listed among
   * the referrers of an image named by tag. An unbound index is never read: `onIgnoredIndex` says
   * why. Registry finds are copied into the cache (a tag-trusted one under its repository only).
   *
   * `image` may be a bare digest (then the registry source's `reference` decides, and no pin can be seen).
   *
   * A registry index in a format version this imagefs does not read is ignored (`onOutdatedIndex`).
   *
   * @throws ImageError `DataLoss` for a registry index whose bytes fail their digest;
   *   `InvalidArgument` for one bound to another layer; registry errors.
   */
  async find(image: string | IndexedImage, layer: Descriptor, options: ReadOptions = {}): Promise<FoundIndex | undefined> {
    const { cache, registry } = this.options;
    const { imageDigest, reference, tagTrusted, repository } = this.trustOf(image);
    const pin = typeof image === 'string' || image.manifest === undefined ? {} : pinnedIndexOf(image.manifest);
    if (cache !== undefined) {
      for (const scope of repository === undefined ? [undefined] : [undefined, repository]) {
        const scoped = scope === undefined ? options : { ...options, repository: scope };
        const bytes = await cache.get(layer.digest, scoped);
        if (bytes === undefined) continue;
        try {
          const index = openLayerIndex(layer, bytes);
          checkIndexBounds(index);
          return { bytes, index, from: 'cache', binding: scope === undefined ? 'local' : 'repository' };
        } catch (error) {
          if (!ImageFsError.is(error)) throw error;
          this.options.onDroppedEntry?.(layer.digest, error);
          await cache.delete(layer.digest, scoped);
        }
      }
    }
    if (registry === undefined) return undefined;
    let descriptor: Descriptor | undefined;
    let binding: IndexBinding;
    if (pin.descriptor !== undefined) {
      descriptor = (await this.pinnedLayers(pin.descriptor, options)).get(layer.digest);
      binding = 'pinned';
      if (descriptor === undefined) return undefined;
    } else {
      const found = await this.registryIndexes(imageDigest, options);
      descriptor = found.layers.get(layer.digest);
      if (descriptor === undefined) return undefined;
      if (!tagTrusted) {
        this.options.onIgnoredIndex?.(layer.digest, unboundWhy(found.artifact?.digest, reference, pin.problem, this.options.registryTrust));
        return undefined;
      }
      binding = 'repository';
    }
    const maxBytes = this.options.maxIndexBytes ?? DEFAULT_MAX_INDEX_BYTES;
    if (!Number.isSafeInteger(descriptor.size) || descriptor.size < 0 || descriptor.size > maxBytes) {
      throw new ImageError('InvalidArgument', `the layer index ${descriptor.digest} of ${layer.digest} declares ${descriptor.size} bytes, over the ${maxBytes} an index may hold (maxIndexBytes)`, {
        subject: layer.digest, hint: 'rebuild and push the index (imagefs index --push), or raise maxIndexBytes if it is genuine',
      });
    }
    const bytes = await registry.readBlobVerified(descriptor, { ...options, maxBytes });
    let index: LayerIndex;
    try {
      index = openLayerIndex(layer, bytes, descriptor.digest);
    } catch (error) {
      // An index of another format version is not wrong, only unreadable here: serve as without one.
      if (!isUnsupportedIndexVersion(error)) throw error;
      this.options.onOutdatedIndex?.(layer.digest, error);
      return undefined;
    }
    checkIndexBounds(index); // DataLoss: entries or spans outside the layer
    await this.save(layer, bytes, binding === 'repository' && repository !== undefined ? { ...options, repository } : options);
    return { bytes, index, from: 'registry', binding };
  }

  /**
   * The startup profile stored in the registry next to `image`'s indexes, under the same rule as
   * the indexes (SECURITY.md): the profile artifact the image manifest pins
   * (`imagefs index --push --pin --profile FILE`), else, under the default `registryTrust:
   * 'reference'`, the newest profile among the referrers of an image named by tag. Undefined when
   * none is stored (or the store has no registry). The profile is only a hint for the order of the
   * background download, and is not kept in the local cache.
   *
   * @throws ImageError `FailedPrecondition` for a profile among the referrers that is not bound
   *   to the image (named by digest without a pin, or `registryTrust: 'pinned'`): it is not read;
   *   `ResourceExhausted` for a profile blob over `MAX_PROFILE_BYTES` (not fetched);
   *   `InvalidArgument` for one that is not a profile of this image; `DataLoss` for bytes that
   *   fail their digest; registry errors. Errors about a located profile carry its artifact
   *   digest as `subject`.
   * @example
   * ```ts
   * const found = await store.findProfile({ digest: image.digest, reference: image.reference, manifest: image.manifest });
   * ```
   */
  async findProfile(image: IndexedImage, options: ReadOptions = {}): Promise<FoundProfile | undefined> {
    const registry = this.options.registry;
    if (registry === undefined) return undefined;
    const { imageDigest, reference, tagTrusted } = this.trustOf(image);
    const pin = image.manifest === undefined ? {} : pinnedProfileOf(image.manifest);
    let artifact: Descriptor;
    let binding: FoundProfile['binding'];
    if (pin.descriptor !== undefined) {
      artifact = pin.descriptor;
      binding = 'pinned';
    } else {
      const listed = (await this.registryIndexes(imageDigest, options)).profile;
      if (listed === undefined) return undefined;
      if (!tagTrusted) {
        const because = unboundBecause(reference, pin.problem, this.options.registryTrust);
        throw new ImageError('FailedPrecondition', `the startup profile ${listed.digest} among the image's referrers is not bound to the image: ${because}; it was not read`, {
          subject: listed.digest, hint: 'run `imagefs index --push --pin --profile FILE REF` and open the digest it prints',
        });
      }
      artifact = listed;
      binding = 'repository';
    }
    try {
      const { profile, blob } = await fetchStartupProfile(registry, artifact, binding === 'pinned' ? undefined : imageDigest, options);
      return { profile, artifact, blob, binding };
    } catch (error) {
      if (!(error instanceof ImageError) || error.subject === artifact.digest || error.code === 'Aborted') throw error;
      throw new ImageError(error.code, `the startup profile artifact ${artifact.digest}: ${error.message}`, { subject: artifact.digest, cause: error, hint: error.hint });
    }
  }

  /** Who names `image` and whether that trusts the referrers of its repository (SECURITY.md). */
  private trustOf(image: string | IndexedImage): { imageDigest: string; reference: string | undefined; tagTrusted: boolean; repository: string | undefined } {
    const imageDigest = typeof image === 'string' ? image : image.digest;
    const reference = typeof image === 'string' ? this.options.registry?.reference : image.reference;
    const tagTrusted = (this.options.registryTrust ?? 'reference') === 'reference' && reference !== undefined && !referenceNamesDigest(reference);
    return { imageDigest, reference, tagTrusted, repository: tagTrusted ? repositoryOf(reference) : undefined };
  }

  /** Keeps `bytes` as the index of `layer` in the local cache (no-op without one). Best effort: a full or closed cache is ignored. */
  async save(layer: Descriptor, bytes: Uint8Array, options: ReadOptions & { repository?: string } = {}): Promise<void> {
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

/** `HOST/REPOSITORY` of a registry reference (the scope of tag-trusted indexes), or undefined. */
function repositoryOf(reference: string | undefined): string | undefined {
  if (reference === undefined) return undefined;
  try {
    const parsed = parseReference(reference);
    return `${parsed.registry}/${parsed.repository}`;
  } catch {
    return undefined;
  }
}

/** The `index-ignored` reason for an unbound registry index. */
function unboundWhy(artifact: string | undefined, reference: string | undefined, pinProblem: string | undefined, trust: RegistryIndexTrust | undefined): string {
  const what = `the index ${artifact ?? ''} among the image's referrers is not bound to the image`.replace('  ', ' ');
  const because = unboundBecause(reference, pinProblem, trust);
  return `${what}: ${because}; it was not read. Run \`imagefs index --push --pin REF\` and open the digest it prints, or open with indexing: 'on-the-fly'`;
}

/** Why a referrer of the image is not bound to it (SECURITY.md). */
function unboundBecause(reference: string | undefined, pinProblem: string | undefined, trust: RegistryIndexTrust | undefined): string {
  return pinProblem !== undefined
    ? `the image manifest's pin is malformed (${pinProblem})`
    : trust === 'pinned'
      ? "registryTrust 'pinned' accepts only indexes pinned by the image manifest"
      : reference === undefined
        ? 'the reference the image was named by is unknown'
        : `${reference} names the image by digest, and anyone with push rights to the repository can add referrers`;
}
