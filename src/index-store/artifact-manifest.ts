/**
 * The OCI artifact manifest that carries an image's layer indexes: one index blob per layer, the
 * image manifest as `subject`.
 * @module
 */
import { invalidArgument } from '../errors/image-fs-error.js';
import { MediaType } from '../image/media-types.js';
import type { Descriptor, ImageManifest } from '../image/types.js';
import { EMPTY_DESCRIPTOR, IMAGEFS_INDEX_ARTIFACT_TYPE, LAYER_DIGEST_ANNOTATION, LAYER_INDEX_MEDIA_TYPE } from './media-types.js';

/** One stored layer index: the layer it indexes and the descriptor of the index blob. */
export interface StoredLayerIndex {
  /** Digest of the image layer. */
  layerDigest: string;
  /** Descriptor of the index blob (media type {@link LAYER_INDEX_MEDIA_TYPE}). */
  index: Descriptor;
}

/**
 * Builds the artifact manifest's exact bytes:
 * `{ schemaVersion: 2, mediaType: OCI manifest, artifactType: IMAGEFS_INDEX_ARTIFACT_TYPE,
 * config: the OCI empty descriptor, layers: [index blobs, annotated with the layer digest], subject }`.
 *
 * @example
 * ```ts
 * const bytes = indexManifestBytes(imageDescriptor, [{ layerDigest, index: { mediaType: LAYER_INDEX_MEDIA_TYPE, digest, size } }]);
 * ```
 */
export function indexManifestBytes(subject: Descriptor, indexes: readonly StoredLayerIndex[]): Uint8Array {
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OCI_MANIFEST,
    artifactType: IMAGEFS_INDEX_ARTIFACT_TYPE,
    config: { ...EMPTY_DESCRIPTOR },
    layers: indexes.map((i) => ({
      mediaType: LAYER_INDEX_MEDIA_TYPE, digest: i.index.digest, size: i.index.size,
      annotations: { [LAYER_DIGEST_ANNOTATION]: i.layerDigest },
    })),
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
  };
  return new TextEncoder().encode(JSON.stringify(manifest));
}

/**
 * Reads the layer indexes an artifact manifest lists, checking that it is an imagefs index
 * manifest whose `subject` is `subjectDigest` (an index manifest of another image is refused).
 *
 * @throws ImageError `InvalidArgument` when the manifest is not an imagefs index of that subject.
 */
export function parseIndexManifest(manifest: ImageManifest, subjectDigest: string): Map<string, Descriptor> {
  if (manifest.artifactType !== IMAGEFS_INDEX_ARTIFACT_TYPE) {
    throw invalidArgument(`the referrer is not an imagefs index manifest (artifactType ${String(manifest.artifactType)})`);
  }
  if (manifest.subject?.digest !== subjectDigest) {
    throw invalidArgument(`the imagefs index manifest refers to ${String(manifest.subject?.digest)}, not ${subjectDigest}`, {
      hint: 'the registry lists a referrer of another image; rebuild the index with imagefs index --push',
    });
  }
  const out = new Map<string, Descriptor>();
  for (const layer of Array.isArray(manifest.layers) ? manifest.layers : []) {
    const layerDigest = layer.annotations?.[LAYER_DIGEST_ANNOTATION];
    if (layer.mediaType === LAYER_INDEX_MEDIA_TYPE && typeof layerDigest === 'string' && typeof layer.digest === 'string' && Number.isSafeInteger(layer.size)) {
      out.set(layerDigest, { mediaType: layer.mediaType, digest: layer.digest, size: layer.size });
    }
  }
  return out;
}
