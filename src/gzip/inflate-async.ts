/**
 * {@link inflateFrom} off the calling thread: verify (optionally) and inflate on a {@link SpanPool}
 * worker, falling back to the calling thread when no worker can run.
 * @module
 */
import { createHash } from 'node:crypto';
import { inflateFrom } from './inflate-from.js';
import type { Checkpoint } from './checkpoint.js';
import { defaultSpanPool, type SpanPool } from './span-pool.js';

/** Options of {@link inflateFromAsync}. */
export interface InflateAsyncOptions {
  /** Names the blob in error messages (e.g. the layer digest). */
  subject?: string;
  /** The worker pool (default: {@link defaultSpanPool}), or `false` for the calling thread. */
  pool?: SpanPool | false;
  /**
   * Spans of `compressed` to check against their sha256 before inflating (`start`/`end` relative to
   * `compressed`); `mismatch(k)` makes the error thrown when `spans[k]` differs.
   */
  verify?: { spans: { start: number; end: number; digest: Uint8Array }[]; mismatch: (k: number) => Error };
}

/** What {@link inflateFromAsync} resolves to. */
export interface InflateAsyncResult {
  /** The `length` uncompressed bytes. */
  bytes: Uint8Array;
  /** Whether a worker thread did the work. */
  offloaded: boolean;
}

/**
 * Like {@link inflateFrom} (same arguments, same `DataLoss` errors), but the sha256 checks and the
 * inflate run on a worker thread, so the calling thread's event loop keeps turning.
 *
 * @throws ImageError `DataLoss` when the bytes are corrupt; `verify.mismatch(k)`'s error when a span differs.
 * @example
 * ```ts
 * const { bytes } = await inflateFromAsync(cp, spanBytes, 0, spanLength, { subject: layer.digest });
 * ```
 */
export async function inflateFromAsync(
  checkpoint: Checkpoint,
  compressed: Uint8Array,
  skip: number,
  length: number,
  options: InflateAsyncOptions = {},
): Promise<InflateAsyncResult> {
  const pool = options.pool === undefined ? defaultSpanPool() : options.pool;
  const spans = options.verify?.spans ?? [];
  if (pool !== false && length > 0) {
    let result;
    try {
      result = await pool.decode({ compressed, spans, checkpoint, skip, length });
    } catch {
      result = undefined; // no worker could run: do it here
    }
    if (result?.ok === true) return { bytes: result.bytes, offloaded: true };
    if (result?.ok === false && result.kind === 'digest') throw options.verify!.mismatch(result.span);
    // An inflate failure falls through, to be redone here for inflateFrom's own DataLoss error.
  }
  if (options.verify !== undefined) {
    for (const [k, s] of spans.entries()) {
      const digest = createHash('sha256').update(compressed.subarray(s.start, s.end)).digest();
      if (!digest.equals(s.digest)) throw options.verify.mismatch(k);
    }
  }
  return { bytes: inflateFrom(checkpoint, compressed, skip, length, options.subject), offloaded: false };
}
