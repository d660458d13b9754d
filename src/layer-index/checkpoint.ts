/**
 * A point in a gzip stream where inflation can resume without reading what comes before: the
 * zran technique. Checkpoints sit at deflate block boundaries (or at gzip member starts).
 *
 * To resume: read from `compressedOffset`, drop the first `bitOffset` bits of that byte, set
 * `window` as the raw-inflate dictionary and inflate; output starts at `uncompressedOffset`.
 *
 * @example
 * ```ts
 * const cp: Checkpoint = { compressedOffset: 10, bitOffset: 0, uncompressedOffset: 0, window: new Uint8Array(0), memberStart: true };
 * ```
 */
export interface Checkpoint {
  /** Offset in the compressed blob of the byte holding the first bit of the next deflate block. */
  compressedOffset: number;
  /** Bits of that byte already consumed by the previous block (0-7). */
  bitOffset: number;
  /** Offset in the uncompressed stream of the first byte produced after this point. */
  uncompressedOffset: number;
  /** The last up-to-32 KiB of output before this point; empty at a gzip member start. */
  window?: Uint8Array;
  /** True when the checkpoint is the start of a gzip member (its header begins at `compressedOffset`). */
  memberStart?: boolean;
}

/** Largest deflate window (and so the largest `Checkpoint.window`), in bytes. */
export const MAX_WINDOW_SIZE = 32 * 1024;

/** Length of each span digest (sha256), in bytes. */
export const SPAN_DIGEST_SIZE = 32;

/**
 * Largest span (uncompressed bytes between two checkpoints, or from the last one to the end) an
 * index may describe: 1 GiB. A span is decoded whole when it is cached, so its length drives an
 * allocation; `imagefs index --span` defaults to 4 MiB.
 */
export const MAX_SPAN_BYTES = 1024 * 1024 * 1024;
