import { gunzipSync } from 'node:zlib';
import { MediaType, type LayerCompression } from '../../image/media-types.js';
import type { Descriptor, ImageConfig, ImageManifest, Platform } from '../../image/types.js';
import { compress, compressionFamily, type Compression } from './compress.js';
import { jsonBytes, sha256Digest } from './digest.js';
import { runTool } from './run-tool.js';
import { writeTar, type TarRecord } from './tar-writer.js';

/** Which media types an image uses: OCI, or Docker schema 2 (manifest, config and layers). */
export type ImageFlavour = 'oci' | 'docker';

/** One layer to build: entries (or a ready tar), and how to compress it. */
export interface LayerSpec {
  /** The layer's entries, in tar order. Give `entries` or `tar`. */
  entries?: readonly TarRecord[];
  /** A ready uncompressed tar, used instead of `entries`. */
  tar?: Uint8Array;
  /** Default `gzip` (node:zlib, level 6). Ignored when `blob` is given. */
  compression?: Compression;
  /**
   * A ready compressed blob used verbatim (e.g. {@link EMPTY_LAYER_GZIP}); its tar (for the diff
   * ID) is decompressed from it unless `tar` is given. Set `compression` to its family
   * (`gzip`, `zstd`, `none`) so the media type is right.
   */
  blob?: Uint8Array;
  /** Overrides the layer media type (e.g. a non-distributable or an encrypted one). */
  mediaType?: string;
  /** Annotations of the layer descriptor. */
  annotations?: Record<string, string>;
  /** URLs of the layer descriptor (foreign layers). */
  urls?: string[];
}

/** What {@link buildImage} builds. */
export interface ImageSpec {
  /** Base first. */
  layers: readonly LayerSpec[];
  /** Default `linux/amd64` (fixed, not the host's, so builds are the same everywhere). */
  platform?: Platform;
  /** The `config` section of the image config (Env, Entrypoint, Cmd, WorkingDir, Labels, ...). */
  config?: Record<string, unknown>;
  /** Manifest annotations. */
  annotations?: Record<string, string>;
  /** Default `oci`. */
  flavour?: ImageFlavour;
  /** The config's `created` and history times (RFC 3339). Default `2023-11-14T22:13:20Z`. */
  created?: string;
  /** Manifest `subject` (to build a referrer). */
  subject?: Descriptor;
  /** Manifest `artifactType`. */
  artifactType?: string;
}

/** One built layer. */
export interface BuiltLayer {
  /** The uncompressed tar. */
  tar: Uint8Array;
  /** The blob as stored (compressed). */
  blob: Uint8Array;
  /** `sha256` of the uncompressed tar (the config's `rootfs.diff_ids` entry). */
  diffId: string;
  /** The manifest's descriptor of the blob. */
  descriptor: Descriptor;
  /** The entries it was built from, when it was built from entries. */
  entries?: readonly TarRecord[];
}

/** A built image: every document and blob in memory, all digests computed. */
export interface BuiltImage {
  kind: 'image';
  flavour: ImageFlavour;
  platform: Platform;
  manifest: ImageManifest;
  /** The manifest's exact bytes (what its digest is of). */
  manifestBytes: Uint8Array;
  /** Descriptor of the manifest (with `platform`), as an index or index.json lists it. */
  descriptor: Descriptor;
  config: ImageConfig;
  configBytes: Uint8Array;
  layers: BuiltLayer[];
  /** Every blob by digest: layers, config and the manifest itself. */
  blobs: Map<string, Uint8Array>;
}

const DOCKER_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';
const DOCKER_LAYER_ZSTD = 'application/vnd.docker.image.rootfs.diff.tar.zstd';

/** The layer media type for a compression family and flavour. */
export function layerMediaType(family: LayerCompression, flavour: ImageFlavour): string {
  if (flavour === 'docker') return family === 'gzip' ? MediaType.DOCKER_LAYER_GZIP : family === 'zstd' ? DOCKER_LAYER_ZSTD : DOCKER_LAYER_TAR;
  return family === 'gzip' ? MediaType.OCI_LAYER_GZIP : family === 'zstd' ? MediaType.OCI_LAYER_ZSTD : MediaType.OCI_LAYER;
}

async function buildLayer(spec: LayerSpec, flavour: ImageFlavour, signal: AbortSignal | undefined): Promise<BuiltLayer> {
  const compression = spec.compression ?? 'gzip';
  const family = compressionFamily(compression);
  let tar = spec.tar ?? (spec.entries ? writeTar(spec.entries) : undefined);
  let blob: Uint8Array;
  if (spec.blob) {
    blob = spec.blob;
    if (!tar) {
      if (family === 'gzip') tar = new Uint8Array(gunzipSync(blob));
      else if (family === 'zstd') tar = (await runTool('zstd', ['-d', '-q', '-c'], { input: blob, signal })).stdout;
      else tar = blob;
    }
  } else {
    if (!tar) throw new TypeError('a layer needs entries, tar or blob');
    blob = await compress(tar, compression, { signal });
  }
  const descriptor: Descriptor = { mediaType: spec.mediaType ?? layerMediaType(family, flavour), digest: sha256Digest(blob), size: blob.length };
  if (spec.urls) descriptor.urls = spec.urls;
  if (spec.annotations) descriptor.annotations = spec.annotations;
  const layer: BuiltLayer = { tar, blob, diffId: sha256Digest(tar), descriptor };
  if (spec.entries) layer.entries = spec.entries;
  return layer;
}

/**
 * Builds an image in memory: each layer's tar (from entries) and compressed blob, a config whose
 * `rootfs.diff_ids` are the sha256 of the uncompressed tars, and the manifest. Deterministic: the
 * same spec gives the same digests.
 *
 * @example
 * ```ts
 * const img = await buildImage({ layers: [{ entries: [dir('etc'), file('etc/os-release', 'ID=test\n')] }] });
 * img.descriptor.digest; // sha256:...
 * ```
 */
export async function buildImage(spec: ImageSpec, options: { signal?: AbortSignal } = {}): Promise<BuiltImage> {
  const flavour = spec.flavour ?? 'oci';
  const platform = spec.platform ?? { os: 'linux', architecture: 'amd64' };
  const created = spec.created ?? '2023-11-14T22:13:20Z';
  const layers: BuiltLayer[] = [];
  for (const l of spec.layers) layers.push(await buildLayer(l, flavour, options.signal));

  const config: ImageConfig = {
    created,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: spec.config ?? {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created, created_by: `imagefs test builder: layer ${i}` })),
  };
  const configBytes = jsonBytes(config);
  const configDescriptor: Descriptor = {
    mediaType: flavour === 'docker' ? MediaType.DOCKER_CONFIG : MediaType.OCI_CONFIG,
    digest: sha256Digest(configBytes),
    size: configBytes.length,
  };
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: flavour === 'docker' ? MediaType.DOCKER_MANIFEST : MediaType.OCI_MANIFEST,
    ...(spec.artifactType ? { artifactType: spec.artifactType } : {}),
    config: configDescriptor,
    layers: layers.map((l) => l.descriptor),
    ...(spec.subject ? { subject: spec.subject } : {}),
    ...(spec.annotations ? { annotations: spec.annotations } : {}),
  };
  const manifestBytes = jsonBytes(manifest);
  const descriptor: Descriptor = { mediaType: manifest.mediaType!, digest: sha256Digest(manifestBytes), size: manifestBytes.length, platform };
  const blobs = new Map<string, Uint8Array>();
  for (const l of layers) blobs.set(l.descriptor.digest, l.blob);
  blobs.set(configDescriptor.digest, configBytes);
  blobs.set(descriptor.digest, manifestBytes);
  return { kind: 'image', flavour, platform, manifest, manifestBytes, descriptor, config, configBytes, layers, blobs };
}
