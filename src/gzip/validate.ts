/**
 * Checking an index against the truth: every checkpoint must resume to exactly the bytes a full
 * decompression produces there. Meant for tests and for `imagefs index --verify`-style tools.
 * @module
 */
import zlib from 'node:zlib';
import type { Checkpoint } from './checkpoint.js';
import { inflateFrom } from './inflate-from.js';

/**
 * Re-inflates from every checkpoint up to the next one (the last: to the end) and compares with a
 * full node:zlib decompression of `compressed`; also checks order and windows.
 *
 * @returns one line per problem; empty when the checkpoints are all correct.
 *
 * @example
 * ```ts
 * expect(validateCheckpoints(blob, index.checkpoints)).toEqual([]);
 * ```
 */
export function validateCheckpoints(compressed: Uint8Array, checkpoints: readonly Checkpoint[], truth?: Uint8Array): string[] {
  const problems: string[] = [];
  const full = truth ?? zlib.gunzipSync(compressed);
  checkpoints.forEach((cp, i) => {
    const next = checkpoints[i + 1];
    const end = next?.uncompressedOffset ?? full.length;
    if (next !== undefined && (next.uncompressedOffset <= cp.uncompressedOffset || next.compressedOffset < cp.compressedOffset)) {
      problems.push(`checkpoint ${i + 1} does not advance past checkpoint ${i}`);
    }
    if (cp.bitOffset < 0 || cp.bitOffset > 7 || (cp.memberStart === true && cp.bitOffset !== 0)) problems.push(`checkpoint ${i} has bit offset ${cp.bitOffset}`);
    const window = cp.window ?? new Uint8Array(0);
    if (window.length > 32768 || !Buffer.from(full.subarray(cp.uncompressedOffset - window.length, cp.uncompressedOffset)).equals(window)) {
      problems.push(`checkpoint ${i}: its window differs from the ${window.length} bytes before it`);
    }
    try {
      const got = inflateFrom(cp, compressed.subarray(cp.compressedOffset), 0, end - cp.uncompressedOffset);
      if (!Buffer.from(got).equals(full.subarray(cp.uncompressedOffset, end))) problems.push(`checkpoint ${i}: inflating from it gives other bytes`);
    } catch (error) {
      problems.push(`checkpoint ${i}: inflating from it fails: ${String(error)}`);
    }
  });
  return problems;
}
