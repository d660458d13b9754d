import type { Descriptor, ImageConfig, ImageIndex, ImageManifest, Platform, ResolvedImage } from '../image/types.js';
import { MANIFEST_ACCEPT } from '../image/media-types.js';
import { hostPlatform, selectPlatform } from '../image/platform.js';
import { readAll } from './body.js';
import { readBlobVerified, statBlob } from './blob-fetch.js';
import { scopeFor, withPullEndpoints, type RegistryContext } from './context.js';
import { dataLossError, invalidError } from './error-map.js';
import { identifyManifest, verifyManifestDigest, type FetchedManifest } from './manifest.js';
import { formatReference, manifestReference, type ImageReference } from './reference.js';
import { schema1ToResolvedImage } from './schema1.js';

/**
 * Fetches a manifest by tag or digest with an explicit Accept list, verifies its digest (against
 * the digest asked for, `Docker-Content-Digest` and, when given, the `expected` descriptor's
 * digest and size) and classifies it. Schema 1 manifests are returned (kind `schema1`), not
 * refused, so an eligibility check can report them. Tries mirrors first.
 */
export async function fetchManifest(ctx: RegistryContext, ref: ImageReference, expected?: Descriptor, signal?: AbortSignal): Promise<FetchedManifest> {
  const asked = expected?.digest ?? ref.digest;
  const target = expected?.digest ?? manifestReference(ref);
  const max = ctx.options.maxManifestBytes;
  return withPullEndpoints(ctx, ref, (endpoint) => ctx.transport.call({
    method: 'GET', endpoint, path: `/v2/${ref.repository}/manifests/${target}`, scope: scopeFor(ref.repository),
    headers: { accept: MANIFEST_ACCEPT }, what: `fetching manifest ${ref.repository}:${target}`, signal,
  }, async (res) => {
    const bytes = await readAll(res.body, max, () => invalidError(`the manifest is larger than ${max} bytes`, res.url));
    const cl = res.headers['content-length'];
    if (cl !== undefined && Number(cl) !== bytes.length) throw dataLossError(`the manifest body has ${bytes.length} bytes, Content-Length said ${String(cl)}`, res.url);
    const { kind, mediaType, parsed } = identifyManifest(bytes, res.headers['content-type'] as string | undefined, res.url);
    const header = res.headers['docker-content-digest'];
    const digest = verifyManifestDigest(bytes, kind, asked, typeof header === 'string' ? header : undefined, res.url);
    if (expected !== undefined && expected.size !== bytes.length) {
      throw dataLossError(`manifest ${digest} has ${bytes.length} bytes, its descriptor says ${expected.size}`, res.url);
    }
    return { kind, mediaType, digest, size: bytes.length, bytes, parsed };
  }));
}

/** A schema 1 manifest as a ResolvedImage (layer sizes from HEAD requests). */
function fromSchema1(ctx: RegistryContext, ref: ImageReference, top: FetchedManifest, reference: string, platform: Platform | undefined, signal?: AbortSignal): Promise<ResolvedImage> {
  return schema1ToResolvedImage(top, {
    reference, where: `${ref.registry}/${ref.repository}`, blobSize: (digest) => statBlob(ctx, ref, digest, signal),
    ...(platform === undefined ? {} : { platform }),
  });
}

/**
 * Resolves a reference to one platform's image: follows an index to `platform` (default: the
 * host's), verifies the platform manifest, then downloads, verifies and parses its config.
 * A Docker schema 1 manifest is converted ({@link schema1ToResolvedImage}: served whole, no
 * diff_ids); unsupported manifests are `InvalidArgument`; a missing platform is `NotFound`
 * listing the platforms the index has.
 */
export async function resolveImage(ctx: RegistryContext, ref: ImageReference, reference: string, platform: Platform | undefined, signal?: AbortSignal): Promise<ResolvedImage> {
  const where = `${ref.registry}/${ref.repository}`;
  let top = await fetchManifest(ctx, ref, undefined, signal);
  if (top.kind === 'schema1') return fromSchema1(ctx, ref, top, reference, platform, signal);
  let indexDigest: string | undefined;
  const wanted = platform ?? hostPlatform();
  if (top.kind === 'index') {
    indexDigest = top.digest;
    const chosen = selectPlatform((top.parsed as ImageIndex).manifests ?? [], wanted, formatReference(ref));
    top = await fetchManifest(ctx, ref, chosen, signal);
    if (top.kind === 'schema1') return { ...(await fromSchema1(ctx, ref, top, reference, undefined, signal)), indexDigest };
    if (top.kind !== 'manifest') throw invalidError(`the index entry for ${chosen.digest} is not an image manifest (${top.mediaType})`, where);
  }
  const manifest = top.parsed as ImageManifest;
  const config = await readConfig(ctx, ref, manifest.config, signal);
  const resolved: ResolvedImage = {
    reference,
    digest: top.digest,
    mediaType: top.mediaType,
    manifestBytes: top.bytes,
    manifest,
    config,
    platform: { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) },
    layers: manifest.layers,
  };
  if (indexDigest !== undefined) resolved.indexDigest = indexDigest;
  return resolved;
}

/** Downloads, verifies and parses an image config (at most 16 MiB). */
export async function readConfig(ctx: RegistryContext, ref: ImageReference, desc: Descriptor, signal?: AbortSignal): Promise<ImageConfig> {
  const where = `${ref.registry}/${ref.repository}@${desc.digest}`;
  const bytes = await readBlobVerified(ctx, ref, desc, signal, Math.max(16 << 20, ctx.options.maxManifestBytes));
  let config: unknown;
  try {
    config = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  } catch {
    throw invalidError(`the image config ${desc.digest} is not JSON`, where);
  }
  const c = config as Partial<ImageConfig> | null;
  if (typeof c !== 'object' || c === null || typeof c.os !== 'string' || typeof c.architecture !== 'string') {
    throw invalidError(`the image config ${desc.digest} lacks "os" or "architecture"`, where);
  }
  if (typeof c.rootfs !== 'object' || c.rootfs === null || !Array.isArray(c.rootfs.diff_ids)) {
    throw invalidError(`the image config ${desc.digest} lacks "rootfs.diff_ids"`, where);
  }
  return c as ImageConfig;
}
