import { authorizedRequest, registryError, type RegistryTarget } from './registry-auth.js';
import { sha256Digest } from '../builder/digest.js';

/** Options of the push helpers. */
export interface PushOptions {
  /** Cancels the push. */
  signal?: AbortSignal;
}

/** A pushed blob or manifest. */
export interface PushedContent {
  /** `sha256:HEX`: the digest the registry stores it under. */
  digest: string;
  /** Its size in bytes. */
  size: number;
  /** True when the blob was already there and was not uploaded again (always false for manifests). */
  existed: boolean;
}

/**
 * Uploads a blob: skipped when `HEAD` finds it, otherwise `POST /v2/REPO/blobs/uploads/` then
 * `PUT LOCATION?digest=` with the bytes (the two-step flow distribution 2.8 implements).
 *
 * @example
 * ```ts
 * const { digest } = await pushBlob(reg, 'demo/app', Buffer.from('{}'));
 * ```
 */
export async function pushBlob(target: RegistryTarget, repo: string, bytes: Uint8Array, options: PushOptions = {}): Promise<PushedContent> {
  const digest = sha256Digest(bytes);
  const scope = `repository:${repo}:pull,push`;
  const base = `${target.url}/v2/${repo}/blobs`;
  const head = await authorizedRequest(target, `${base}/${digest}`, { method: 'HEAD', scope, signal: options.signal });
  await head.body.dump();
  // A redirecting registry answers an existing blob's HEAD with 307.
  if (head.statusCode === 200 || (head.statusCode >= 300 && head.statusCode < 400)) return { digest, size: bytes.length, existed: true };
  const started = await authorizedRequest(target, `${base}/uploads/`, { method: 'POST', scope, signal: options.signal, headers: { 'content-length': '0' } });
  if (started.statusCode !== 202) throw await registryError(started, `${base}/uploads/`, `cannot start the upload of ${digest}`);
  await started.body.dump();
  const location = new URL(String(started.headers['location'] ?? ''), target.url);
  location.searchParams.set('digest', digest);
  const put = await authorizedRequest(target, location.href, {
    method: 'PUT',
    scope,
    signal: options.signal,
    body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    headers: { 'content-type': 'application/octet-stream' },
  });
  if (put.statusCode !== 201) throw await registryError(put, location.href, `cannot upload ${digest}`);
  await put.body.dump();
  return { digest, size: bytes.length, existed: false };
}

/**
 * Puts a manifest (or index) under a tag or digest with its media type as Content-Type. The
 * returned digest is the registry's `Docker-Content-Digest` (for a signed schema 1 manifest it
 * differs from the sha256 of the bytes).
 *
 * @example
 * ```ts
 * await pushManifest(reg, 'demo/app', 'v1', MediaType.OCI_MANIFEST, manifestBytes);
 * ```
 */
export async function pushManifest(
  target: RegistryTarget,
  repo: string,
  reference: string,
  mediaType: string,
  bytes: Uint8Array,
  options: PushOptions = {},
): Promise<PushedContent> {
  const url = `${target.url}/v2/${repo}/manifests/${reference}`;
  const res = await authorizedRequest(target, url, {
    method: 'PUT',
    scope: `repository:${repo}:pull,push`,
    signal: options.signal,
    body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    headers: { 'content-type': mediaType },
  });
  if (res.statusCode !== 201) throw await registryError(res, url, `cannot put the manifest ${repo}:${reference}`);
  await res.body.dump();
  const digest = String(res.headers['docker-content-digest'] ?? sha256Digest(bytes));
  return { digest, size: bytes.length, existed: false };
}
