import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import { ImageError } from '../errors/image-fs-error.js';
import { tryParseDigest } from '../image/digest.js';
import { MediaType } from '../image/media-types.js';
import { formatPlatform, platformMatches } from '../image/platform.js';
import type { Descriptor, ImageConfig, ImageManifest, Platform, ResolvedImage } from '../image/types.js';
import { invalidError } from './error-map.js';
import type { FetchedManifest, Schema1Manifest } from './manifest.js';

/** Options of {@link schema1ToResolvedImage}. */
export interface Schema1ConversionOptions {
  /** The reference as the user gave it (copied into the result). */
  reference: string;
  /** Where the manifest came from (`HOST/REPO`), for messages. */
  where: string;
  /** The size of a blob of the repository, in bytes (a HEAD request): schema 1 does not list sizes. */
  blobSize: (digest: string) => Promise<number>;
  /** When given, the image must be for this platform (`NotFound` otherwise). */
  platform?: Platform;
  /** Most HEAD requests at once. Default 4. */
  concurrency?: number;
}

/** One `history[i].v1Compatibility` document (the fields the conversion reads). */
interface V1Compatibility {
  throwaway?: boolean;
  created?: string;
  author?: string;
  comment?: string;
  architecture?: string;
  os?: string;
  variant?: string;
  config?: Record<string, unknown>;
  container_config?: { Cmd?: unknown };
  [key: string]: unknown;
}

/** Fields of the top v1Compatibility that describe the v1 layer chain, not the image (Docker drops them too). */
const V1_ONLY_FIELDS = ['id', 'parent', 'Size', 'parent_id', 'layer_id', 'throwaway'];

const HINT = 'the schema 1 manifest is malformed; push the image again, preferably as schema 2 or OCI (skopeo copy --format v2s2)';

function parseHistory(doc: Schema1Manifest, where: string): { blobSums: string[]; v1: V1Compatibility[] } {
  const fsLayers = doc.fsLayers;
  const history = doc['history'];
  if (!Array.isArray(fsLayers) || fsLayers.length === 0) throw invalidError('the schema 1 manifest has no "fsLayers"', where, HINT);
  if (!Array.isArray(history) || history.length !== fsLayers.length) {
    throw invalidError(`the schema 1 manifest has ${fsLayers.length} fsLayers but ${Array.isArray(history) ? history.length : 'no'} history entries; they must match`, where, HINT);
  }
  const blobSums = fsLayers.map((l, i) => {
    const sum = (l as { blobSum?: unknown } | null)?.blobSum;
    if (typeof sum !== 'string' || tryParseDigest(sum) === undefined) {
      throw invalidError(`fsLayers[${i}].blobSum of the schema 1 manifest is not a sha256/sha512 digest (${JSON.stringify(sum)})`, where, HINT);
    }
    return sum;
  });
  const v1 = history.map((h: unknown, i) => {
    const text = (h as { v1Compatibility?: unknown } | null)?.v1Compatibility;
    let parsed: unknown;
    try {
      parsed = typeof text === 'string' ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw invalidError(`history[${i}].v1Compatibility of the schema 1 manifest is not a JSON object`, where, HINT);
    }
    return parsed as V1Compatibility;
  });
  return { blobSums, v1 };
}

/** The image config Docker derives from a schema 1 manifest (its `MakeConfigFromV1Config`), without diff_ids. */
function synthesiseConfig(doc: Schema1Manifest, v1: V1Compatibility[]): ImageConfig {
  const top = v1[0]!;
  const config: Record<string, unknown> = { ...top };
  for (const field of V1_ONLY_FIELDS) delete config[field];
  config['architecture'] = typeof top.architecture === 'string' && top.architecture !== '' ? top.architecture
    : typeof doc.architecture === 'string' && doc.architecture !== '' ? doc.architecture : 'amd64';
  config['os'] = typeof top.os === 'string' && top.os !== '' ? top.os : 'linux';
  // Schema 1 carries no diff_ids: they stay empty, and whole layers are checked against their blobSum only.
  config['rootfs'] = { type: 'layers', diff_ids: [] };
  config['history'] = [...v1].reverse().map((h) => {
    const cmd = h.container_config?.Cmd;
    return {
      ...(typeof h.created === 'string' ? { created: h.created } : {}),
      ...(typeof h.author === 'string' ? { author: h.author } : {}),
      ...(Array.isArray(cmd) ? { created_by: cmd.join(' ') } : {}),
      ...(typeof h.comment === 'string' ? { comment: h.comment } : {}),
      ...(h.throwaway === true ? { empty_layer: true } : {}),
    };
  });
  return config as ImageConfig;
}

/**
 * Converts a fetched Docker schema 1 manifest (signed `v1+prettyjws` or unsigned `v1+json`) into a
 * {@link ResolvedImage} that the whole-layer path can serve, as Docker's schema 1 pull does:
 *
 * - layers: `fsLayers` reversed (base first), skipping those whose `history[i].v1Compatibility`
 *   says `throwaway: true`; each `application/vnd.docker.image.rootfs.diff.tar.gzip` with digest =
 *   `blobSum` and the exact size from a HEAD request (schema 1 lists no sizes);
 * - config: synthesised from the top `v1Compatibility` (`architecture`, `os`, `config`, ...), with
 *   `rootfs.diff_ids` EMPTY: schema 1 has none, so uncompressed layers are not checked against a
 *   diff_id; the compressed blobs still are (the blobSum is content-addressed). Its descriptor's
 *   digest is that of the synthesised JSON (no such blob exists in the registry);
 * - `manifest`: a schema-2-shaped view of the above; `manifestBytes` the bytes as served (a signed
 *   manifest is re-signed on every GET, so they vary); `digest` the registry's
 *   `Docker-Content-Digest` (stable: it covers the payload without signatures);
 * - `schema1: true`, so that validation accepts the missing diff_ids.
 *
 * @param fetched - the manifest as `RegistryClient.fetchManifest` returned it (kind `schema1`).
 * @param options - the reference, where it came from, a blob size lookup, an optional platform.
 * @throws RegistryError `InvalidArgument` for a malformed manifest (no fsLayers, history of another
 *   length, a blobSum that is not a digest, a v1Compatibility that is not JSON); ImageError
 *   `NotFound` when `platform` is given and differs; whatever `blobSize` throws (`NotFound` for a
 *   missing blob).
 * @example
 * ```ts
 * const image = await schema1ToResolvedImage(fetched, { reference, where, blobSize: (d) => client.blobSize(ref, d) });
 * ```
 */
export async function schema1ToResolvedImage(fetched: FetchedManifest, options: Schema1ConversionOptions): Promise<ResolvedImage> {
  const doc = fetched.parsed as Schema1Manifest;
  const { blobSums, v1 } = parseHistory(doc, options.where);
  const config = synthesiseConfig(doc, v1);
  const platform: Platform = { os: config.os, architecture: config.architecture, ...(typeof config.variant === 'string' && config.variant !== '' ? { variant: config.variant } : {}) };
  if (options.platform !== undefined && !platformMatches(platform, options.platform)) {
    throw new ImageError('NotFound', `${options.where} is a single-platform schema 1 image for ${formatPlatform(platform)}, not ${formatPlatform(options.platform)}`, {
      subject: options.where,
      hint: `ask for platform ${formatPlatform(platform)}`,
    });
  }
  const kept: string[] = [];
  for (let i = blobSums.length - 1; i >= 0; i--) if (v1[i]!.throwaway !== true) kept.push(blobSums[i]!);
  const limit = pLimit(options.concurrency ?? 4);
  const sizes = new Map<string, Promise<number>>();
  for (const digest of new Set(kept)) sizes.set(digest, limit(() => options.blobSize(digest)));
  const layers: Descriptor[] = [];
  for (const digest of kept) layers.push({ mediaType: MediaType.DOCKER_LAYER_GZIP, digest, size: await sizes.get(digest)! });
  const configBytes = Buffer.from(JSON.stringify(config), 'utf8');
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.DOCKER_MANIFEST,
    config: { mediaType: MediaType.DOCKER_CONFIG, digest: `sha256:${createHash('sha256').update(configBytes).digest('hex')}`, size: configBytes.length },
    layers,
  };
  return {
    reference: options.reference,
    digest: fetched.digest,
    mediaType: fetched.mediaType,
    manifestBytes: fetched.bytes,
    manifest,
    config,
    platform,
    layers,
    schema1: true,
  };
}
