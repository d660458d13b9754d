/**
 * The cache keys of the pieces of a lazily read layer. Each names exactly the bytes it holds, so
 * two indexes of one layer never share a key unless they hold the same bytes.
 * @module
 */
import type { Checkpoint } from '../layer-index/checkpoint.js';

/**
 * The key of compressed bytes `[start, end)` of blob `layerDigest`: `blob-range/<digest>/<start>-<end>`.
 *
 * A blob is immutable, so the key names its bytes exactly: two indexes of one layer whose spans
 * differ have different ranges, hence different keys; two that cut the same range hold the same
 * bytes and may share the entry. Only bytes verified against the span's digest from the index are
 * stored, and they are checked against it again whenever they are read back from disk.
 *
 * @example
 * ```ts
 * compressedRangeKey('sha256:' + 'a'.repeat(64), 0, 1_048_576); // 'blob-range/sha256:aaa.../0-1048576'
 * ```
 */
export function compressedRangeKey(layerDigest: string, start: number, end: number): string {
  return `blob-range/${layerDigest}/${start}-${end}`;
}

/**
 * The key of uncompressed bytes `[start, end)` of layer `layerDigest`'s tar:
 * `tar-range/<digest>/<start>-<end>` (a decoded span). The uncompressed tar of a layer is as
 * immutable as the blob, so the key names its bytes exactly whichever index cut the span.
 *
 * @example
 * ```ts
 * tarRangeKey('sha256:' + 'a'.repeat(64), 0, 4_194_304); // 'tar-range/sha256:aaa.../0-4194304'
 * ```
 */
export function tarRangeKey(layerDigest: string, start: number, end: number): string {
  return `tar-range/${layerDigest}/${start}-${end}`;
}

/** Where span `i` lies in the compressed blob and in the uncompressed tar. */
export interface SpanBounds {
  /** Compressed bytes `[start, end)` (consecutive spans may share one byte when a checkpoint is mid-byte). */
  start: number;
  end: number;
  /** Uncompressed bytes `[uStart, uEnd)`. */
  uStart: number;
  uEnd: number;
}

/**
 * The bounds of every span of an index, as `spanRange` (src/gzip/checkpoint.ts) cuts them (the last span ends at the
 * blob's end) and with the uncompressed span sizes.
 *
 * @example
 * ```ts
 * const bounds = spanBounds(index.checkpointPositions(), layer.size, uncompressedSize);
 * ```
 */
export function spanBounds(positions: readonly Checkpoint[], compressedSize: number, uncompressedSize: number): SpanBounds[] {
  return positions.map((cp, i) => {
    const next = positions[i + 1];
    return {
      start: cp.compressedOffset,
      end: next === undefined ? compressedSize : next.compressedOffset + (next.bitOffset > 0 ? 1 : 0),
      uStart: cp.uncompressedOffset,
      uEnd: next === undefined ? uncompressedSize : next.uncompressedOffset,
    };
  });
}
