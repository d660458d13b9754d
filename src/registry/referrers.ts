import { ImageFsError } from '../errors/image-fs-error.js';
import { RegistryError } from '../errors/registry-error.js';
import type { Descriptor, ImageIndex } from '../image/types.js';
import { MediaType } from '../image/media-types.js';
import { readAll } from './body.js';
import { scopeFor, withPullEndpoints, type RegistryContext } from './context.js';
import { invalidError } from './error-map.js';
import { fetchManifest } from './manifest-fetch.js';
import { isSha256Digest, type ImageReference } from './reference.js';

/** Options of `RegistryClient.getReferrers`. */
export interface ReferrersOptions {
  /** Only referrers with this artifact type. */
  artifactType?: string;
  /** Cancels the call. */
  signal?: AbortSignal;
}

/**
 * The tag the referrers tag schema uses for a subject: `sha256-<hex>` (OCI distribution 1.1, for
 * registries without the referrers API).
 */
export function referrersTag(subjectDigest: string): string {
  const colon = subjectDigest.indexOf(':');
  if (colon <= 0) throw new TypeError(`'${subjectDigest}' is not a digest`);
  return `${subjectDigest.slice(0, colon)}-${subjectDigest.slice(colon + 1)}`.slice(0, 128);
}

function filter(manifests: Descriptor[], artifactType: string | undefined): Descriptor[] {
  return artifactType === undefined ? manifests : manifests.filter((d) => d.artifactType === artifactType);
}

/**
 * Lists the manifests whose `subject` is `subjectDigest`: through the OCI referrers API
 * (`GET /v2/NAME/referrers/DIGEST`), falling back to the referrers tag schema (an index tagged
 * `sha256-<hex>`) when the registry lacks the API (404, 400, 405; distribution 2.8 does). An
 * absent fallback tag means no referrers (an empty list).
 */
export async function getReferrers(ctx: RegistryContext, ref: ImageReference, subjectDigest: string, options: ReferrersOptions = {}): Promise<Descriptor[]> {
  const { signal, artifactType } = options;
  if (!isSha256Digest(subjectDigest)) throw new TypeError(`subject digest '${subjectDigest}' is not sha256:<64 hex>`);
  const query = artifactType === undefined ? '' : `?artifactType=${encodeURIComponent(artifactType)}`;
  let viaApi: Descriptor[] | undefined;
  try {
    viaApi = await withPullEndpoints(ctx, ref, (endpoint) => ctx.transport.call({
      method: 'GET', endpoint, path: `/v2/${ref.repository}/referrers/${subjectDigest}${query}`, scope: scopeFor(ref.repository),
      headers: { accept: MediaType.OCI_INDEX }, what: `listing referrers of ${subjectDigest}`, signal,
    }, async (res) => {
      const bytes = await readAll(res.body, ctx.options.maxManifestBytes, () => invalidError('the referrers list is too large', res.url));
      let doc: Partial<ImageIndex>;
      try {
        doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<ImageIndex>;
      } catch {
        throw invalidError('the registry\'s referrers answer is not JSON', res.url);
      }
      if (!Array.isArray(doc.manifests)) throw invalidError('the registry\'s referrers answer has no "manifests"', res.url);
      return doc.manifests;
    }));
  } catch (e) {
    if (!(e instanceof RegistryError) || ![400, 404, 405].includes(e.status)) throw e;
  }
  if (viaApi !== undefined) return filter(viaApi, artifactType);
  try {
    const tagged = await fetchManifest(ctx, { registry: ref.registry, repository: ref.repository, tag: referrersTag(subjectDigest) }, undefined, signal);
    if (tagged.kind !== 'index') return [];
    return filter((tagged.parsed as ImageIndex).manifests ?? [], artifactType);
  } catch (e) {
    if (ImageFsError.is(e) && e.code === 'NotFound') return [];
    throw e;
  }
}
