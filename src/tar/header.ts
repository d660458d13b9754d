import { dataLoss } from '../errors/image-fs-error.js';
import { decodeRawName } from './raw-name.js';

/** Size of a tar block (header or data record) in bytes. */
export const BLOCK_SIZE = 512;

/**
 * The header flavour a block was written in, told by its magic as Go's archive/tar tells it:
 * `ustar` (`"ustar\0"` at 257, any version: POSIX ustar and PAX), `star` (ustar magic and
 * `"tar\0"` at 508), `gnu` (`"ustar "` and version `" \0"`), else `v7`.
 */
export type HeaderFormat = 'ustar' | 'gnu' | 'star' | 'v7';

/**
 * The fields of one 512-byte tar header, decoded but not interpreted: no PAX or GNU long-name
 * overrides, no path normalisation, the raw type flag. Names hold the exact bytes (see
 * `raw-name.ts`).
 */
export interface RawHeader {
  /** Name, with the ustar / star `prefix` joined in front with `/`. */
  name: string;
  /** Mode bits as stored (not masked). */
  mode: number;
  uid: number;
  gid: number;
  /** The size field (stored data bytes). May be negative (base-256); the parser refuses that where Go does. */
  size: number;
  /** Modification time in whole seconds (negative before 1970, base-256). */
  mtime: number;
  /** Access time in whole seconds: GNU headers (when the field is set) and star headers. */
  atime?: number;
  /** Change time in whole seconds: GNU headers (when the field is set) and star headers. */
  ctime?: number;
  /** The type flag character; `'\0'` for old files. */
  typeflag: string;
  linkname: string;
  uname: string;
  gname: string;
  devMajor: number;
  devMinor: number;
  format: HeaderFormat;
  /** GNU old sparse (`'S'` in a GNU header) only: the file's logical size. */
  gnuRealSize?: number;
  /** GNU old sparse only: true when sparse extension blocks follow the header. */
  gnuIsExtended?: boolean;
  /** GNU old sparse only: the header's sparse map (flattened offset/length pairs, up to 4). */
  gnuSparse?: number[];
}

const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** End of a NUL-terminated field. */
function fieldEnd(block: Uint8Array, start: number, length: number): number {
  let end = start;
  const limit = Math.min(start + length, block.length);
  while (end < limit && block[end] !== 0) end++;
  return end;
}

/** Decodes a NUL-terminated string field as UTF-8 (invalid bytes become U+FFFD): user and group names. */
export function decodeString(block: Uint8Array, start: number, length: number): string {
  return decoder.decode(block.subarray(start, fieldEnd(block, start, length)));
}

/** Decodes a NUL-terminated name field keeping its exact bytes (see {@link decodeRawName}). */
export function decodeRawString(block: Uint8Array, start: number, length: number): string {
  return decodeRawName(block.subarray(start, fieldEnd(block, start, length)));
}

/**
 * Decodes a numeric field as Go's archive/tar `parseNumeric` does: when the first byte has bit
 * 0x80 set, GNU base-256 (big-endian, the rest of the first byte's bits included; bit 0x40 makes
 * it negative, two's complement); otherwise octal ({@link decodeOctal}). Returns `NaN` when the
 * field is malformed, overflows int64, or exceeds what a JavaScript number holds exactly
 * (`Number.MAX_SAFE_INTEGER`).
 */
export function decodeNumber(block: Uint8Array, start: number, length: number): number {
  const first = block[start]!;
  if ((first & 0x80) === 0) return decodeOctal(block, start, length);
  const inv = first & 0x40 ? 0xff : 0;
  let x = 0n;
  for (let i = 0; i < length; i++) {
    let c = block[start + i]! ^ inv;
    if (i === 0) c &= 0x7f;
    if (x >> 56n > 0n) return Number.NaN;
    x = (x << 8n) | BigInt(c);
  }
  if (x >> 63n > 0n) return Number.NaN;
  const value = inv ? -x - 1n : x;
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) return Number.NaN;
  return Number(value);
}

/**
 * Decodes an octal field as Go's `parseOctal` does: spaces and NULs trimmed at both ends, the
 * rest cut at its first NUL, then nothing but octal digits (an empty field is 0). Returns `NaN`
 * when malformed or beyond `Number.MAX_SAFE_INTEGER`.
 */
export function decodeOctal(block: Uint8Array, start: number, length: number): number {
  let i = start;
  let end = start + length;
  const isPad = (c: number | undefined): boolean => c === 0x20 || c === 0;
  while (i < end && isPad(block[i])) i++;
  while (end > i && isPad(block[end - 1])) end--;
  let value = 0;
  for (; i < end; i++) {
    const c = block[i]!;
    if (c === 0) break;
    if (c < 0x30 || c > 0x37) return Number.NaN;
    value = value * 8 + (c - 0x30);
  }
  return value > Number.MAX_SAFE_INTEGER ? Number.NaN : value;
}

/** True when all 512 bytes of the block are zero (an end-of-archive block). */
export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK_SIZE; i++) if (block[i] !== 0) return false;
  return true;
}

/**
 * The checksums of a header: the unsigned and the signed sum of its bytes with the checksum
 * field counted as eight spaces. Historic writers used either, so readers accept both.
 */
export function headerChecksums(block: Uint8Array): { unsigned: number; signed: number } {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += byte;
    signed += byte >= 0x80 ? byte - 256 : byte;
  }
  return { unsigned, signed };
}

/** Tells the header flavour from the magic at offset 257 and the star trailer at 508. */
export function headerFormat(block: Uint8Array): HeaderFormat {
  const u = block[257] === 0x75 && block[258] === 0x73 && block[259] === 0x74 && block[260] === 0x61 && block[261] === 0x72;
  if (!u) return 'v7';
  if (block[262] === 0) {
    const star = block[508] === 0x74 && block[509] === 0x61 && block[510] === 0x72 && block[511] === 0;
    return star ? 'star' : 'ustar';
  }
  if (block[262] === 0x20 && block[263] === 0x20 && block[264] === 0) return 'gnu';
  return 'v7';
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}

/**
 * Decodes one 512-byte header block as Go's archive/tar `readHeader` does, verifying its checksum.
 *
 * - Numbers: octal or base-256 ({@link decodeNumber}); a malformed one is an error.
 * - Names and link names: cut at the first NUL, exact bytes ({@link decodeRawString}); ustar and
 *   star headers join their prefix (155 and 131 bytes at 345) with `/`.
 * - GNU headers: atime (345) and ctime (357) when their first byte is not NUL. When they do not
 *   parse, the header is one written by Go before 1.8 with a ustar prefix there: the times are
 *   dropped and the field is used as a prefix when it is ASCII (Go's fallback).
 * - star headers: atime (476) and ctime (488).
 * - v7 headers: no user/group names, no device numbers.
 * - GNU `'S'` headers: the real size, the extension flag and the header's sparse map.
 *
 * @param block - exactly 512 bytes (a longer array is read from its start).
 * @param offset - the block's offset in the stream, for error messages.
 * @throws ImageError `DataLoss` when the checksum or a numeric field is wrong.
 *
 * @example
 * ```ts
 * const h = decodeHeader(bytes.subarray(0, 512), 0);
 * h.name; h.size; h.typeflag;
 * ```
 */
export function decodeHeader(block: Uint8Array, offset: number, subject?: string): RawHeader {
  if (block.length < BLOCK_SIZE) throw dataLoss(`tar header at offset ${offset} is shorter than 512 bytes`, { subject });
  const stored = decodeOctal(block, 148, 8);
  const sums = headerChecksums(block);
  if (Number.isNaN(stored) || (stored !== sums.unsigned && stored !== sums.signed)) {
    throw dataLoss(
      `tar header at offset ${offset} has a bad checksum (stored ${Number.isNaN(stored) ? 'unreadable' : stored}, ` +
        `computed ${sums.unsigned}); the layer is corrupt or not a tar stream`,
      { subject, hint: 'Check the layer blob against its digest; it may be damaged or not a tar archive.' },
    );
  }
  const format = headerFormat(block);
  let name = decodeRawString(block, 0, 100);
  const field = (label: string, start: number, length: number): number => {
    const value = decodeNumber(block, start, length);
    if (Number.isNaN(value)) {
      throw dataLoss(
        `tar header of '${name}' at offset ${offset} has a malformed or too large ${label} field ` +
          `(bytes ${start}..${start + length - 1})`,
        { subject },
      );
    }
    return value;
  };
  const typeflag = String.fromCharCode(block[156]!);
  const header: RawHeader = {
    name,
    mode: field('mode', 100, 8),
    uid: field('uid', 108, 8),
    gid: field('gid', 116, 8),
    size: field('size', 124, 12),
    mtime: field('mtime', 136, 12),
    typeflag,
    linkname: decodeRawString(block, 157, 100),
    uname: '',
    gname: '',
    devMajor: 0,
    devMinor: 0,
    format,
  };
  if (format === 'v7') return header;
  header.uname = decodeString(block, 265, 32);
  header.gname = decodeString(block, 297, 32);
  header.devMajor = field('devmajor', 329, 8);
  header.devMinor = field('devminor', 337, 8);
  let prefix = '';
  if (format === 'ustar') {
    prefix = decodeRawString(block, 345, 155);
  } else if (format === 'star') {
    prefix = decodeRawString(block, 345, 131);
    header.atime = field('atime', 476, 12);
    header.ctime = field('ctime', 488, 12);
  } else {
    const atime = block[345] !== 0 ? decodeNumber(block, 345, 12) : undefined;
    const ctime = block[357] !== 0 ? decodeNumber(block, 357, 12) : undefined;
    if (Number.isNaN(atime) || Number.isNaN(ctime)) {
      const legacy = decodeRawString(block, 345, 155);
      if (isAscii(legacy)) prefix = legacy;
    } else {
      if (atime !== undefined) header.atime = atime;
      if (ctime !== undefined) header.ctime = ctime;
    }
    if (typeflag === 'S') {
      header.gnuSparse = [];
      const bad = readOldGnuSparseHeader(block, header.gnuSparse);
      if (bad) throw dataLoss(`tar header of GNU sparse file '${name}' at offset ${offset}: ${bad}`, { subject });
      header.gnuIsExtended = block[482] !== 0;
      header.gnuRealSize = field('realsize', 483, 12);
    }
  }
  if (prefix.length > 0) header.name = name = `${prefix}/${name}`;
  return header;
}

/** The 4 sparse descriptors of an old GNU header (at 386), stopping at the first empty one. */
function readOldGnuSparseHeader(block: Uint8Array, out: number[]): string | undefined {
  for (let i = 0; i < 4; i++) {
    const at = 386 + i * 24;
    if (block[at] === 0) break;
    const o = decodeNumber(block, at, 12);
    const l = decodeNumber(block, at + 12, 12);
    if (Number.isNaN(o) || Number.isNaN(l)) return `sparse descriptor ${i} is malformed`;
    out.push(o, l);
  }
  return undefined;
}

/** Number of bytes from `size` up to the next multiple of 512. */
export function padding(size: number): number {
  const rest = size % BLOCK_SIZE;
  return rest <= 0 ? 0 : BLOCK_SIZE - rest;
}
