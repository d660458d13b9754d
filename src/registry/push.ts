import type { Descriptor } from '../image/types.js';
import { drain } from './body.js';
import { pushEndpoint, scopeFor, type RegistryContext } from './context.js';
import { dataLossError, invalidError } from './error-map.js';
import { digestOf } from './manifest.js';
import type { ImageReference } from './reference.js';

/** Options of `RegistryClient.putBlob`. */
export interface PutBlobOptions {
  /** The media type to put in the returned descriptor. Default `application/octet-stream`. */
  mediaType?: string;
  /** Cancels the upload. */
  signal?: AbortSignal;
}

/**
 * Uploads a blob to `ref`'s repository (monolithic: POST an upload, PUT the bytes with
 * `?digest=`), skipping the upload when the registry already has it (HEAD). Returns its descriptor.
 */
export async function putBlob(ctx: RegistryContext, ref: ImageReference, bytes: Uint8Array, options: PutBlobOptions = {}): Promise<Descriptor> {
  const endpoint = pushEndpoint(ctx, ref);
  const scope = scopeFor(ref.repository, true);
  const digest = digestOf(bytes);
  const desc: Descriptor = { mediaType: options.mediaType ?? 'application/octet-stream', digest, size: bytes.length };
  const { signal } = options;
  const exists = await ctx.transport.call({
    method: 'HEAD', endpoint, path: `/v2/${ref.repository}/blobs/${digest}`, scope, what: `checking blob ${digest}`, signal, pass: [404],
  }, async (res) => {
    await drain(res.body);
    return res.status === 200;
  });
  if (exists) return desc;
  const location = await ctx.transport.call({
    method: 'POST', endpoint, path: `/v2/${ref.repository}/blobs/uploads/`, scope, what: `starting an upload to ${ref.repository}`, signal,
    headers: { 'content-length': '0' },
  }, async (res) => {
    await drain(res.body);
    const loc = res.headers.location;
    if (typeof loc !== 'string' || loc === '') throw invalidError('the registry started an upload without a Location', res.url);
    return new URL(loc, `${endpoint.base}/`);
  });
  location.searchParams.set('digest', digest);
  await ctx.transport.call({
    method: 'PUT', endpoint, path: location.toString(), scope, what: `uploading blob ${digest}`, signal, body: bytes,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
  }, async (res) => {
    await drain(res.body);
    const said = res.headers['docker-content-digest'];
    if (typeof said === 'string' && said !== digest) throw dataLossError(`the registry stored blob ${digest} as ${said}`, res.url);
  });
  return desc;
}

/** Options of `RegistryClient.putManifest`. */
export interface PutManifestOptions {
  /** The tag to push under; without it the manifest is pushed by digest. */
  tag?: string;
  /** Cancels the push. */
  signal?: AbortSignal;
}

/**
 * Pushes a manifest (its exact bytes) under a tag or its digest, with `mediaType` as Content-Type.
 * Returns its descriptor (with `artifactType` when the manifest has one).
 */
export async function putManifest(ctx: RegistryContext, ref: ImageReference, bytes: Uint8Array, mediaType: string, options: PutManifestOptions = {}): Promise<Descriptor> {
  const endpoint = pushEndpoint(ctx, ref);
  const digest = digestOf(bytes);
  const target = options.tag ?? digest;
  await ctx.transport.call({
    method: 'PUT', endpoint, path: `/v2/${ref.repository}/manifests/${target}`, scope: scopeFor(ref.repository, true),
    what: `pushing manifest ${ref.repository}:${target}`, signal: options.signal, body: bytes,
    headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
  }, async (res) => {
    await drain(res.body);
    const said = res.headers['docker-content-digest'];
    if (typeof said === 'string' && said !== digest) throw dataLossError(`the registry stored manifest ${digest} as ${said}`, res.url);
  });
  const desc: Descriptor = { mediaType, digest, size: bytes.length };
  try {
    const doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as { artifactType?: unknown };
    if (typeof doc.artifactType === 'string') desc.artifactType = doc.artifactType;
  } catch {
    // Not JSON: the registry accepted the bytes, so the descriptor simply has no artifactType.
  }
  return desc;
}
