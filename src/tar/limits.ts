/**
 * Bounds on the metadata a tar stream may make the reader hold or work through, so that a hostile
 * layer cannot exhaust memory or time: PAX bytes per entry and per stream, consecutive metadata
 * headers, global headers, xattrs, path lengths and entry counts.
 * @module
 */
import { invalidArgument } from '../errors/image-fs-error.js';

/**
 * Limits of {@link TarStreamParser} (option `limits`). Defaults ({@link DEFAULT_TAR_LIMITS}) are far
 * above what real images hold (a Debian root filesystem: ~7,000 entries, no metadata header over
 * a few KiB) and far below what exhausts a process. Exceeding one throws `InvalidArgument` whose
 * message names the limit (`limits.NAME`) and the value to raise it to.
 */
export interface TarLimits {
  /** Bytes of metadata payload (PAX `x`, GNU `L`/`K`, and `g`) read for one entry, replaced ones included. Default 4 MiB. */
  maxMetaBytesPerEntry: number;
  /** Bytes of metadata payload in the whole stream. Default 256 MiB. */
  maxMetaBytesPerStream: number;
  /** Metadata headers in a row before an entry (GNU tar writes at most 3: `x`, `L`, `K`). Default 64. */
  maxConsecutiveMetaHeaders: number;
  /** PAX global (`g`) headers in the stream (ignored as containerd ignores them, but parsed). Default 1,024. */
  maxGlobalHeaders: number;
  /** `SCHILY.xattr.*` records of one entry. Default 1,024 (Linux allows 64 KiB of names per file). */
  maxXattrsPerEntry: number;
  /** `SCHILY.xattr.*` records over the whole stream (and over every stream sharing a {@link TarUsage}). Default 1,048,576. */
  maxXattrsPerStream: number;
  /** Bytes of an entry's path or link target. Default 65,536 (Linux PATH_MAX is 4,096). */
  maxPathBytes: number;
  /** Entries in the stream (and in every stream sharing a {@link TarUsage}). Default 4,194,304. */
  maxEntries: number;
}

/**
 * The default {@link TarLimits}.
 *
 * @example
 * ```ts
 * const parser = new TarStreamParser(onEntry, { limits: { ...DEFAULT_TAR_LIMITS, maxEntries: 10_000_000 } });
 * ```
 */
export const DEFAULT_TAR_LIMITS: Readonly<TarLimits> = Object.freeze({
  maxMetaBytesPerEntry: 4 << 20,
  maxMetaBytesPerStream: 256 << 20,
  maxConsecutiveMetaHeaders: 64,
  maxGlobalHeaders: 1024,
  maxXattrsPerEntry: 1024,
  maxXattrsPerStream: 1 << 20,
  maxPathBytes: 65536,
  maxEntries: 4 << 20,
});

/**
 * Counts shared by the parsers of several streams (the layers of one image), so that the
 * per-stream limits on entries and xattrs hold for the image as a whole.
 *
 * @example
 * ```ts
 * const usage = new TarUsage();
 * for (const layer of layers) parseTar(layer, { usage });
 * ```
 */
export class TarUsage {
  /** Entries seen. */
  entries = 0;
  /** `SCHILY.xattr.*` records seen. */
  xattrs = 0;
}

/**
 * The limits in effect: `given` over the defaults, each checked to be a positive safe integer.
 *
 * @throws TypeError naming the field when a limit is not a positive whole number.
 * @example
 * ```ts
 * resolveTarLimits({ maxEntries: 100 }).maxEntries; // 100
 * ```
 */
export function resolveTarLimits(given: Partial<TarLimits> = {}): TarLimits {
  const limits = { ...DEFAULT_TAR_LIMITS, ...given };
  for (const [key, value] of Object.entries(limits)) {
    if (!(key in DEFAULT_TAR_LIMITS)) throw new TypeError(`limits.${key} is not a tar limit (known: ${Object.keys(DEFAULT_TAR_LIMITS).join(', ')})`);
    if (!Number.isSafeInteger(value) || value <= 0) throw new TypeError(`limits.${key} must be a positive whole number (got ${String(value)})`);
  }
  return limits;
}

/**
 * The `InvalidArgument` for an exceeded limit: names it, says what was seen and where, and how to
 * raise it.
 *
 * @example
 * ```ts
 * throw tarLimitError('maxEntries', 'the stream has more than 4194304 entries', 'sha256:...', 4194304);
 * ```
 */
export function tarLimitError(limit: keyof TarLimits, what: string, subject: string | undefined, value: number): Error {
  return invalidArgument(`${what}: over the tar limit limits.${limit} = ${value}`, {
    subject,
    hint: `the layer holds more metadata than imagefs reads by default (a hostile or broken layer?); if it is genuine, raise limits.${limit}`,
  });
}
