import { MediaType } from '../../image/media-types.js';
import type { Descriptor, ImageIndex } from '../../image/types.js';
import type { BuiltImage, ImageFlavour } from './build-image.js';
import { jsonBytes, sha256Digest } from './digest.js';

/** A built multi-platform index (OCI image index or Docker manifest list) with all its blobs. */
export interface BuiltIndex {
  kind: 'index';
  flavour: ImageFlavour;
  index: ImageIndex;
  /** The index's exact bytes. */
  indexBytes: Uint8Array;
  /** Descriptor of the index (no platform). */
  descriptor: Descriptor;
  /** The children, in index order. */
  children: Array<BuiltImage | BuiltIndex>;
  /** Every blob by digest: the children's blobs and the index itself. */
  blobs: Map<string, Uint8Array>;
}

/** Options of {@link buildImageIndex}. */
export interface ImageIndexOptions {
  /** Default: the first child's flavour (`docker` makes a manifest list). */
  flavour?: ImageFlavour;
  /** Index annotations. */
  annotations?: Record<string, string>;
  /** Extra descriptors listed in the index without blobs (e.g. an attestation manifest stored elsewhere). */
  extra?: Descriptor[];
}

/**
 * Builds a multi-platform index over built images (or nested indexes). Each image is listed with
 * its `platform`.
 *
 * @example
 * ```ts
 * const amd = await buildImage({ layers, platform: { os: 'linux', architecture: 'amd64' } });
 * const arm = await buildImage({ layers, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
 * const idx = buildImageIndex([amd, arm]);
 * ```
 */
export function buildImageIndex(children: ReadonlyArray<BuiltImage | BuiltIndex>, options: ImageIndexOptions = {}): BuiltIndex {
  const flavour = options.flavour ?? children[0]?.flavour ?? 'oci';
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: flavour === 'docker' ? MediaType.DOCKER_LIST : MediaType.OCI_INDEX,
    manifests: [...children.map((c) => c.descriptor), ...(options.extra ?? [])],
    ...(options.annotations ? { annotations: options.annotations } : {}),
  };
  const indexBytes = jsonBytes(index);
  const descriptor: Descriptor = { mediaType: index.mediaType!, digest: sha256Digest(indexBytes), size: indexBytes.length };
  const blobs = new Map<string, Uint8Array>();
  for (const c of children) for (const [d, b] of c.blobs) blobs.set(d, b);
  blobs.set(descriptor.digest, indexBytes);
  return { kind: 'index', flavour, index, indexBytes, descriptor, children: [...children], blobs };
}
