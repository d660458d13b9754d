/**
 * Pinning an image's indexes: a new image manifest whose annotations name the index artifact by digest.
 * @module
 */
import { invalidArgument } from '../errors/image-fs-error.js';
import type { Descriptor, ResolvedImage } from '../image/types.js';
import type { ReadOptions } from '../source/read-at.js';
import type { IndexRegistry } from './registry-indexes.js';
import { MAX_PINNED_INDEX_MANIFEST_SIZE, PINNED_INDEX_DIGEST_ANNOTATION, PINNED_INDEX_SIZE_ANNOTATION, PINNED_PROFILE_DIGEST_ANNOTATION, PINNED_PROFILE_SIZE_ANNOTATION } from './trust.js';

/**
 * The bytes of `image`'s manifest with the pin annotations added (or replaced): everything else
 * (config, layers, other annotations) is kept, so the pinned image has the same content under a new
 * manifest digest, and that digest names its indexes too. With `profile` (the startup profile
 * artifact manifest pushed by `pushStartupProfile`), the profile is pinned as well
 * ({@link PINNED_PROFILE_DIGEST_ANNOTATION}); without it, a profile pin the image carried is dropped
 * (it would pin a profile recorded against other indexes).
 *
 * @throws ImageError `InvalidArgument` for a schema 1 image or an artifact manifest over the pin size bound.
 * @example
 * ```ts
 * const bytes = pinnedManifestBytes(image, artifact);
 * ```
 */
export function pinnedManifestBytes(image: Pick<ResolvedImage, 'manifestBytes' | 'schema1' | 'digest'>, artifact: Descriptor, profile?: Descriptor): Uint8Array {
  if (image.schema1 === true) throw invalidArgument(`${image.digest} is a schema 1 manifest, which cannot carry annotations`, { hint: 'convert the image to OCI or schema 2 first (skopeo copy --format oci)' });
  for (const [what, d] of [['index', artifact], ['startup profile', profile]] as const) {
    if (d !== undefined && d.size > MAX_PINNED_INDEX_MANIFEST_SIZE) throw invalidArgument(`the ${what} artifact manifest is ${d.size} bytes, over the ${MAX_PINNED_INDEX_MANIFEST_SIZE} a pin accepts`);
  }
  const manifest = JSON.parse(new TextDecoder().decode(image.manifestBytes)) as { annotations?: Record<string, string> };
  const annotations: Record<string, string> = { ...(manifest.annotations ?? {}), [PINNED_INDEX_DIGEST_ANNOTATION]: artifact.digest, [PINNED_INDEX_SIZE_ANNOTATION]: String(artifact.size) };
  delete annotations[PINNED_PROFILE_DIGEST_ANNOTATION];
  delete annotations[PINNED_PROFILE_SIZE_ANNOTATION];
  if (profile !== undefined) Object.assign(annotations, { [PINNED_PROFILE_DIGEST_ANNOTATION]: profile.digest, [PINNED_PROFILE_SIZE_ANNOTATION]: String(profile.size) });
  manifest.annotations = annotations;
  return new TextEncoder().encode(JSON.stringify(manifest));
}

/**
 * Pushes a copy of `image`'s manifest that pins `artifact` (the imagefs index artifact manifest
 * pushed by `pushRegistryIndexes`) by digest, into the same repository, by digest (no tag moves).
 * Open the returned digest (`REPO@DIGEST`) to stream through these indexes with nothing trusted
 * but that digest. `options.profile` (the artifact manifest `pushStartupProfile` returned) pins a
 * startup profile too.
 *
 * @returns the descriptor of the new image manifest.
 * @example
 * ```ts
 * const artifact = await store.push(subject, built);
 * const pinned = await pinIndexes(source, image, artifact);
 * console.log(`open ${repo}@${pinned.digest}`);
 * ```
 */
export async function pinIndexes(
  registry: Pick<IndexRegistry, 'putManifest'>, image: Pick<ResolvedImage, 'manifestBytes' | 'schema1' | 'digest' | 'mediaType'>, artifact: Descriptor,
  options: ReadOptions & { profile?: Descriptor } = {},
): Promise<Descriptor> {
  const bytes = pinnedManifestBytes(image, artifact, options.profile);
  return registry.putManifest(bytes, image.mediaType, options.signal === undefined ? {} : { signal: options.signal });
}
