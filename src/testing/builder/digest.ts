import { createHash } from 'node:crypto';

/** The OCI digest (`sha256:HEX`) of some bytes. */
export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Encodes a JSON document the way the builder stores it: compact, keys in insertion order, UTF-8. */
export function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

/**
 * The gzip blob of an empty 1024-byte tar as Docker writes it, whose digest is
 * {@link EMPTY_LAYER_DIGEST}: the "empty layer" that GKE image streaming refuses.
 */
export const EMPTY_LAYER_GZIP: Uint8Array = new Uint8Array([
  31, 139, 8, 0, 0, 9, 110, 136, 0, 255, 98, 24, 5, 163, 96, 20, 140, 88, 0, 8, 0, 0, 255, 255, 46, 175, 181, 239, 0, 4, 0, 0,
]);

/** Digest of {@link EMPTY_LAYER_GZIP}. */
export const EMPTY_LAYER_DIGEST = 'sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';
