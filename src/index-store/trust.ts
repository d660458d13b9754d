/**
 * When a layer index stored outside this machine may be used: the trust model of SECURITY.md.
 * @module
 */
import type { Descriptor, ImageManifest } from '../image/types.js';
import { tryParseDigest } from '../image/digest.js';

/**
 * Manifest annotation of an image manifest written by `imagefs index --push --pin`: the digest of
 * the imagefs index artifact manifest this image vouches for. Because the annotation is inside the
 * image manifest, naming the image by digest names its indexes too (as eStargz pins its TOC).
 */
export const PINNED_INDEX_DIGEST_ANNOTATION = 'dev.imagefs.index.manifest.digest';

/** Companion of {@link PINNED_INDEX_DIGEST_ANNOTATION}: the artifact manifest's size in bytes. */
export const PINNED_INDEX_SIZE_ANNOTATION = 'dev.imagefs.index.manifest.size';

/** Largest pinned artifact manifest accepted, in bytes (an index manifest lists one small descriptor per layer). */
export const MAX_PINNED_INDEX_MANIFEST_SIZE = 4 << 20;

/**
 * Which registry indexes an {@link IndexStore} uses:
 * - `reference` (default): an index pinned by the image manifest always; an unpinned index among
 *   the image's referrers only when the reference named a tag (whoever can write that
 *   repository's referrers can move the tag anyway); never for an image named by digest.
 * - `pinned`: only indexes pinned by the image manifest (and local builds).
 */
export type RegistryIndexTrust = 'reference' | 'pinned';

/** How a found index is bound to the layer the caller reads. */
export type IndexBinding =
  /** Built on this machine, or copied into the local cache from a pinned index. */
  | 'local'
  /** Pinned by digest from the image manifest the caller named. */
  | 'pinned'
  /** Listed among the referrers of an image named by tag, in the same repository. */
  | 'repository';

/**
 * Manifest annotation of an image manifest written by `imagefs index --push --pin --profile FILE`:
 * the digest of the startup profile artifact manifest this image vouches for (the profile rides
 * with the pinned indexes and is bound the same way).
 */
export const PINNED_PROFILE_DIGEST_ANNOTATION = 'dev.imagefs.profile.manifest.digest';

/** Companion of {@link PINNED_PROFILE_DIGEST_ANNOTATION}: the profile artifact manifest's size in bytes. */
export const PINNED_PROFILE_SIZE_ANNOTATION = 'dev.imagefs.profile.manifest.size';

/**
 * The artifact manifest an image manifest pins (annotations {@link PINNED_INDEX_DIGEST_ANNOTATION}
 * and {@link PINNED_INDEX_SIZE_ANNOTATION}), or undefined when it pins none or the pin is malformed
 * (then `problem` says what is wrong).
 *
 * @example
 * ```ts
 * const pin = pinnedIndexOf(image.manifest);
 * if (pin.descriptor) await registry.fetchManifest({ expected: pin.descriptor });
 * ```
 */
export function pinnedIndexOf(manifest: Pick<ImageManifest, 'annotations'>): { descriptor?: Descriptor; problem?: string } {
  return pinOf(manifest, PINNED_INDEX_DIGEST_ANNOTATION, PINNED_INDEX_SIZE_ANNOTATION);
}

/**
 * The startup profile artifact manifest an image manifest pins (annotations
 * {@link PINNED_PROFILE_DIGEST_ANNOTATION} and {@link PINNED_PROFILE_SIZE_ANNOTATION}), or
 * undefined when it pins none or the pin is malformed (then `problem` says what is wrong).
 *
 * @example
 * ```ts
 * const pin = pinnedProfileOf(image.manifest);
 * if (pin.descriptor) await registry.fetchManifest({ expected: pin.descriptor });
 * ```
 */
export function pinnedProfileOf(manifest: Pick<ImageManifest, 'annotations'>): { descriptor?: Descriptor; problem?: string } {
  return pinOf(manifest, PINNED_PROFILE_DIGEST_ANNOTATION, PINNED_PROFILE_SIZE_ANNOTATION);
}

/** The manifest descriptor a pair of pin annotations names, checked (digest syntax, bounded size). */
function pinOf(manifest: Pick<ImageManifest, 'annotations'>, digestKey: string, sizeKey: string): { descriptor?: Descriptor; problem?: string } {
  const annotations = manifest.annotations;
  if (annotations === undefined || annotations === null || typeof annotations !== 'object') return {};
  const digest = annotations[digestKey];
  const size = annotations[sizeKey];
  if (digest === undefined && size === undefined) return {};
  if (typeof digest !== 'string' || tryParseDigest(digest) === undefined) return { problem: `the annotation ${digestKey} is not a digest` };
  const n = typeof size === 'string' && /^[0-9]{1,10}$/.test(size) ? Number(size) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0 || n > MAX_PINNED_INDEX_MANIFEST_SIZE) {
    return { problem: `the annotation ${sizeKey} must be a size in bytes from 1 to ${MAX_PINNED_INDEX_MANIFEST_SIZE}` };
  }
  return { descriptor: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: n } };
}

/**
 * True when `reference` names its image by digest (`NAME@sha256:...`, or an `oci:` layout is not
 * concerned): then only pinned indexes may be used.
 *
 * @example
 * ```ts
 * referenceNamesDigest('127.0.0.1:5000/app@sha256:' + 'a'.repeat(64)); // true
 * referenceNamesDigest('127.0.0.1:5000/app:1'); // false
 * ```
 */
export function referenceNamesDigest(reference: string): boolean {
  const at = reference.lastIndexOf('@');
  return at >= 0 && tryParseDigest(reference.slice(at + 1)) !== undefined;
}
