/**
 * The shapes a seekable gzip index is made of. `Checkpoint` is the index format's own type
 * (src/layer-index/checkpoint.ts), re-exported. Bit convention: the block starts at bit `bitOffset`
 * (0 = least significant) of the byte at `compressedOffset`; the lower `bitOffset` bits of that
 * byte end the previous block. (zran.c stores instead `in = compressedOffset + 1` and
 * `bits = 8 - bitOffset` when `bitOffset > 0`.) Member-start checkpoints have no window.
 * @module
 */
import type { Checkpoint } from '../layer-index/checkpoint.js';

export type { Checkpoint };

/**
 * A complete seekable index of one gzip blob, as {@link GzipIndexBuilder.finish} returns it.
 *
 * Span `i` is the compressed byte range `[checkpoints[i].compressedOffset, end)` where `end` is
 * `checkpoints[i+1].compressedOffset + (checkpoints[i+1].bitOffset > 0 ? 1 : 0)`, and for the last
 * span the blob's size. `spanDigests[i]` is the sha256 (32 bytes) of span `i`: a reader verifies a
 * span before inflating it. This is the shape src/index stores (`LayerIndexData`).
 */
export interface GzipIndex {
  /** Checkpoints in increasing offset order; the first is always the start of the blob. */
  checkpoints: Checkpoint[];
  /** sha256 (32 bytes) of each compressed span, one per checkpoint. */
  spanDigests: Uint8Array[];
  /** `sha256:<hex>` of the whole compressed blob (compare with the layer digest). */
  digest: string;
  /** Size of the compressed blob in bytes. */
  compressedSize: number;
  /** Size of the uncompressed stream in bytes. */
  uncompressedSize: number;
  /** Number of gzip members. */
  members: number;
  /** The target uncompressed distance between checkpoints the index was built with, in bytes. */
  span: number;
}

/**
 * What a reader needs of an index, in a form both a fresh {@link GzipIndex} (see
 * {@link gzipSpanIndex}) and a stored index (src/index `LayerIndex`: `checkpointPositions()`,
 * `window(i)`, `spanDigest(i)`) can offer without inflating every window up front.
 */
export interface GzipSpanIndex {
  /** Size of the compressed blob in bytes. */
  readonly compressedSize: number;
  /** Size of the uncompressed stream in bytes. */
  readonly uncompressedSize: number;
  /** Every checkpoint's position, in order (windows may be absent here). */
  readonly positions: readonly Checkpoint[];
  /** The window of checkpoint `i` (undefined at member starts). */
  window(i: number): Uint8Array | undefined;
  /** The sha256 (32 bytes) of span `i`. */
  spanDigest(i: number): Uint8Array;
}

/**
 * Views a {@link GzipIndex} as a {@link GzipSpanIndex}.
 *
 * @example
 * ```ts
 * const reader = new GzipSpanReader(gzipSpanIndex(builder.finish()), blob);
 * ```
 */
export function gzipSpanIndex(index: GzipIndex): GzipSpanIndex {
  return {
    compressedSize: index.compressedSize,
    uncompressedSize: index.uncompressedSize,
    positions: index.checkpoints,
    window: (i) => index.checkpoints[i]?.window,
    spanDigest: (i) => {
      const digest = index.spanDigests[i];
      if (digest === undefined) throw new RangeError(`span ${i} has no digest`);
      return digest;
    },
  };
}

/**
 * The compressed byte range `[start, end)` of span `i` (see {@link GzipIndex}).
 *
 * @example
 * ```ts
 * const { start, end } = spanRange(index.checkpoints, index.compressedSize, 0);
 * ```
 */
export function spanRange(positions: readonly Checkpoint[], compressedSize: number, i: number): { start: number; end: number } {
  const cp = positions[i];
  if (cp === undefined) throw new RangeError(`span ${i} does not exist (index has ${positions.length})`);
  const next = positions[i + 1];
  const end = next === undefined ? compressedSize : next.compressedOffset + (next.bitOffset > 0 ? 1 : 0);
  return { start: cp.compressedOffset, end };
}

/**
 * The span holding uncompressed `offset`: the index of the last checkpoint at or before it
 * (binary search; `positions` are in increasing offset order, the first at 0).
 */
export function spanAt(positions: readonly Checkpoint[], offset: number): number {
  let lo = 0;
  let hi = positions.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (positions[mid]!.uncompressedOffset <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
