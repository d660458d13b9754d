/**
 * Storing a startup profile in a registry next to the image's indexes, as its own referrer of the
 * image manifest, and reading it back (bounded, verified, strictly parsed).
 * @module
 */
import { ImageError, invalidArgument, throwIfAborted } from '../errors/image-fs-error.js';
import { MediaType } from '../image/media-types.js';
import type { Descriptor, ImageManifest } from '../image/types.js';
import type { StartupProfile } from '../layer/startup-profile.js';
import type { ReadOptions } from '../source/read-at.js';
import { EMPTY_DESCRIPTOR, EMPTY_JSON, IMAGEFS_PROFILE_ARTIFACT_TYPE, STARTUP_PROFILE_MEDIA_TYPE } from './media-types.js';
import { MAX_PROFILE_BYTES, parseStartupProfile } from './profile-check.js';
import { listInReferrersTag, type IndexRegistry, type PushIndexesOptions } from './registry-indexes.js';

/**
 * Builds the profile artifact manifest's exact bytes:
 * `{ schemaVersion: 2, mediaType: OCI manifest, artifactType: IMAGEFS_PROFILE_ARTIFACT_TYPE,
 * config: the OCI empty descriptor, layers: [the profile blob], subject }`.
 *
 * @example
 * ```ts
 * const bytes = profileManifestBytes(imageDescriptor, { mediaType: STARTUP_PROFILE_MEDIA_TYPE, digest, size });
 * ```
 */
export function profileManifestBytes(subject: Descriptor, blob: Descriptor): Uint8Array {
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OCI_MANIFEST,
    artifactType: IMAGEFS_PROFILE_ARTIFACT_TYPE,
    config: { ...EMPTY_DESCRIPTOR },
    layers: [{ mediaType: STARTUP_PROFILE_MEDIA_TYPE, digest: blob.digest, size: blob.size }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
  };
  return new TextEncoder().encode(JSON.stringify(manifest));
}

/**
 * The profile blob a profile artifact manifest lists, checking that it is an imagefs startup
 * profile manifest and, when `subjectDigest` is given, that its `subject` is that image manifest
 * (a pinned profile is named by digest: its subject binds nothing more, pass undefined).
 *
 * @throws ImageError `InvalidArgument` when the manifest is not a profile manifest of that subject.
 * @example
 * ```ts
 * const blob = parseProfileManifest(fetched.parsed as ImageManifest, image.digest);
 * ```
 */
export function parseProfileManifest(manifest: ImageManifest, subjectDigest: string | undefined): Descriptor {
  if (manifest.artifactType !== IMAGEFS_PROFILE_ARTIFACT_TYPE) {
    throw invalidArgument(`the referrer is not an imagefs startup profile manifest (artifactType ${String(manifest.artifactType)})`);
  }
  if (subjectDigest !== undefined && manifest.subject?.digest !== subjectDigest) {
    throw invalidArgument(`the startup profile manifest refers to ${String(manifest.subject?.digest)}, not ${subjectDigest}`, {
      hint: 'the registry lists a referrer of another image; push the profile again with imagefs index --push --profile',
    });
  }
  const blobs = (Array.isArray(manifest.layers) ? manifest.layers : []).filter((l) => l.mediaType === STARTUP_PROFILE_MEDIA_TYPE);
  const blob = blobs[0];
  if (blobs.length !== 1 || blob === undefined || typeof blob.digest !== 'string' || !Number.isSafeInteger(blob.size) || blob.size < 0) {
    throw invalidArgument(`the startup profile manifest lists ${blobs.length} profile blobs, not one`);
  }
  return { mediaType: blob.mediaType, digest: blob.digest, size: blob.size };
}

/**
 * Pushes `bytes` (a startup profile, checked by the caller: see `parseStartupProfile` and
 * `checkProfileSpans`) as one OCI artifact manifest referring to the image manifest `subject`:
 * uploads the blob (media type {@link STARTUP_PROFILE_MEDIA_TYPE}) and the empty config, puts the
 * manifest by digest, and (by default) lists it in the referrers tag index, replacing older
 * profile manifests listed there (the index artifacts stay).
 *
 * @returns the artifact manifest's descriptor (with `artifactType`).
 * @example
 * ```ts
 * const artifact = await pushStartupProfile(source, { mediaType, digest, size }, profileBytes);
 * ```
 */
export async function pushStartupProfile(registry: IndexRegistry, subject: Descriptor, bytes: Uint8Array, options: PushIndexesOptions = {}): Promise<Descriptor> {
  const signal = options.signal === undefined ? {} : { signal: options.signal };
  const blob = await registry.putBlob(bytes, { mediaType: STARTUP_PROFILE_MEDIA_TYPE, ...signal });
  await registry.putBlob(EMPTY_JSON, { mediaType: MediaType.OCI_EMPTY, ...signal });
  const pushed = await registry.putManifest(profileManifestBytes(subject, blob), MediaType.OCI_MANIFEST, signal);
  const artifact: Descriptor = { mediaType: MediaType.OCI_MANIFEST, digest: pushed.digest, size: pushed.size, artifactType: IMAGEFS_PROFILE_ARTIFACT_TYPE };
  if (options.referrersTag !== false) await listInReferrersTag(registry, subject.digest, artifact, options);
  return artifact;
}

/** A startup profile read from a registry by {@link fetchStartupProfile}. */
export interface FetchedProfile {
  /** The profile, parsed strictly (its spans are not yet checked against the image's indexes). */
  profile: StartupProfile;
  /** The profile blob's descriptor (verified against its digest). */
  blob: Descriptor;
}

/**
 * Reads the startup profile the artifact manifest `artifact` carries: the manifest by its digest,
 * then the blob, refused before it is fetched when its descriptor says more than
 * {@link MAX_PROFILE_BYTES}, verified against its digest, then parsed strictly.
 *
 * @param subjectDigest - the image manifest the artifact must refer to; undefined for a pinned artifact.
 * @throws ImageError `ResourceExhausted` for a blob over the bound; `InvalidArgument` for a
 *   manifest or profile that is not one; `DataLoss` for bytes that fail their digest; registry errors.
 * @example
 * ```ts
 * const { profile } = await fetchStartupProfile(source, found.profile!, image.digest);
 * ```
 */
export async function fetchStartupProfile(registry: IndexRegistry, artifact: Descriptor, subjectDigest: string | undefined, options: ReadOptions = {}): Promise<FetchedProfile> {
  const signal = options.signal === undefined ? {} : { signal: options.signal };
  const fetched = await registry.fetchManifest({ expected: artifact, ...signal });
  const blob = parseProfileManifest(fetched.parsed as ImageManifest, subjectDigest);
  if (blob.size > MAX_PROFILE_BYTES) {
    throw new ImageError('ResourceExhausted', `the startup profile ${blob.digest} declares ${blob.size} bytes, over the ${MAX_PROFILE_BYTES} a profile may hold; it was not fetched`, {
      subject: blob.digest, hint: 'push a profile recorded by imagefs (imagefs index --push --profile-from-cache)',
    });
  }
  throwIfAborted(options.signal);
  const bytes = await registry.readBlobVerified(blob, { ...signal, maxBytes: MAX_PROFILE_BYTES });
  return { profile: parseStartupProfile(bytes, `the startup profile ${blob.digest}`), blob };
}
