import { dataLoss } from '../errors/image-fs-error.js';

/** Size of a tar block (header or data record) in bytes. */
export const BLOCK_SIZE = 512;

/** The header flavour a block was written in, told by its magic. */
export type HeaderFormat = 'ustar' | 'gnu' | 'v7';

/**
 * The fields of one 512-byte tar header, decoded but not interpreted: no PAX or GNU long-name
 * overrides, no path normalisation, the raw type flag.
 */
export interface RawHeader {
  /** Name, with the ustar `prefix` joined in front when the header is POSIX ustar. */
  name: string;
  /** Mode bits as stored (not masked). */
  mode: number;
  uid: number;
  gid: number;
  /** The size field (stored data bytes). */
  size: number;
  /** Modification time in seconds. */
  mtime: number;
  /** The type flag character; `'\0'` for old files. */
  typeflag: string;
  linkname: string;
  uname: string;
  gname: string;
  devMajor: number;
  devMinor: number;
  format: HeaderFormat;
  /** GNU old sparse (`'S'`) headers only: the file's logical size. */
  gnuRealSize?: number;
  /** GNU old sparse (`'S'`) headers only: true when sparse extension blocks follow the header. */
  gnuIsExtended?: boolean;
}

const decoder = new TextDecoder('utf-8');

/** Decodes a NUL-terminated string field. */
export function decodeString(block: Uint8Array, start: number, length: number): string {
  let end = start;
  const limit = start + length;
  while (end < limit && block[end] !== 0) end++;
  return decoder.decode(block.subarray(start, end));
}

/**
 * Decodes a numeric field: octal (ASCII, padded with spaces or NULs) or GNU base-256 (first byte
 * 0x80 for positive, 0xff for negative two's complement). Returns `NaN` when the field is
 * malformed or the value exceeds `Number.MAX_SAFE_INTEGER`.
 */
export function decodeNumber(block: Uint8Array, start: number, length: number): number {
  const first = block[start]!;
  if (first & 0x80) {
    const negative = first === 0xff;
    let value = 0;
    for (let i = 0; i < length; i++) {
      let byte = block[start + i]!;
      if (i === 0) byte &= 0x7f;
      if (negative) byte = ~block[start + i]! & 0xff;
      value = value * 256 + byte;
      if (value > Number.MAX_SAFE_INTEGER) return Number.NaN;
    }
    return negative ? -(value + 1) : value;
  }
  let i = start;
  const end = start + length;
  while (i < end && (block[i] === 0x20 || block[i] === 0)) i++;
  let value = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = block[i]!;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) return Number.NaN;
    value = value * 8 + (c - 0x30);
    digits++;
  }
  for (; i < end; i++) if (block[i] !== 0x20 && block[i] !== 0) return Number.NaN;
  if (value > Number.MAX_SAFE_INTEGER) return Number.NaN;
  return digits === 0 ? 0 : value;
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

/**
 * Decodes one 512-byte header block (ustar, GNU or v7), verifying its checksum.
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
  const stored = decodeNumber(block, 148, 8);
  const sums = headerChecksums(block);
  if (Number.isNaN(stored) || (stored !== sums.unsigned && stored !== sums.signed)) {
    throw dataLoss(
      `tar header at offset ${offset} has a bad checksum (stored ${Number.isNaN(stored) ? 'unreadable' : stored}, ` +
        `computed ${sums.unsigned}); the layer is corrupt or not a tar stream`,
      { subject, hint: 'Check the layer blob against its digest; it may be damaged or not a tar archive.' },
    );
  }
  const magic = decodeMagic(block);
  const field = (name: string, start: number, length: number): number => {
    const value = decodeNumber(block, start, length);
    if (Number.isNaN(value)) throw dataLoss(`tar header at offset ${offset} has a malformed ${name} field`, { subject });
    return value;
  };
  let name = decodeString(block, 0, 100);
  if (magic === 'ustar') {
    const prefix = decodeString(block, 345, 155);
    if (prefix.length > 0) name = `${prefix}/${name}`;
  }
  const typeflag = String.fromCharCode(block[156]!);
  const header: RawHeader = {
    name,
    mode: field('mode', 100, 8),
    uid: field('uid', 108, 8),
    gid: field('gid', 116, 8),
    size: field('size', 124, 12),
    mtime: field('mtime', 136, 12),
    typeflag,
    linkname: decodeString(block, 157, 100),
    uname: magic === 'v7' ? '' : decodeString(block, 265, 32),
    gname: magic === 'v7' ? '' : decodeString(block, 297, 32),
    devMajor: magic === 'v7' ? 0 : field('devmajor', 329, 8),
    devMinor: magic === 'v7' ? 0 : field('devminor', 337, 8),
    format: magic,
  };
  if (header.size < 0) throw dataLoss(`tar header at offset ${offset} has a negative size`, { subject });
  if (magic === 'gnu' && typeflag === 'S') {
    header.gnuIsExtended = block[482] !== 0;
    header.gnuRealSize = field('realsize', 483, 12);
  }
  return header;
}

/** Tells the header flavour from the magic at offset 257. */
function decodeMagic(block: Uint8Array): HeaderFormat {
  const u = block[257] === 0x75 && block[258] === 0x73 && block[259] === 0x74 && block[260] === 0x61 && block[261] === 0x72;
  if (!u) return 'v7';
  if (block[262] === 0) return 'ustar';
  if (block[262] === 0x20) return 'gnu';
  return 'v7';
}

/** Number of bytes from `size` up to the next multiple of 512. */
export function padding(size: number): number {
  const rest = size % BLOCK_SIZE;
  return rest === 0 ? 0 : BLOCK_SIZE - rest;
}
