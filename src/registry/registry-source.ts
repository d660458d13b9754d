import type { Descriptor, ImageSource, ResolvedImage, ResolveOptions } from '../image/types.js';
import type { ReadOptions } from '../source/read-at.js';
import { throwIfAborted } from '../errors/image-fs-error.js';
import type { RegistryBlob } from './blob-source.js';
import { RegistryClient, type FetchManifestOptions } from './client.js';
import type { FetchedManifest } from './manifest.js';
import type { RegistryClientOptions } from './options.js';
import type { PutBlobOptions, PutManifestOptions } from './push.js';
import { parseReference, type ImageReference } from './reference.js';
import type { ReferrersOptions } from './referrers.js';

/** Options of a {@link RegistrySource}: the client's options, or a client to share. */
export interface RegistrySourceOptions extends RegistryClientOptions {
  /** A client to use (and not close) instead of making one from the other options. */
  client?: RegistryClient;
}

/**
 * An {@link ImageSource} over one registry reference. `resolve()` gives the platform image with
 * its config verified; `openBlob()` gives random access to a blob (size from the descriptor).
 * Also offers what index building, referrers and eligibility need: `fetchManifest`,
 * `readBlobVerified`, `putBlob`, `putManifest`, `getReferrers`.
 *
 * @example
 * ```ts
 * const source = new RegistrySource('127.0.0.1:5000/app:1.0', { insecure: false });
 * const image = await source.resolve({ platform: { os: 'linux', architecture: 'arm64' } });
 * await source.close();
 * ```
 */
export class RegistrySource implements ImageSource {
  /** The reference as given. */
  readonly reference: string;
  /** The reference, parsed and normalised. */
  readonly parsed: ImageReference;
  /** The client doing the work. */
  readonly client: RegistryClient;
  private readonly ownsClient: boolean;

  /** Parses `reference` (InvalidArgument when malformed) and validates options (TypeError naming the field). */
  constructor(reference: string, options: RegistrySourceOptions = {}) {
    const { client, ...clientOptions } = options;
    this.reference = reference;
    this.parsed = parseReference(reference);
    this.ownsClient = client === undefined;
    this.client = client ?? new RegistryClient(clientOptions);
  }

  /** Resolves to the platform image (host platform by default); schema 1 is converted (`schema1: true`). */
  resolve(options: ResolveOptions = {}): Promise<ResolvedImage> {
    return this.client.resolve(this.parsed, options).then((image) => ({ ...image, reference: this.reference }));
  }

  /** Random access to a blob of this repository; `size` is the descriptor's. */
  async openBlob(descriptor: Descriptor, options: ReadOptions = {}): Promise<RegistryBlob> {
    throwIfAborted(options.signal);
    return this.client.openBlob(this.parsed, descriptor);
  }

  /** The manifest the reference names (or `options.expected` names), unresolved: index, manifest or schema 1. */
  fetchManifest(options: FetchManifestOptions = {}): Promise<FetchedManifest> {
    return this.client.fetchManifest(this.parsed, options);
  }

  /** A whole blob, returned only when its digest matches (`DataLoss` otherwise). */
  readBlobVerified(descriptor: Descriptor, options: ReadOptions = {}): Promise<Uint8Array> {
    return this.client.readBlobVerified(this.parsed, descriptor, options);
  }

  /** A whole blob as a stream of chunks, not verified (see {@link RegistryClient.streamBlob}). */
  streamBlob(descriptor: Descriptor, options: ReadOptions = {}): AsyncIterable<Uint8Array> {
    return this.client.streamBlob(this.parsed, descriptor, options);
  }

  /** Uploads a blob to this repository (skipped when present). */
  putBlob(bytes: Uint8Array, options: PutBlobOptions = {}): Promise<Descriptor> {
    return this.client.putBlob(this.parsed, bytes, options);
  }

  /** Pushes a manifest to this repository under `options.tag` or by digest. */
  putManifest(bytes: Uint8Array, mediaType: string, options: PutManifestOptions = {}): Promise<Descriptor> {
    return this.client.putManifest(this.parsed, bytes, mediaType, options);
  }

  /** The referrers of `subjectDigest` in this repository. */
  getReferrers(subjectDigest: string, options: ReferrersOptions = {}): Promise<Descriptor[]> {
    return this.client.getReferrers(this.parsed, subjectDigest, options);
  }

  /** Closes the client when this source made it. Idempotent. */
  async close(): Promise<void> {
    if (this.ownsClient) await this.client.close();
  }
}
