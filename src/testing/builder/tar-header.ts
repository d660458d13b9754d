/**
 * A pure codec for tar header blocks: ustar and GNU 512-byte headers, PAX extended-header records.
 * No streams, no I/O: bytes in, bytes out. {@link writeTar} builds archives from these pieces.
 */
import { encodeRawName } from '../../tar/raw-name.js';

/** Size of a tar block in bytes. */
export const BLOCK_SIZE = 512;

/**
 * Tar type flags the builder writes: `0` file, `1` hardlink, `2` symlink, `3` char device,
 * `4` block device, `5` directory, `6` fifo, `x` PAX extended header, `g` PAX global header,
 * `L` GNU long name, `K` GNU long link name; for odd archives also `\0` (old file), `7`
 * (contiguous file), `S` (GNU old sparse file), `D` (GNU dumpdir), `V` (volume label) and `M`
 * (multi-volume continuation).
 */
export type TypeFlag = '0' | '1' | '2' | '3' | '4' | '5' | '6' | 'x' | 'g' | 'L' | 'K' | '\0' | '7' | 'S' | 'D' | 'V' | 'M';

/**
 * A name as the builder takes it: a string (UTF-8; lone surrogates U+DC80..U+DCFF stand for the
 * raw bytes 0x80..0xff, as `decodeRawName` gives them) or the exact bytes.
 */
export type RawName = string | Uint8Array;

/** The bytes of a {@link RawName}. */
export function rawNameBytes(name: RawName): Uint8Array {
  return typeof name === 'string' ? encodeRawName(name) : name;
}

/** The old GNU sparse fields of an `S` header: up to 4 map entries in the header itself. */
export interface GnuSparseHeader {
  /** The file's logical size (`realsize`, offset 483). */
  realSize: number;
  /** Flattened offset/length pairs, at most 4 pairs (offset 386). */
  entries: readonly number[];
  /** True when extension blocks ({@link encodeGnuSparseExtension}) follow the header (offset 482). */
  isExtended: boolean;
}

/** Which magic a header carries: POSIX ustar (`ustar\0` `00`) or GNU (`ustar ` ` \0`). */
export type HeaderFormat = 'ustar' | 'gnu';

/** The fields of one 512-byte header, already fitted to their widths by the caller. */
export interface HeaderFields {
  /** At most 100 bytes (longer names are cut; use PAX or GNU `L` for the full one). */
  name: RawName;
  /** ustar only: at most 155 bytes, joined to `name` with `/` by readers. */
  prefix?: RawName;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Whole seconds (negative ones are written base-256 in GNU format); fractions belong in a PAX `mtime` record. */
  mtime: number;
  /** GNU only: access time in whole seconds (offset 345). */
  atime?: number;
  /** GNU only: change time in whole seconds (offset 357). */
  ctime?: number;
  typeflag: TypeFlag;
  linkname?: RawName;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
  format: HeaderFormat;
  /** GNU `S` headers only: the old sparse map fields. */
  gnuSparse?: GnuSparseHeader;
}

const encoder = new TextEncoder();

/** The length of a name in bytes (UTF-8; raw-byte surrogates count one byte each). */
export function byteLength(text: RawName): number {
  return typeof text === 'string' ? encodeRawName(text).length : text.length;
}

/** True when `value` fits an octal field of `width` bytes (width-1 digits and a NUL). */
export function fitsOctal(value: number, width: number): boolean {
  return Number.isSafeInteger(value) && value >= 0 && value < 8 ** (width - 1);
}

function writeString(block: Uint8Array, offset: number, width: number, text: RawName | undefined): void {
  if (text === undefined || text.length === 0) return;
  const bytes = rawNameBytes(text);
  block.set(bytes.subarray(0, width), offset);
}

/**
 * Writes a numeric field: octal when it fits; in GNU format, base-256 when it does not (big-endian;
 * positive: first byte 0x80; negative: two's complement, first byte 0xff); otherwise 0 (the caller
 * then puts the true value in a PAX record).
 */
function writeNumber(block: Uint8Array, offset: number, width: number, value: number, format: HeaderFormat): void {
  if (fitsOctal(value, width)) {
    const digits = value.toString(8).padStart(width - 1, '0');
    writeString(block, offset, width - 1, digits);
    block[offset + width - 1] = 0;
    return;
  }
  if (format === 'gnu' && Number.isSafeInteger(value)) {
    writeBase256(block, offset, width, value);
    return;
  }
  writeString(block, offset, width - 1, '0'.repeat(width - 1));
}

/** Writes `value` base-256 (GNU): big-endian two's complement, the first byte 0x80 (positive) or 0xff (negative). */
export function writeBase256(block: Uint8Array, offset: number, width: number, value: number | bigint): void {
  let v = BigInt(value);
  for (let i = width - 1; i >= 1; i--) {
    block[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  block[offset] = v < 0n || BigInt(value) < 0n ? 0xff : 0x80;
}

/**
 * Encodes one 512-byte header with its checksum (computed over the block with the checksum field
 * read as eight spaces, written as six octal digits, NUL, space).
 *
 * @example
 * ```ts
 * const block = encodeHeader({ name: 'etc/', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0, typeflag: '5', format: 'ustar' });
 * ```
 */
export function encodeHeader(fields: HeaderFields): Uint8Array {
  const block = new Uint8Array(BLOCK_SIZE);
  const f = fields.format;
  writeString(block, 0, 100, fields.name);
  writeNumber(block, 100, 8, fields.mode, f);
  writeNumber(block, 108, 8, fields.uid, f);
  writeNumber(block, 116, 8, fields.gid, f);
  writeNumber(block, 124, 12, fields.size, f);
  writeNumber(block, 136, 12, fields.mtime, f);
  block.fill(0x20, 148, 156);
  if (f === 'gnu') {
    if (fields.atime !== undefined) writeNumber(block, 345, 12, fields.atime, f);
    if (fields.ctime !== undefined) writeNumber(block, 357, 12, fields.ctime, f);
    if (fields.gnuSparse) {
      const sp = fields.gnuSparse;
      if (sp.entries.length > 8) throw new TypeError('encodeHeader: a GNU sparse header holds at most 4 entries; put the rest in extension blocks');
      for (let i = 0; i < sp.entries.length; i++) writeNumber(block, 386 + i * 12, 12, sp.entries[i]!, f);
      block[482] = sp.isExtended ? 1 : 0;
      writeNumber(block, 483, 12, sp.realSize, f);
    }
  }
  block[156] = fields.typeflag.charCodeAt(0);
  writeString(block, 157, 100, fields.linkname);
  if (f === 'ustar') {
    writeString(block, 257, 6, 'ustar\0');
    writeString(block, 263, 2, '00');
  } else {
    writeString(block, 257, 8, 'ustar  \0');
  }
  writeString(block, 265, 32, fields.uname);
  writeString(block, 297, 32, fields.gname);
  const isDevice = fields.typeflag === '3' || fields.typeflag === '4';
  if (isDevice || fields.devmajor !== undefined) writeNumber(block, 329, 8, fields.devmajor ?? 0, f);
  if (isDevice || fields.devminor !== undefined) writeNumber(block, 337, 8, fields.devminor ?? 0, f);
  if (f === 'ustar') writeString(block, 345, 155, fields.prefix);
  const sum = headerChecksum(block);
  writeString(block, 148, 6, sum.toString(8).padStart(6, '0'));
  block[154] = 0;
  block[155] = 0x20;
  return block;
}

/**
 * One old GNU sparse extension block: up to 21 map entries (offset, length; 12 bytes each), then
 * the `isextended` flag at byte 504.
 *
 * @example
 * ```ts
 * encodeGnuSparseExtension([4096, 512, 8192, 512], false);
 * ```
 */
export function encodeGnuSparseExtension(entries: readonly number[], isExtended: boolean): Uint8Array {
  if (entries.length > 42) throw new TypeError('encodeGnuSparseExtension: at most 21 entries per block');
  const block = new Uint8Array(BLOCK_SIZE);
  for (let i = 0; i < entries.length; i++) writeNumber(block, i * 12, 12, entries[i]!, 'gnu');
  block[504] = isExtended ? 1 : 0;
  return block;
}

/** Recomputes and stores the checksum of a header block in place (after editing raw bytes). */
export function fixHeaderChecksum(block: Uint8Array): Uint8Array {
  block.fill(0x20, 148, 156);
  const sum = headerChecksum(block);
  writeString(block, 148, 6, sum.toString(8).padStart(6, '0'));
  block[154] = 0;
  block[155] = 0x20;
  return block;
}

/** The checksum of a header block: the sum of its bytes with the checksum field read as spaces. */
export function headerChecksum(block: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum;
}

/**
 * Splits a path into ustar `prefix` (<= 155 bytes) and `name` (<= 100 bytes) at a `/`, or returns
 * `undefined` when no split fits.
 */
export function splitUstarPath(path: string): { prefix: string; name: string } | undefined {
  if (byteLength(path) <= 100) return { prefix: '', name: path };
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== '/') continue;
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (byteLength(name) > 100) return undefined;
    if (byteLength(prefix) <= 155 && name !== '') return { prefix, name };
  }
  return undefined;
}

/**
 * Encodes PAX records (`"LEN KEY=VALUE\n"`, LEN counting the whole record in bytes). Values may be
 * binary (an xattr such as `security.capability`); they are written as given.
 *
 * @example
 * ```ts
 * encodePaxRecords([['path', 'a/very/long/name'], ['SCHILY.xattr.user.k', new Uint8Array([1, 0, 2])]]);
 * ```
 */
export function encodePaxRecords(records: ReadonlyArray<readonly [string, string | Uint8Array]>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [key, raw] of records) {
    if (key.includes('=') || key.includes('\n')) throw new TypeError(`PAX key '${key}' must not contain '=' or a newline`);
    const value = typeof raw === 'string' ? encodeRawName(raw) : raw;
    const body = byteLength(key) + value.length + 3;
    let len = body + String(body).length;
    if (String(len).length !== String(body).length) len = body + String(len).length;
    const head = concatBytes([encoder.encode(`${len} `), encodeRawName(key), encoder.encode('=')]);
    const rec = new Uint8Array(len);
    rec.set(head, 0);
    rec.set(value, head.length);
    rec[len - 1] = 0x0a;
    parts.push(rec);
  }
  return concatBytes(parts);
}

/** Formats seconds for a PAX time record: integer part, then up to nine fraction digits. */
export function formatPaxTime(seconds: number): string {
  let whole = Math.floor(seconds);
  let nanos = Math.round((seconds - whole) * 1e9);
  if (nanos >= 1e9) {
    whole += 1;
    nanos = 0;
  }
  if (nanos === 0) return String(whole);
  return `${whole}.${String(nanos).padStart(9, '0').replace(/0+$/, '')}`;
}

/**
 * Formats a time given in nanoseconds since the epoch as a PAX time record the way Go reads it:
 * `SEC.NNNNNNNNN` (nine digits); before the epoch `-SEC.NNNNNNNNN` with the fraction counting
 * backwards (`-1500000000n` → `-1.500000000`).
 *
 * @example
 * ```ts
 * formatPaxTimeNs(1_700_000_000_123_456_789n); // '1700000000.123456789'
 * ```
 */
export function formatPaxTimeNs(ns: bigint): string {
  const negative = ns < 0n;
  const abs = negative ? -ns : ns;
  const sec = abs / 1_000_000_000n;
  const nsec = abs % 1_000_000_000n;
  return `${negative ? '-' : ''}${sec}.${nsec.toString().padStart(9, '0')}`;
}

/** Concatenates byte arrays into one new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
