import type { ReadAtSource, ReadOptions } from '../source/read-at.js';

/** An OCI platform: `linux/amd64`, `linux/arm64/v8`. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

/** An OCI content descriptor. `size` is in bytes; `digest` is `ALGO:HEX`. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}

/** An OCI image manifest or a Docker schema 2 manifest (same shape). */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  /** Base first. */
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** An OCI image index or a Docker manifest list. */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** The parts of an OCI image config imagefs reads. */
export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  rootfs: { type: string; diff_ids: string[] };
  config?: Record<string, unknown>;
  [key: string]: unknown;
}

/** An image resolved down to one platform's manifest, with its config parsed and verified. */
export interface ResolvedImage {
  /** The reference as the user gave it. */
  reference: string;
  /** Digest of the platform manifest. */
  digest: string;
  /** Media type of the platform manifest. */
  mediaType: string;
  /** The manifest's exact bytes (verified against `digest`). */
  manifestBytes: Uint8Array;
  manifest: ImageManifest;
  /** When the reference named an index: its digest. */
  indexDigest?: string;
  config: ImageConfig;
  platform: Platform;
  /** The layers, base first (same as `manifest.layers`). */
  layers: Descriptor[];
  /**
   * True when the image came from a Docker schema 1 manifest (then `manifest` and `config` are
   * synthesised, `config.rootfs.diff_ids` is empty, and layers are verified by blob digest only).
   */
  schema1?: boolean;
}

/** Options of {@link ImageSource.resolve}. */
export interface ResolveOptions extends ReadOptions {
  /** The platform to pick from an index; defaults to the host's (`linux/<arch>`). */
  platform?: Platform;
}

/**
 * Where an image's manifests and blobs come from: a local OCI layout, a registry, a cache.
 * `openBlob` gives random access; the bytes it returns are not yet verified: callers verify whole
 * blobs against their digest, and lazy readers verify spans against a trusted index.
 */
export interface ImageSource {
  /** The reference, for messages. */
  readonly reference: string;
  /** Resolves the reference to one platform's image, manifest and config verified. */
  resolve(options?: ResolveOptions): Promise<ResolvedImage>;
  /** Random access to a blob of this image (bytes not yet verified; see above). */
  openBlob(descriptor: Descriptor, options?: ReadOptions): Promise<ReadAtSource>;
  /** Releases connections and file handles. Idempotent. */
  close(): Promise<void>;
}
