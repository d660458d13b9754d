import { createHash, type Hash } from 'node:crypto';
import { dataLoss, invalidArgument } from '../errors/image-fs-error.js';
import { validateExpectedDigest, type CacheKey } from './keys.js';
import type { ParsedDigest } from '../image/digest.js';
import type { CacheCreateOptions } from './types.js';

/**
 * Tracks the bytes written to one cache entry and checks them at commit: the size against
 * `expectedSize` (as soon as it is passed, too), the hash against the digest key and
 * `expectedDigest`. Shared by every cache implementation so they verify alike.
 *
 * @example
 * ```ts
 * const check = new ContentCheck(validateCacheKey(key), { expectedSize: 3 });
 * check.update(bytes);
 * check.verify(); // throws DataLoss on a mismatch
 * ```
 */
export class ContentCheck {
  /** Bytes seen so far. */
  size = 0;
  private readonly hashes: Array<{ digest: ParsedDigest; text: string; hash: Hash }> = [];
  private readonly expectedSize: number | undefined;
  private readonly key: string;

  /** Validates the options (throws `InvalidArgument`) and prepares the hashes. */
  constructor(key: CacheKey, options: CacheCreateOptions = {}) {
    this.key = key.key;
    const { expectedSize, expectedDigest } = options;
    if (expectedSize !== undefined && (!Number.isSafeInteger(expectedSize) || expectedSize < 0)) {
      throw invalidArgument(`expectedSize must be a non-negative integer number of bytes, got ${String(expectedSize)}`);
    }
    this.expectedSize = expectedSize;
    const wanted: ParsedDigest[] = [];
    if (key.kind === 'digest') wanted.push(key.digest);
    if (expectedDigest !== undefined) {
      const extra = validateExpectedDigest(expectedDigest);
      const same = wanted.find((d) => d.algorithm === extra.algorithm);
      if (same !== undefined && same.hex !== extra.hex) {
        throw invalidArgument(`expectedDigest ${expectedDigest} contradicts the digest key ${key.key}`, {
          hint: 'a digest key is its own expected digest; drop expectedDigest or fix the key',
        });
      }
      if (same === undefined) wanted.push(extra);
    }
    for (const digest of wanted) {
      this.hashes.push({ digest, text: `${digest.algorithm}:${digest.hex}`, hash: createHash(digest.algorithm) });
    }
  }

  /** Counts and hashes a chunk; throws `DataLoss` as soon as the size passes `expectedSize`. */
  update(chunk: Uint8Array): void {
    this.size += chunk.length;
    if (this.expectedSize !== undefined && this.size > this.expectedSize) {
      throw dataLoss(`cache entry ${this.key} got more than the expected ${this.expectedSize} bytes`, {
        subject: this.key,
        hint: 'the source sent more bytes than its descriptor says; nothing was cached',
      });
    }
    for (const h of this.hashes) h.hash.update(chunk);
  }

  /** Throws `DataLoss` unless the size and every digest match. Call once. */
  verify(): void {
    if (this.expectedSize !== undefined && this.size !== this.expectedSize) {
      throw dataLoss(`cache entry ${this.key} has ${this.size} bytes; expected ${this.expectedSize}`, {
        subject: this.key,
        hint: 'the download was truncated; nothing was cached, retry',
      });
    }
    for (const h of this.hashes) {
      const actual = h.hash.digest('hex');
      if (actual !== h.digest.hex) {
        throw dataLoss(`cache entry ${this.key} hashes to ${h.digest.algorithm}:${actual}, not ${h.text}`, {
          subject: this.key,
          hint: 'the bytes are corrupt or do not belong to this digest; nothing was cached',
        });
      }
    }
  }
}
