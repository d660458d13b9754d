/**
 * Storing layer indexes in a registry as a referrer of the image manifest, and finding them again.
 * @module
 */
import { throwIfAborted } from '../errors/image-fs-error.js';
import { MediaType } from '../image/media-types.js';
import type { Descriptor, ImageIndex, ImageManifest } from '../image/types.js';
import type { FetchedManifest } from '../registry/manifest.js';
import type { PutBlobOptions, PutManifestOptions } from '../registry/push.js';
import { referrersTag, type ReferrersOptions } from '../registry/referrers.js';
import type { ReadOptions } from '../source/read-at.js';
import { indexManifestBytes, parseIndexManifest, type StoredLayerIndex } from './artifact-manifest.js';
import { EMPTY_JSON, IMAGEFS_INDEX_ARTIFACT_TYPE, IMAGEFS_PROFILE_ARTIFACT_TYPE, LAYER_INDEX_MEDIA_TYPE, SOCI_INDEX_ARTIFACT_TYPE } from './media-types.js';

/** What the index store needs of a registry; `RegistrySource` offers all of it. */
export interface IndexRegistry {
  /** The reference the registry source was opened with (decides trust: see `RegistryIndexTrust`). */
  readonly reference?: string;
  /** Manifests whose subject is `subjectDigest` (referrers API, else the `sha256-<hex>` tag). */
  getReferrers(subjectDigest: string, options?: ReferrersOptions): Promise<Descriptor[]>;
  /** The manifest `options.expected` names, verified against it. */
  fetchManifest(options: { expected?: Descriptor; signal?: AbortSignal }): Promise<FetchedManifest>;
  /** A whole blob, returned only when its digest matches; `maxBytes` bounds the descriptor's size before anything is allocated. */
  readBlobVerified(descriptor: Descriptor, options?: ReadOptions & { maxBytes?: number }): Promise<Uint8Array>;
  /** Uploads a blob (skipped when present). */
  putBlob(bytes: Uint8Array, options?: PutBlobOptions): Promise<Descriptor>;
  /** Pushes a manifest under a tag or by digest. */
  putManifest(bytes: Uint8Array, mediaType: string, options?: PutManifestOptions): Promise<Descriptor>;
}

/** What an image's referrers say about indexes. */
export interface RegistryIndexes {
  /** The imagefs index manifest used (the last one listed), if any. */
  artifact?: Descriptor;
  /** Index blob descriptors by layer digest (from {@link artifact}). */
  layers: Map<string, Descriptor>;
  /** SOCI indexes found among the referrers (reported, not read). */
  soci: Descriptor[];
  /**
   * The newest imagefs startup profile artifact manifest among the referrers (artifact type
   * `IMAGEFS_PROFILE_ARTIFACT_TYPE`), listed, not fetched: see `IndexStore.findProfile`.
   */
  profile?: Descriptor;
}

/**
 * Lists the referrers of the image manifest `subjectDigest` and reads the newest imagefs index
 * manifest among them (checking its artifact type and subject). SOCI indexes are collected, and
 * the newest startup profile artifact is noted (not fetched).
 *
 * @throws whatever the registry throws (an absent referrers list is an empty one);
 *   ImageError `InvalidArgument` for an index manifest bound to another subject.
 */
export async function findRegistryIndexes(registry: IndexRegistry, subjectDigest: string, options: ReadOptions = {}): Promise<RegistryIndexes> {
  const referrers = await registry.getReferrers(subjectDigest, options.signal === undefined ? {} : { signal: options.signal });
  const soci = referrers.filter((d) => d.artifactType === SOCI_INDEX_ARTIFACT_TYPE);
  const artifact = referrers.filter((d) => d.artifactType === IMAGEFS_INDEX_ARTIFACT_TYPE).at(-1);
  const profile = referrers.filter((d) => d.artifactType === IMAGEFS_PROFILE_ARTIFACT_TYPE).at(-1);
  const withProfile = profile === undefined ? {} : { profile };
  if (artifact === undefined) return { layers: new Map(), soci, ...withProfile };
  throwIfAborted(options.signal);
  const fetched = await registry.fetchManifest({ expected: artifact, ...(options.signal === undefined ? {} : { signal: options.signal }) });
  return { artifact, layers: parseIndexManifest(fetched.parsed as ImageManifest, subjectDigest), soci, ...withProfile };
}

/** Options of {@link pushRegistryIndexes}. */
export interface PushIndexesOptions extends ReadOptions {
  /**
   * Also maintain the referrers tag schema (`sha256-<hex>` image index) so registries without the
   * referrers API (CNCF distribution 2.8) list the artifact. Default true; harmless elsewhere.
   */
  referrersTag?: boolean;
}

/**
 * Pushes layer indexes as one OCI artifact manifest referring to the image manifest `subject`:
 * uploads each index blob and the empty config, puts the manifest by digest, and (by default)
 * adds it to the referrers tag index, replacing older imagefs index manifests listed there.
 *
 * @returns the artifact manifest's descriptor (with `artifactType`).
 *
 * @example
 * ```ts
 * const artifact = await pushRegistryIndexes(source, { mediaType, digest, size }, [{ layer, bytes }]);
 * ```
 */
export async function pushRegistryIndexes(
  registry: IndexRegistry, subject: Descriptor, indexes: ReadonlyArray<{ layer: Descriptor; bytes: Uint8Array }>, options: PushIndexesOptions = {},
): Promise<Descriptor> {
  const signal = options.signal === undefined ? {} : { signal: options.signal };
  const stored: StoredLayerIndex[] = [];
  for (const { layer, bytes } of indexes) {
    const index = await registry.putBlob(bytes, { mediaType: LAYER_INDEX_MEDIA_TYPE, ...signal });
    stored.push({ layerDigest: layer.digest, index });
  }
  await registry.putBlob(EMPTY_JSON, { mediaType: MediaType.OCI_EMPTY, ...signal });
  const bytes = indexManifestBytes(subject, stored);
  const pushed = await registry.putManifest(bytes, MediaType.OCI_MANIFEST, signal);
  const artifact: Descriptor = { mediaType: MediaType.OCI_MANIFEST, digest: pushed.digest, size: pushed.size, artifactType: IMAGEFS_INDEX_ARTIFACT_TYPE };
  if (options.referrersTag !== false) await listInReferrersTag(registry, subject.digest, artifact, options);
  return artifact;
}

/**
 * Adds `artifact` to the referrers tag index (`sha256-<hex>`) of `subjectDigest`, replacing the
 * referrers listed there with the same `artifactType` (the newest one is the one used) and keeping
 * every other referrer. For registries without the referrers API; harmless elsewhere.
 *
 * @example
 * ```ts
 * await listInReferrersTag(source, image.digest, { ...pushed, artifactType: IMAGEFS_PROFILE_ARTIFACT_TYPE });
 * ```
 */
export async function listInReferrersTag(registry: Pick<IndexRegistry, 'getReferrers' | 'putManifest'>, subjectDigest: string, artifact: Descriptor, options: ReadOptions = {}): Promise<void> {
  const signal = options.signal === undefined ? {} : { signal: options.signal };
  const listed = await registry.getReferrers(subjectDigest, signal);
  const kept = listed.filter((d) => d.artifactType !== artifact.artifactType && d.digest !== artifact.digest);
  const tagIndex: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [...kept, artifact] };
  await registry.putManifest(new TextEncoder().encode(JSON.stringify(tagIndex)), MediaType.OCI_INDEX, { tag: referrersTag(subjectDigest), ...signal });
}
