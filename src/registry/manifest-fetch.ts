import type { Descriptor, ImageConfig, ImageIndex, ImageManifest, Platform, ResolvedImage } from '../image/types.js';
import { MANIFEST_ACCEPT } from '../image/media-types.js';
import { hostPlatform, selectPlatform } from '../image/platform.js';
import { readAll } from './body.js';
import { readBlobVerified } from './blob-fetch.js';
import { scopeFor, withPullEndpoints, type RegistryContext } from './context.js';
import { dataLossError, invalidError } from './error-map.js';
import { identifyManifest, verifyManifestDigest, type FetchedManifest } from './manifest.js';
import { formatReference, manifestReference, type ImageReference } from './reference.js';

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

function schema1Error(ref: ImageReference, url: string): Error {
  return invalidError(
    `${formatReference(ref)} is a Docker image manifest v2 schema 1, which imagefs does not read (and which is not eligible for lazy streaming)`,
    url, 're-push the image as Docker schema 2 or OCI, for instance: skopeo copy --format v2s2 docker://SRC docker://DST',
  );
}

/**
 * Resolves a reference to one platform's image: follows an index to `platform` (default: the
 * host's), verifies the platform manifest, then downloads, verifies and parses its config.
 * Schema 1 and unsupported manifests are `InvalidArgument`; a missing platform is `NotFound`
 * listing the platforms the index has.
 */
export async function resolveImage(ctx: RegistryContext, ref: ImageReference, reference: string, platform: Platform | undefined, signal?: AbortSignal): Promise<ResolvedImage> {
  const where = `${ref.registry}/${ref.repository}`;
  let top = await fetchManifest(ctx, ref, undefined, signal);
  if (top.kind === 'schema1') throw schema1Error(ref, where);
  let indexDigest: string | undefined;
  const wanted = platform ?? hostPlatform();
  if (top.kind === 'index') {
    indexDigest = top.digest;
    const chosen = selectPlatform((top.parsed as ImageIndex).manifests ?? [], wanted, formatReference(ref));
    top = await fetchManifest(ctx, ref, chosen, signal);
    if (top.kind === 'schema1') throw schema1Error(ref, where);
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
