/**
 * Finding the bit offset of a block boundary by trial.
 *
 * When `inflate(Z_BLOCK)` returns at a block boundary, zlib has consumed `C` bytes and still holds
 * 0-7 unused bits of the last one; that count is `strm.data_type & 7`, which node:zlib does not
 * expose. So the boundary is at one of 8 places: bit 0 of byte C, or bit `8 - u` of byte C-1 for
 * u in 1..7. We resume a fresh raw inflater (window as dictionary, {@link primeInput} for the bit)
 * at each and keep the one whose first output equals the bytes the main inflater actually
 * produced there. A wrong start fails with a zlib error or decodes different bytes, with one
 * exception: stored blocks. Their 3-bit header (BFINAL, BTYPE=00) is followed by zero padding to
 * the next byte, so a start a few bits later also reads "stored", aligns to the same byte and
 * decodes the same bytes; only BFINAL can differ, read from a padding bit (0) instead of the real
 * one. So candidates are tried from the LATEST position down (bit 0 of byte C, then bits 7..1 of
 * byte C-1) and the first match is taken: a later match reads BFINAL=0, which is right as long as
 * the block is not final, and the index builder never checkpoints before a final block. (Trying
 * the earliest first would be wrong: bits of the previous block's tail may read as BFINAL=1.)
 * If none matches, the boundary is simply not used as a checkpoint.
 * @module
 */
import zlib from 'node:zlib';
import { primeInput, resumeOffset } from './bit-prefix.js';
import { createInflater, type Inflater } from './inflater.js';
import { InflateDataError } from './native-inflate.js';

/** A boundary position: the byte holding the block's first bit and the bit within it. */
export interface BitPosition {
  /** Absolute compressed offset of the byte holding the first bit. */
  compressedOffset: number;
  /** Bit 0-7 (LSB first) of that byte. */
  bitOffset: number;
}

/**
 * Decodes `truth.length` bytes starting at bit `bitOffset` of `bytes[offset]` with `window` as
 * history and says whether they equal `truth`.
 */
export function decodesTo(bytes: Uint8Array, offset: number, bitOffset: number, window: Uint8Array, truth: Uint8Array): boolean {
  const inflater = createInflater(window);
  try {
    return decodesWith(inflater, bytes, offset, bitOffset, truth);
  } finally {
    inflater.close();
  }
}

/** {@link decodesTo} on a given inflater (already holding the window), which it resets first. */
function decodesWith(inflater: Inflater, bytes: Uint8Array, offset: number, bitOffset: number, truth: Uint8Array): boolean {
  inflater.reset();
  const out = new Uint8Array(truth.length);
  let produced = 0;
  try {
    const primer = primeInput(bytes, offset, bitOffset);
    if (primer.length > 0) produced += inflater.write(zlib.constants.Z_NO_FLUSH, primer, 0, primer.length, out, 0, out.length).produced;
    const from = resumeOffset(offset, bitOffset);
    if (from < bytes.length && produced < out.length) {
      produced += inflater.write(zlib.constants.Z_SYNC_FLUSH, bytes, from, bytes.length - from, out, produced, out.length - produced).produced;
    }
  } catch (error) {
    if (error instanceof InflateDataError) return false;
    throw error;
  }
  return produced === truth.length && Buffer.from(out.buffer, out.byteOffset, out.length).equals(truth);
}

/**
 * Finds where the block that starts after `consumed` compressed bytes really begins.
 *
 * @param bytes - compressed bytes from absolute offset `base` (must include `consumed - 1`
 *   unless `consumed === base`), reaching far enough to produce `truth`.
 * @param base - absolute compressed offset of `bytes[0]`.
 * @param consumed - how many compressed bytes zlib had consumed when it stopped at the boundary.
 * @param window - the history before the boundary (at most 32 KiB).
 * @param truth - the first uncompressed bytes after the boundary (non-empty).
 * @returns the first matching position, or `undefined` when none matches.
 */
export function findBitOffset(bytes: Uint8Array, base: number, consumed: number, window: Uint8Array, truth: Uint8Array): BitPosition | undefined {
  const inflater = createInflater(window);
  try {
    for (let unused = 0; unused < 8; unused++) {
      const byte = unused === 0 ? consumed : consumed - 1;
      if (byte < base || byte >= base + bytes.length) continue;
      const bitOffset = (8 - unused) & 7;
      if (decodesWith(inflater, bytes, byte - base, bitOffset, truth)) return { compressedOffset: byte, bitOffset };
    }
    return undefined;
  } finally {
    inflater.close();
  }
}
