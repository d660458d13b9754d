// Hand-made test images for the registry client tests: random layer blobs (the registry does not
// look inside), a config and a manifest, pushed with the test bench's push helpers.
import { createHash, randomBytes } from 'node:crypto';
import { MediaType } from '../src/image/media-types.js';
import type { Descriptor, ImageIndex, ImageManifest, Platform } from '../src/image/types.js';
import { pushBlob, pushManifest, type RegistryTarget } from '../src/testing/registry/index.js';

export const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
export const json = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));

export interface PushedImage {
  digest: string;
  manifest: ImageManifest;
  manifestBytes: Uint8Array;
  descriptor: Descriptor;
  configBytes: Uint8Array;
  layers: Array<{ descriptor: Descriptor; bytes: Uint8Array }>;
}

/** Pushes an image with random layers of the given sizes; `tag` undefined pushes by digest only. */
export async function pushImage(target: RegistryTarget, repo: string, tag: string | undefined, options: {
  layerSizes?: number[]; platform?: Platform; docker?: boolean;
} = {}): Promise<PushedImage> {
  const platform = options.platform ?? { os: 'linux', architecture: 'amd64' };
  const layers = (options.layerSizes ?? [3000, 70_000]).map((size) => {
    const bytes = new Uint8Array(randomBytes(size));
    return { bytes, descriptor: { mediaType: options.docker ? MediaType.DOCKER_LAYER_GZIP : MediaType.OCI_LAYER_GZIP, digest: sha256(bytes), size } };
  });
  const configBytes = json({ ...platform, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.descriptor.digest) }, config: {} });
  for (const l of layers) await pushBlob(target, repo, l.bytes);
  await pushBlob(target, repo, configBytes);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: options.docker ? MediaType.DOCKER_MANIFEST : MediaType.OCI_MANIFEST,
    config: { mediaType: options.docker ? MediaType.DOCKER_CONFIG : MediaType.OCI_CONFIG, digest: sha256(configBytes), size: configBytes.length },
    layers: layers.map((l) => l.descriptor),
  };
  const manifestBytes = json(manifest);
  const digest = sha256(manifestBytes);
  await pushManifest(target, repo, tag ?? digest, manifest.mediaType!, manifestBytes);
  return { digest, manifest, manifestBytes, configBytes, layers, descriptor: { mediaType: manifest.mediaType!, digest, size: manifestBytes.length, platform } };
}

/** Pushes an index over already pushed images under `tag`. */
export async function pushIndex(target: RegistryTarget, repo: string, tag: string, images: PushedImage[], extra: Descriptor[] = []): Promise<{ digest: string; bytes: Uint8Array }> {
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [...images.map((i) => i.descriptor), ...extra] };
  const bytes = json(index);
  await pushManifest(target, repo, tag, MediaType.OCI_INDEX, bytes);
  return { digest: sha256(bytes), bytes };
}
