/**
 * Inflating from a checkpoint: resume at its bit with its window, or start a fresh member, and
 * follow the stream across member ends until the requested bytes are out.
 * @module
 */
import zlib from 'node:zlib';
import { dataLoss } from '../errors/image-fs-error.js';
import { primeInput, resumeOffset } from './bit-prefix.js';
import type { Checkpoint } from './checkpoint.js';
import { GZIP_TRAILER_SIZE, parseGzipHeader } from './gzip-member.js';
import { createInflater, type Inflater } from './inflater.js';
import { InflateDataError } from './native-inflate.js';

const SCRATCH_SIZE = 64 * 1024;

/**
 * Returns `length` uncompressed bytes starting `skip` bytes after `checkpoint`.
 *
 * @param checkpoint - where to start.
 * @param compressed - the compressed blob from `checkpoint.compressedOffset` on, long enough to
 *   produce `skip + length` bytes (a verified span range, or the whole rest of the blob).
 * @param skip - uncompressed bytes to decode and discard first.
 * @param length - uncompressed bytes to return.
 * @param subject - names the blob in error messages.
 * @throws ImageError `DataLoss` when the bytes are corrupt or end too early.
 *
 * @example
 * ```ts
 * const bytes = inflateFrom(cp, blob.subarray(cp.compressedOffset), a - cp.uncompressedOffset, 4096);
 * ```
 */
export function inflateFrom(checkpoint: Checkpoint, compressed: Uint8Array, skip: number, length: number, subject?: string): Uint8Array {
  const result = new Uint8Array(length);
  if (length === 0) return result;
  const base = checkpoint.compressedOffset;
  const fail = (what: string, cause?: unknown): Error =>
    dataLoss(`cannot inflate${subject === undefined ? '' : ` ${subject}`} from compressed offset ${base}: ${what}`, {
      cause,
      ...(subject === undefined ? {} : { subject }),
      hint: 'the blob or its index is corrupt: fetch the layer again or rebuild the index',
    });
  const scratch = skip > 0 ? new Uint8Array(Math.min(SCRATCH_SIZE, skip)) : result;
  let skipped = 0;
  let filled = 0;
  // The output target of the next write: the scratch while skipping, then the result.
  const target = (): { out: Uint8Array; off: number; len: number } =>
    skipped < skip ? { out: scratch, off: 0, len: Math.min(scratch.length, skip - skipped) } : { out: result, off: filled, len: length - filled };
  const account = (produced: number): void => {
    if (skipped < skip) skipped += produced;
    else filled += produced;
  };

  let pos: number;
  let inflater: Inflater;
  if (checkpoint.memberStart === true) {
    pos = 0;
    inflater = startMember();
  } else {
    inflater = createInflater(checkpoint.window);
    const primer = primeInput(compressed, 0, checkpoint.bitOffset);
    if (primer.length > 0) {
      const t = target();
      account(write(primer, 0, primer.length, t).produced);
    }
    pos = resumeOffset(0, checkpoint.bitOffset);
  }

  function startMember(): Inflater {
    const header = parseGzipHeader(compressed, pos);
    if (header.status !== 'ok') throw fail(header.status === 'invalid' ? header.reason : 'a gzip member header is cut short');
    pos += header.length;
    return createInflater();
  }

  function write(input: Uint8Array, off: number, len: number, t: { out: Uint8Array; off: number; len: number }) {
    try {
      return inflater.write(zlib.constants.Z_NO_FLUSH, input, off, len, t.out, t.off, t.len);
    } catch (error) {
      if (error instanceof InflateDataError) throw fail(`corrupt deflate data (${error.message})`, error);
      throw error;
    }
  }

  try {
    while (filled < length) {
      if (pos >= compressed.length) throw fail(`the compressed bytes end after ${skipped + filled} of ${skip + length} bytes`);
      const t = target();
      const step = write(compressed, pos, compressed.length - pos, t);
      pos += step.consumed;
      account(step.produced);
      if (step.availIn > 0 && step.availOut > 0) {
        // The member's final block has ended: skip its trailer and any padding, open the next member.
        inflater.close();
        pos += GZIP_TRAILER_SIZE;
        inflater = startMember();
      }
    }
  } finally {
    inflater.close();
  }
  return result;
}
