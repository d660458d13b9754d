/** Media types imagefs recognises, OCI and Docker. */
export const MediaType = {
  OCI_INDEX: 'application/vnd.oci.image.index.v1+json',
  OCI_MANIFEST: 'application/vnd.oci.image.manifest.v1+json',
  OCI_CONFIG: 'application/vnd.oci.image.config.v1+json',
  OCI_LAYER: 'application/vnd.oci.image.layer.v1.tar',
  OCI_LAYER_GZIP: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OCI_LAYER_ZSTD: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OCI_LAYER_ND: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OCI_LAYER_ND_GZIP: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  OCI_LAYER_ND_ZSTD: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  OCI_EMPTY: 'application/vnd.oci.empty.v1+json',
  DOCKER_LIST: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DOCKER_MANIFEST: 'application/vnd.docker.distribution.manifest.v2+json',
  DOCKER_SCHEMA1: 'application/vnd.docker.distribution.manifest.v1+json',
  DOCKER_SCHEMA1_SIGNED: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  DOCKER_CONFIG: 'application/vnd.docker.container.image.v1+json',
  DOCKER_LAYER_GZIP: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DOCKER_FOREIGN_GZIP: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

/** How a layer blob is compressed, from its media type. */
export type LayerCompression = 'gzip' | 'zstd' | 'none';

/** True for an index or a manifest list. */
export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.OCI_INDEX || mediaType === MediaType.DOCKER_LIST;
}

/** True for an OCI image manifest or a Docker schema 2 manifest. */
export function isManifestMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.OCI_MANIFEST || mediaType === MediaType.DOCKER_MANIFEST;
}

/** True for a Docker schema 1 manifest, signed or not. */
export function isSchema1MediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.DOCKER_SCHEMA1 || mediaType === MediaType.DOCKER_SCHEMA1_SIGNED;
}

/** True for media types of encrypted layers (`...+encrypted`). */
export function isEncryptedLayer(mediaType: string): boolean {
  return mediaType.endsWith('+encrypted');
}

/**
 * The compression of a layer media type, or `undefined` when the media type is not a layer
 * imagefs can read (encrypted, unknown).
 */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  switch (mediaType) {
    case MediaType.OCI_LAYER_GZIP:
    case MediaType.OCI_LAYER_ND_GZIP:
    case MediaType.DOCKER_LAYER_GZIP:
    case MediaType.DOCKER_FOREIGN_GZIP:
      return 'gzip';
    case MediaType.OCI_LAYER_ZSTD:
    case MediaType.OCI_LAYER_ND_ZSTD:
      return 'zstd';
    case MediaType.OCI_LAYER:
    case MediaType.OCI_LAYER_ND:
      return 'none';
    default:
      return undefined;
  }
}

/** The Accept list for manifest requests, most wanted first (schema 1 last, only to report it). */
export const MANIFEST_ACCEPT = [
  MediaType.OCI_INDEX,
  MediaType.OCI_MANIFEST,
  MediaType.DOCKER_LIST,
  MediaType.DOCKER_MANIFEST,
  MediaType.DOCKER_SCHEMA1_SIGNED,
  MediaType.DOCKER_SCHEMA1,
].join(', ');
