/**
 * The names imagefs gives its stored indexes in a registry, and the names of the peers' indexes
 * it recognises.
 * @module
 */
import { MediaType } from '../image/media-types.js';
import type { Descriptor } from '../image/types.js';

/** `artifactType` of the manifest that holds imagefs layer indexes (a referrer of the image manifest). */
export const IMAGEFS_INDEX_ARTIFACT_TYPE = 'application/vnd.imagefs.index.v1';

/** Media type of one layer index blob (the format of docs/index-format.md). */
export const LAYER_INDEX_MEDIA_TYPE = 'application/vnd.imagefs.layer-index.v1';

/** Annotation on each layer index descriptor: the digest of the image layer it indexes. */
export const LAYER_DIGEST_ANNOTATION = 'dev.imagefs.layer.digest';

/**
 * `artifactType` of the manifest that holds an imagefs startup profile (a referrer of the image
 * manifest, next to the index artifact; see `pushStartupProfile`).
 */
export const IMAGEFS_PROFILE_ARTIFACT_TYPE = 'application/vnd.imagefs.startup-profile.v1';

/**
 * Media type of a startup profile blob: the JSON a cache keeps as `startup-profile/<image digest>`,
 * `{"version": 1, "spans": [[layer digest, span], ...]}` (see `parseStartupProfile`).
 */
export const STARTUP_PROFILE_MEDIA_TYPE = 'application/vnd.imagefs.startup-profile.v1+json';

/** `artifactType` of a SOCI index (AWS seekable OCI), reported when found among the referrers. */
export const SOCI_INDEX_ARTIFACT_TYPE = 'application/vnd.amazon.soci.index.v1+json';

/** The bytes of the OCI empty blob, `{}`. */
export const EMPTY_JSON = new TextEncoder().encode('{}');

/** The OCI empty descriptor (image-spec 1.1), used as the config of artifact manifests. */
export const EMPTY_DESCRIPTOR: Readonly<Descriptor> = Object.freeze({
  mediaType: MediaType.OCI_EMPTY,
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
});
