import { invalidArgument } from '../errors/image-fs-error.js';
import { isIndexMediaType, isManifestMediaType, isSchema1MediaType, MediaType } from '../image/media-types.js';
import { selectPlatform } from '../image/platform.js';
import type { Descriptor, ImageConfig, ImageManifest, Platform, ResolvedImage } from '../image/types.js';
import type { ReadOptions } from '../source/read-at.js';
import type { LayoutBlobStore } from './blob-store.js';
import { parseDigest } from '../image/digest.js';
import { parseJsonObject } from './json.js';
import { checkDescriptor, checkIndex, MAX_INDEX_DEPTH, type LayoutChoice } from './layout-index.js';

/** A platform manifest reached from a layout entry, verified and parsed. */
interface ManifestHit {
  descriptor: Descriptor;
  bytes: Uint8Array;
  manifest: ImageManifest;
  mediaType: string;
  indexDigest?: string;
}

const CORRUPT_HINT = 'the layout is corrupt or holds something other than a container image; copy the image again';

function kindOf(descriptor: Descriptor, doc: Record<string, unknown>): 'index' | 'manifest' | undefined {
  const declared = typeof doc['mediaType'] === 'string' ? doc['mediaType'] : undefined;
  const type = descriptor.mediaType || declared;
  if (isIndexMediaType(type)) return 'index';
  if (isManifestMediaType(type)) return 'manifest';
  return undefined;
}

function unsupported(descriptor: Descriptor, where: string): Error {
  if (isSchema1MediaType(descriptor.mediaType)) {
    return invalidArgument(`${where} is a Docker schema 1 manifest (${descriptor.digest}), which imagefs does not read`, {
      subject: descriptor.digest,
      hint: 'convert it: skopeo copy --format oci SRC oci:DIR:TAG',
    });
  }
  return invalidArgument(`${where} has media type '${descriptor.mediaType}' (${descriptor.digest}), which is neither an image index nor an image manifest`, {
    subject: descriptor.digest,
    hint: 'name an image, not an artifact; check the tag',
  });
}

async function reachManifest(
  blobs: LayoutBlobStore, descriptor: Descriptor, where: string, wanted: Platform, options: ReadOptions, depth: number, indexDigest?: string,
): Promise<ManifestHit> {
  const type = descriptor.mediaType;
  if (type && !isIndexMediaType(type) && !isManifestMediaType(type)) throw unsupported(descriptor, where);
  const bytes = await blobs.readVerified(descriptor, where, options);
  const doc = parseJsonObject(bytes, `${where} (${descriptor.digest})`);
  const kind = kindOf(descriptor, doc);
  if (kind === 'index') {
    if (depth >= MAX_INDEX_DEPTH) {
      throw invalidArgument(`${where}: indexes nest deeper than ${MAX_INDEX_DEPTH} levels`, { subject: descriptor.digest, hint: CORRUPT_HINT });
    }
    const index = checkIndex(doc, `index ${descriptor.digest}`);
    const child = pickChild(index.manifests, wanted, `index ${descriptor.digest} (${where})`);
    return reachManifest(blobs, child, `index ${descriptor.digest} entry ${child.digest}`, wanted, options, depth + 1, indexDigest ?? descriptor.digest);
  }
  if (kind === 'manifest') {
    const manifest = checkManifest(doc, `manifest ${descriptor.digest}`);
    const mediaType = descriptor.mediaType || (doc['mediaType'] as string);
    return indexDigest === undefined ? { descriptor, bytes, manifest, mediaType } : { descriptor, bytes, manifest, mediaType, indexDigest };
  }
  throw unsupported({ ...descriptor, mediaType: String(doc['mediaType'] ?? descriptor.mediaType ?? 'none') }, where);
}

/** Picks an index entry: by platform when entries carry one, else the only image entry. */
function pickChild(manifests: Descriptor[], wanted: Platform, where: string): Descriptor {
  const images = manifests.filter((d) => isIndexMediaType(d.mediaType) || isManifestMediaType(d.mediaType));
  if (images.some((d) => d.platform !== undefined)) return selectPlatform(images, wanted, where);
  if (images.length === 1) return images[0]!;
  throw invalidArgument(`${where} has ${images.length} image entries and none names its platform`, {
    subject: where,
    hint: images.length === 0 ? CORRUPT_HINT : 'the index is ambiguous; copy the image again with skopeo copy',
  });
}

/** Checks the shape of an image manifest; throws `InvalidArgument` naming `where`. */
export function checkManifest(doc: Record<string, unknown>, where: string): ImageManifest {
  if (doc['schemaVersion'] !== 2 || typeof doc['config'] !== 'object' || !Array.isArray(doc['layers'])) {
    throw invalidArgument(`${where} is not an image manifest (schemaVersion 2 with config and layers)`, { subject: where, hint: CORRUPT_HINT });
  }
  checkDescriptor(doc['config'], `${where} config`);
  (doc['layers'] as unknown[]).forEach((d, i) => checkDescriptor(d, `${where} layers[${i}]`));
  return doc as unknown as ImageManifest;
}

function checkConfig(doc: Record<string, unknown>, layers: number, where: string): ImageConfig {
  const rootfs = doc['rootfs'] as { diff_ids?: unknown } | undefined;
  const diffIds = rootfs?.diff_ids;
  if (typeof doc['os'] !== 'string' || typeof doc['architecture'] !== 'string' || !Array.isArray(diffIds) || !diffIds.every((d) => typeof d === 'string')) {
    throw invalidArgument(`${where} is not an image config (os, architecture and rootfs.diff_ids are required)`, { subject: where, hint: CORRUPT_HINT });
  }
  if (diffIds.length !== layers) {
    throw invalidArgument(`${where} lists ${diffIds.length} diff_ids but the manifest has ${layers} layers`, { subject: where, hint: CORRUPT_HINT });
  }
  diffIds.forEach((d, i) => parseDigest(d as string, `${where} rootfs.diff_ids[${i}]`));
  return doc as unknown as ImageConfig;
}

/**
 * Resolves a layout choice to one platform's manifest and its verified config: follows indexes
 * (choosing `wanted` where entries carry platforms), checks every descriptor's digest form, and
 * checks that the config has as many diff_ids as the manifest has layers.
 *
 * @param reference - the reference as the user gave it, copied into the result.
 */
export async function resolveLayoutImage(
  blobs: LayoutBlobStore, choice: LayoutChoice, wanted: Platform, reference: string, options: ReadOptions = {},
): Promise<ResolvedImage> {
  const first = choice.descriptors.length === 1 ? choice.descriptors[0]! : pickChild(choice.descriptors, wanted, choice.where);
  const hit = await reachManifest(blobs, first, choice.where, wanted, options, 0);
  const { manifest } = hit;
  const configWhere = `config ${manifest.config.digest} of manifest ${hit.descriptor.digest}`;
  if (manifest.config.mediaType !== MediaType.OCI_CONFIG && manifest.config.mediaType !== MediaType.DOCKER_CONFIG) {
    throw invalidArgument(`${configWhere} has media type '${manifest.config.mediaType}': this is not a container image`, {
      subject: manifest.config.digest,
      hint: 'name an image, not an artifact; check the tag',
    });
  }
  manifest.layers.forEach((layer, i) => parseDigest(layer.digest, `layer ${i} of manifest ${hit.descriptor.digest}`));
  const configBytes = await blobs.readVerified(manifest.config, configWhere, options);
  const config = checkConfig(parseJsonObject(configBytes, configWhere), manifest.layers.length, configWhere);
  const platform: Platform = { os: config.os, architecture: config.architecture };
  if (typeof config.variant === 'string') platform.variant = config.variant;
  const resolved: ResolvedImage = {
    reference,
    digest: hit.descriptor.digest,
    mediaType: hit.mediaType,
    manifestBytes: hit.bytes,
    manifest,
    config,
    platform,
    layers: manifest.layers,
  };
  if (hit.indexDigest !== undefined) resolved.indexDigest = hit.indexDigest;
  return resolved;
}
