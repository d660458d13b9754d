import { createHash } from 'node:crypto';
import { dataLoss, invalidArgument } from '../errors/image-fs-error.js';

/** The digest algorithms imagefs verifies (OCI image-spec registers these two). */
export type DigestAlgorithm = 'sha256' | 'sha512';

/** A digest split into its parts. */
export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  /** Lowercase hex, 64 characters for sha256, 128 for sha512. */
  hex: string;
}

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

/**
 * Parses `ALGO:HEX` without throwing: `undefined` unless it is a well-formed sha256 or sha512
 * digest (lowercase hex of the right length).
 */
export function tryParseDigest(digest: string): ParsedDigest | undefined {
  const colon = digest.indexOf(':');
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  if (algorithm !== 'sha256' && algorithm !== 'sha512') return undefined;
  return hex.length === HEX_LENGTH[algorithm] && /^[0-9a-f]+$/.test(hex) ? { algorithm, hex } : undefined;
}

/**
 * Parses and validates `ALGO:HEX`. Only `sha256` and `sha512` are accepted, with hex of the
 * right length, so a digest can safely become a file name.
 *
 * @param digest - the digest to parse.
 * @param where - what holds the digest (a descriptor, a file), named in the error.
 * @throws ImageError `InvalidArgument` for an unknown algorithm or malformed hex.
 *
 * @example
 * ```ts
 * parseDigest('sha256:e3b0c442...', 'layer 0'); // { algorithm: 'sha256', hex: 'e3b0c442...' }
 * ```
 */
export function parseDigest(digest: string, where: string): ParsedDigest {
  const colon = typeof digest === 'string' ? digest.indexOf(':') : -1;
  if (colon <= 0) {
    throw invalidArgument(`${where} has digest '${String(digest)}', which is not ALGORITHM:HEX`, {
      subject: where,
      hint: 'the manifest or index is malformed; rebuild or copy the image again',
    });
  }
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  if (algorithm !== 'sha256' && algorithm !== 'sha512') {
    throw invalidArgument(`${where} uses digest algorithm '${algorithm}', which imagefs cannot verify`, {
      subject: where,
      hint: 'only sha256 and sha512 digests are supported; convert the image with skopeo copy',
    });
  }
  if (hex.length !== HEX_LENGTH[algorithm] || !/^[0-9a-f]+$/.test(hex)) {
    throw invalidArgument(`${where} has malformed ${algorithm} digest '${digest}'`, {
      subject: where,
      hint: `a ${algorithm} digest is ${HEX_LENGTH[algorithm]} lowercase hex digits; the manifest or index is malformed`,
    });
  }
  return { algorithm, hex };
}

/** Computes `ALGO:HEX` of `bytes`. */
export function computeDigest(bytes: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/**
 * Throws unless `bytes` hash to `digest` (sha256 or sha512).
 *
 * @param bytes - the bytes to check.
 * @param digest - the expected digest.
 * @param what - names the bytes in the error (a file path, "layer sha256:...").
 * @throws ImageError `DataLoss` on a mismatch, `InvalidArgument` on an unusable digest.
 */
export function verifyDigest(bytes: Uint8Array, digest: string, what: string): void {
  const { algorithm } = parseDigest(digest, what);
  const actual = computeDigest(bytes, algorithm);
  if (actual !== digest) {
    throw dataLoss(`${what} does not match its digest: expected ${digest}, got ${actual}`, {
      subject: what,
      hint: 'the content is corrupt or was altered; fetch or copy the image again',
    });
  }
}
