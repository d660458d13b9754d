import { createHash } from 'node:crypto';
import type { ImageIndex, ImageManifest } from '../image/types.js';
import { isIndexMediaType, isManifestMediaType, isSchema1MediaType, MediaType } from '../image/media-types.js';
import { dataLossError, invalidError } from './error-map.js';

/** A Docker schema 1 manifest (only recognised, never used: imagefs reports it as ineligible). */
export interface Schema1Manifest {
  /** Always 1. */
  schemaVersion: 1;
  /** The repository name. */
  name?: string;
  /** The tag. */
  tag?: string;
  /** The architecture. */
  architecture?: string;
  /** The layers, top first. */
  fsLayers?: Array<{
    /** The layer blob digest. */
    blobSum: string;
  }>;
  /** The JWS signatures (signed form only). */
  signatures?: unknown[];
  /** Anything else (`history`, ...). */
  [key: string]: unknown;
}

/** What a manifest document is. */
export type ManifestKind = 'index' | 'manifest' | 'schema1';

/** A manifest as fetched: its exact bytes, digest and media type, and the parsed document. */
export interface FetchedManifest {
  /** `index` (OCI index / Docker list), `manifest` (OCI / schema 2) or `schema1`. */
  kind: ManifestKind;
  /** The media type (from Content-Type, or the document when the header is generic). */
  mediaType: string;
  /**
   * The digest: sha256 of `bytes`, verified against the digest asked for and the registry's
   * `Docker-Content-Digest`. For a signed schema 1 manifest it is the registry's digest (its
   * payload without signatures), not verified.
   */
  digest: string;
  /** Size of `bytes`. */
  size: number;
  /** The exact bytes the registry served. */
  bytes: Uint8Array;
  /** The parsed JSON document. */
  parsed: ImageIndex | ImageManifest | Schema1Manifest;
}

/** Computes `ALGO:HEX` of bytes for the algorithm of `like` (sha256 by default; sha384 and sha512 too). */
export function digestOf(bytes: Uint8Array, like = 'sha256:'): string {
  const algo = like.slice(0, like.indexOf(':'));
  const supported = algo === 'sha256' || algo === 'sha384' || algo === 'sha512' ? algo : 'sha256';
  return `${supported}:${createHash(supported).update(bytes).digest('hex')}`;
}

function headerMediaType(contentType: string | undefined): string | undefined {
  const mt = contentType?.split(';')[0]?.trim().toLowerCase();
  if (!mt || mt === 'application/json' || mt === 'text/plain' || mt === 'application/octet-stream') return undefined;
  return mt;
}

/**
 * Parses and classifies a manifest's bytes. The media type comes from the Content-Type header when
 * it is specific, else from the document (`mediaType`, or `schemaVersion: 1`, or the presence of
 * `manifests` / `layers`). Throws `InvalidArgument` for anything that is not a manifest imagefs
 * knows (not JSON, unknown media type, missing fields).
 */
export function identifyManifest(bytes: Uint8Array, contentType: string | undefined, url: string): Omit<FetchedManifest, 'digest' | 'size' | 'bytes'> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  } catch {
    throw invalidError('the registry served a manifest that is not JSON', url);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalidError('the registry served a manifest that is not a JSON object', url);
  const doc = parsed as Record<string, unknown>;
  let mediaType = headerMediaType(contentType) ?? (typeof doc.mediaType === 'string' ? doc.mediaType : undefined);
  if (doc.schemaVersion === 1) {
    mediaType = isSchema1MediaType(mediaType) ? mediaType! : Array.isArray(doc.signatures) ? MediaType.DOCKER_SCHEMA1_SIGNED : MediaType.DOCKER_SCHEMA1;
    return { kind: 'schema1', mediaType, parsed: doc as Schema1Manifest };
  }
  if (isSchema1MediaType(mediaType)) return { kind: 'schema1', mediaType: mediaType!, parsed: doc as Schema1Manifest };
  if (mediaType === undefined) {
    if (Array.isArray(doc.manifests)) mediaType = MediaType.OCI_INDEX;
    else if (Array.isArray(doc.layers)) mediaType = MediaType.OCI_MANIFEST;
  }
  if (doc.schemaVersion !== 2) throw invalidError(`the manifest has schemaVersion ${String(doc.schemaVersion)}; imagefs reads schema 2 and OCI manifests`, url);
  if (isIndexMediaType(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw invalidError('the image index has no "manifests" list', url);
    doc.manifests.forEach((d, i) => {
      checkDescriptor(d, `manifests[${i}] of the image index`, url);
      const platform = (d as { platform?: unknown }).platform;
      const p = platform as { os?: unknown; architecture?: unknown } | null;
      if (platform !== undefined && (typeof p !== 'object' || p === null || typeof p.os !== 'string' || typeof p.architecture !== 'string')) {
        throw invalidError(`manifests[${i}] of the image index has a platform without a string os and architecture`, url);
      }
    });
    return { kind: 'index', mediaType: mediaType!, parsed: doc as unknown as ImageIndex };
  }
  if (isManifestMediaType(mediaType)) {
    if (!Array.isArray(doc.layers) || typeof doc.config !== 'object' || doc.config === null) {
      throw invalidError('the image manifest lacks "config" or "layers"', url);
    }
    checkDescriptor(doc.config, 'the config of the image manifest', url);
    doc.layers.forEach((d, i) => checkDescriptor(d, `layers[${i}] of the image manifest`, url));
    return { kind: 'manifest', mediaType: mediaType!, parsed: doc as unknown as ImageManifest };
  }
  throw invalidError(`the manifest media type '${String(mediaType)}' is not an image manifest or index imagefs supports`, url,
    'imagefs reads OCI image manifests/indexes and Docker schema 2 manifests/lists');
}

/**
 * Throws `InvalidArgument` unless `d` has the shape of a descriptor: an object with a string
 * `mediaType` and `digest` and a whole, non-negative `size` (what later code reads without checking).
 */
function checkDescriptor(d: unknown, where: string, url: string): void {
  const o = d as { mediaType?: unknown; digest?: unknown; size?: unknown } | null;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw invalidError(`${where} is not a descriptor object`, url);
  if (typeof o.digest !== 'string' || typeof o.mediaType !== 'string' || typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) {
    throw invalidError(`${where} is not a descriptor (it needs a string mediaType and digest and a whole size)`, url);
  }
}

/**
 * Checks manifest bytes against the digest that was asked for and the registry's
 * `Docker-Content-Digest`, and returns the digest. Any mismatch is `DataLoss`. Signed schema 1
 * manifests are exempt (their digest covers the payload without signatures).
 */
export function verifyManifestDigest(bytes: Uint8Array, kind: ManifestKind, asked: string | undefined, header: string | undefined, url: string): string {
  if (kind === 'schema1') return header ?? asked ?? digestOf(bytes);
  const computed = digestOf(bytes, asked ?? header ?? 'sha256:');
  if (asked !== undefined && computed !== asked) {
    throw dataLossError(`the manifest served for ${asked} has digest ${computed}`, url);
  }
  if (header !== undefined && header !== '' && digestOf(bytes, header) !== header) {
    throw dataLossError(`the manifest's bytes do not match the registry's Docker-Content-Digest ${header}`, url);
  }
  return asked ?? (header !== undefined && header.startsWith('sha256:') ? header : digestOf(bytes));
}
