/**
 * The gzip member framing (RFC 1952) around a raw deflate stream: the header (magic, method,
 * flags and the optional FEXTRA, FNAME, FCOMMENT, FHCRC fields) and the 8-byte trailer (CRC32 and
 * ISIZE, little-endian).
 * @module
 */
import { crc32 } from './crc32.js';

const FTEXT = 1;
const FHCRC = 2;
const FEXTRA = 4;
const FNAME = 8;
const FCOMMENT = 16;

/** Size of the gzip trailer: CRC32 then ISIZE (uncompressed size mod 2^32), little-endian. */
export const GZIP_TRAILER_SIZE = 8;

/** The outcome of {@link parseGzipHeader}. */
export type GzipHeaderResult =
  | { status: 'ok'; /** Header length in bytes. */ length: number }
  | { status: 'incomplete' }
  | { status: 'invalid'; /** What is wrong. */ reason: string };

/**
 * Parses the gzip member header at `bytes[offset]`. Returns its length, `incomplete` when more
 * bytes are needed, or `invalid` with the reason.
 *
 * @example
 * ```ts
 * const h = parseGzipHeader(blob, 0); // { status: 'ok', length: 10 }
 * ```
 */
export function parseGzipHeader(bytes: Uint8Array, offset = 0, end = bytes.length): GzipHeaderResult {
  const avail = end - offset;
  const at = (i: number): number => bytes[offset + i] as number;
  if (avail >= 1 && at(0) !== 0x1f) return { status: 'invalid', reason: 'not a gzip member (bad magic)' };
  if (avail >= 2 && at(1) !== 0x8b) return { status: 'invalid', reason: 'not a gzip member (bad magic)' };
  if (avail >= 3 && at(2) !== 8) return { status: 'invalid', reason: `unsupported gzip compression method ${at(2)}` };
  if (avail < 10) return { status: 'incomplete' };
  const flags = at(3);
  if ((flags & ~(FTEXT | FHCRC | FEXTRA | FNAME | FCOMMENT)) !== 0) return { status: 'invalid', reason: 'reserved gzip header flags are set' };
  let pos = 10;
  if (flags & FEXTRA) {
    if (avail < pos + 2) return { status: 'incomplete' };
    pos += 2 + (at(pos) | (at(pos + 1) << 8));
    if (avail < pos) return { status: 'incomplete' };
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (flags & flag) {
      while (pos < avail && at(pos) !== 0) pos++;
      if (pos >= avail) return { status: 'incomplete' };
      pos++;
    }
  }
  if (flags & FHCRC) {
    if (avail < pos + 2) return { status: 'incomplete' };
    const expected = at(pos) | (at(pos + 1) << 8);
    const actual = crc32(bytes.subarray(offset, offset + pos)) & 0xffff;
    if (expected !== actual) return { status: 'invalid', reason: 'gzip header CRC16 mismatch' };
    pos += 2;
  }
  return { status: 'ok', length: pos };
}

/** Reads the trailer at `bytes[offset]`: the member's CRC32 and ISIZE. */
export function readGzipTrailer(bytes: Uint8Array, offset: number): { crc: number; isize: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, GZIP_TRAILER_SIZE);
  return { crc: view.getUint32(0, true), isize: view.getUint32(4, true) };
}
