import { createHash } from 'node:crypto';
import { invalidArgument } from '../errors/image-fs-error.js';
import { tryParseDigest, type ParsedDigest } from '../image/digest.js';

/** Longest key accepted, in characters. */
export const MAX_CACHE_KEY_LENGTH = 512;

const FIRST_SEGMENT = /^[a-z0-9][a-z0-9._-]*$/;
const SEGMENT = /^[A-Za-z0-9._:+=@-]+$/;


/** A validated cache key: a content digest, or a derived key stored under `other/`. */
export type CacheKey =
  | { kind: 'digest'; key: string; digest: ParsedDigest }
  | { kind: 'derived'; key: string };


/**
 * Checks a cache key against the key grammar and says what kind it is. Throws `InvalidArgument`
 * naming the problem otherwise.
 *
 * Grammar (docs/cache.md):
 * - a digest key: `sha256:<64 hex>` or `sha512:<128 hex>`, lower-case; its content must hash to it;
 * - a derived key: segments joined by single `/`; the first segment is `[a-z0-9][a-z0-9._-]*`
 *   (the key's namespace, for instance `span` or `layer-tar`), the others `[A-Za-z0-9._:+=@-]+`,
 *   for instance `span/sha256:<hex>/12` or `layer-tar/sha256:<hex>`.
 * - never: empty, longer than {@link MAX_CACHE_KEY_LENGTH}, a leading or trailing `/`, `//`, `..`
 *   anywhere, NUL or any other character outside those sets (backslash, spaces, controls).
 *
 * @example
 * ```ts
 * validateCacheKey('span/sha256:' + 'a'.repeat(64) + '/3').kind; // 'derived'
 * validateCacheKey('../etc/passwd'); // throws InvalidArgument
 * ```
 */
export function validateCacheKey(key: unknown): CacheKey {
  if (typeof key !== 'string' || key.length === 0) throw badKey(key, 'a key must be a non-empty string');
  if (key.length > MAX_CACHE_KEY_LENGTH) throw badKey(key, `a key must be at most ${MAX_CACHE_KEY_LENGTH} characters`);
  if (key.includes('\0')) throw badKey(key, 'a key must not contain NUL');
  if (key.includes('..')) throw badKey(key, "a key must not contain '..'");
  if (key.startsWith('/')) throw badKey(key, "a key must not start with '/'");
  const digest = tryParseDigest(key);
  if (digest !== undefined) return { kind: 'digest', key, digest };
  const segments = key.split('/');
  const first = segments[0]!;
  if (first.includes(':')) throw badKey(key, 'a digest key must be sha256:<64 lower-case hex> or sha512:<128 lower-case hex>');
  if (!FIRST_SEGMENT.test(first)) throw badKey(key, 'a derived key must start with a namespace of [a-z0-9._-]');
  for (const segment of segments.slice(1)) {
    if (segment === '') throw badKey(key, "a key must not end with '/' or contain '//'");
    if (segment === '.' || !SEGMENT.test(segment)) throw badKey(key, `the key segment '${printable(segment)}' is not allowed (use [A-Za-z0-9._:+=@-])`);
  }
  return { kind: 'derived', key };
}

/**
 * Validates `sha256:<hex>` / `sha512:<hex>` for `expectedDigest`; throws `InvalidArgument` otherwise.
 */
export function validateExpectedDigest(value: string): ParsedDigest {
  const digest = tryParseDigest(value);
  if (digest === undefined) {
    throw invalidArgument(`expectedDigest '${printable(value)}' is not sha256:<64 hex> or sha512:<128 hex>`, {
      hint: 'pass a lower-case sha256 or sha512 digest',
    });
  }
  return digest;
}

/**
 * The single file name a derived key is stored under: the key with every character outside
 * `[A-Za-z0-9._-]` percent-encoded (so `/` becomes `%2F` and the mapping is one-to-one), or, for
 * names longer than 200 bytes, `~` followed by the sha256 hex of the key. The result never contains
 * `/`, is never `.` or `..`, and never starts with `.`.
 *
 * @example
 * ```ts
 * derivedKeyFileName('layer-tar/sha256:ab'); // 'layer-tar%2Fsha256%3Aab'
 * ```
 */
export function derivedKeyFileName(key: string): string {
  const encoded = key.replace(/[^A-Za-z0-9._-]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  if (encoded.length <= 200 && !encoded.startsWith('.')) return encoded;
  return `~${createHash('sha256').update(key).digest('hex')}`;
}

function badKey(key: unknown, why: string): Error {
  return invalidArgument(`invalid cache key '${typeof key === 'string' ? printable(key) : String(key)}': ${why}`, {
    hint: 'use a content digest (sha256:<hex>) or a derived key such as span/<layer digest>/<n>',
  });
}

function printable(value: string): string {
  const shown = value.length > 80 ? `${value.slice(0, 80)}...` : value;
  // eslint-disable-next-line no-control-regex
  return shown.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
