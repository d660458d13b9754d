import type { Descriptor, ResolvedImage, ResolveOptions } from '../image/types.js';
import type { ReadOptions } from '../source/read-at.js';
import { Authenticator } from './authenticator.js';
import { readBlobVerified, statBlob } from './blob-fetch.js';
import { RegistryBlob } from './blob-source.js';
import { streamBlobChunks } from './blob-stream.js';
import type { RegistryContext } from './context.js';
import { CredentialStore } from './credential-store.js';
import type { FetchedManifest } from './manifest.js';
import { fetchManifest, resolveImage } from './manifest-fetch.js';
import { resolveClientOptions, type RegistryClientOptions } from './options.js';
import { putBlob, putManifest, type PutBlobOptions, type PutManifestOptions } from './push.js';
import { formatReference, parseReference, type ImageReference } from './reference.js';
import { getReferrers, type ReferrersOptions } from './referrers.js';
import { Transport, type TransportStats } from './transport.js';

/** A registry reference as text (`HOST/REPO[:TAG][@DIGEST]`) or already parsed. */
export type ReferenceLike = string | ImageReference;

function parse(ref: ReferenceLike): ImageReference {
  return typeof ref === 'string' ? parseReference(ref) : ref;
}

/** Options of {@link RegistryClient.fetchManifest}. */
export interface FetchManifestOptions extends ReadOptions {
  /** The descriptor that names the manifest: its digest and size are then verified too. */
  expected?: Descriptor;
}

/**
 * Talks to OCI / Docker registries: manifests, blobs (whole and verified, or random access),
 * uploads and referrers, with authentication (anonymous, Basic, Bearer tokens), mirrors,
 * retries and keep-alive connection pools. One client serves any number of registries and
 * references; close it when done.
 *
 * @example
 * ```ts
 * const client = new RegistryClient({ retries: 3 });
 * const image = await client.resolve('127.0.0.1:5000/app:1.0');
 * const layer = client.openBlob('127.0.0.1:5000/app', image.layers[0]!);
 * const first = await layer.readAt(0, 4096);
 * await client.close();
 * ```
 */
export class RegistryClient {
  private readonly ctx: RegistryContext;
  private readonly credentialStore: CredentialStore;
  /**
   * The options this client was made with, as given (a second client for the same registries, such
   * as the eligibility's Range probe, is made from them: same mirrors, credentials, TLS choice).
   */
  readonly options: Readonly<RegistryClientOptions>;

  /** Validates `options` (a TypeError names a wrong field) and sets up the connection pools. */
  constructor(options: RegistryClientOptions = {}) {
    this.options = { ...options };
    const resolved = resolveClientOptions(options);
    this.credentialStore = new CredentialStore({ credentials: resolved.credentials, authFile: resolved.authFile, env: resolved.env });
    let transport: Transport | undefined;
    const auth = new Authenticator(this.credentialStore, (req) => transport!.simple(req), (registry, scope, expiresInS) => {
      transport!.emit({ type: 'token', registry, scope, expiresInS });
    });
    transport = new Transport(resolved, auth);
    this.ctx = { transport, options: resolved };
  }

  /** Counters of HTTP requests, retries and redirects so far (live object). */
  get stats(): Readonly<TransportStats> {
    return this.ctx.transport.stats;
  }

  /**
   * Fetches a manifest as the registry serves it: `{ kind, mediaType, digest, size, bytes, parsed }`.
   * Digest-verified; schema 1 manifests are returned with kind `schema1` (so a check can report them).
   */
  fetchManifest(ref: ReferenceLike, options: FetchManifestOptions = {}): Promise<FetchedManifest> {
    return fetchManifest(this.ctx, parse(ref), options.expected, options.signal);
  }

  /**
   * Resolves a reference to one platform's image with its config verified and parsed. A Docker
   * schema 1 manifest is converted (`schema1: true`, layer sizes from HEAD requests, no diff_ids;
   * see `schema1ToResolvedImage`) so it can be served whole. Throws `InvalidArgument` for
   * unsupported manifests, `NotFound` for a missing platform.
   */
  resolve(ref: ReferenceLike, options: ResolveOptions = {}): Promise<ResolvedImage> {
    const parsed = parse(ref);
    return resolveImage(this.ctx, parsed, typeof ref === 'string' ? ref : formatReference(ref), options.platform, options.signal);
  }

  /** Random access to a blob of `ref`'s repository (no request is made until the first read). */
  openBlob(ref: ReferenceLike, descriptor: Descriptor): RegistryBlob {
    return new RegistryBlob(this.ctx, parse(ref), descriptor);
  }

  /**
   * Downloads a whole blob; resolves only when its sha256 and size match the descriptor (`DataLoss` otherwise).
   * `options.maxBytes` bounds the descriptor's size before anything is allocated (`InvalidArgument` above it).
   */
  readBlobVerified(ref: ReferenceLike, descriptor: Descriptor, options: ReadOptions & { maxBytes?: number } = {}): Promise<Uint8Array> {
    return readBlobVerified(this.ctx, parse(ref), descriptor, options.signal, options.maxBytes);
  }

  /**
   * Streams a whole blob as chunks, in order, with the same auth, redirect, mirror and retry
   * handling as {@link RegistryClient.readBlobVerified}; a body that breaks or ends early is
   * fetched again (bounded by the retry policy) and the bytes already yielded are skipped. The
   * bytes are NOT verified: hash them and check the digest when the stream ends (a body longer than
   * the descriptor fails with `DataLoss`). Leaving the loop early cancels the download.
   *
   * @example
   * ```ts
   * for await (const chunk of client.streamBlob(ref, layer, { signal })) hash.update(chunk);
   * ```
   */
  streamBlob(ref: ReferenceLike, descriptor: Descriptor, options: ReadOptions = {}): AsyncIterable<Uint8Array> {
    return streamBlobChunks(this.ctx, parse(ref), descriptor, options.signal);
  }

  /** The size of a blob, from a HEAD request (`NotFound` when the registry lacks it). */
  blobSize(ref: ReferenceLike, digest: string, options: ReadOptions = {}): Promise<number> {
    return statBlob(this.ctx, parse(ref), digest, options.signal);
  }

  /** Uploads a blob to `ref`'s repository unless it is there already; returns its descriptor. */
  putBlob(ref: ReferenceLike, bytes: Uint8Array, options: PutBlobOptions = {}): Promise<Descriptor> {
    return putBlob(this.ctx, parse(ref), bytes, options);
  }

  /** Pushes manifest bytes under `options.tag` (or by digest); returns the manifest's descriptor. */
  putManifest(ref: ReferenceLike, bytes: Uint8Array, mediaType: string, options: PutManifestOptions = {}): Promise<Descriptor> {
    return putManifest(this.ctx, parse(ref), bytes, mediaType, options);
  }

  /** Lists the referrers of `subjectDigest` (referrers API, else the `sha256-<hex>` tag schema). */
  getReferrers(ref: ReferenceLike, subjectDigest: string, options: ReferrersOptions = {}): Promise<Descriptor[]> {
    return getReferrers(this.ctx, parse(ref), subjectDigest, options);
  }

  /** Closes the keep-alive connection pools. Idempotent. */
  async close(): Promise<void> {
    await this.ctx.transport.close();
  }
}
