import type { EntryType } from '../../tar/entry.js';
import {
  BLOCK_SIZE,
  byteLength,
  concatBytes,
  encodeHeader,
  encodePaxRecords,
  fitsOctal,
  formatPaxTime,
  splitUstarPath,
  type HeaderFormat,
  type TypeFlag,
} from './tar-header.js';

/**
 * How a name longer than ustar's 100 bytes is written: `pax` (a PAX `path`/`linkpath` record),
 * `gnu` (a GNU `L`/`K` entry before the header), or `ustar` (split into prefix and name where a
 * split fits; PAX otherwise).
 */
export type LongNameStyle = 'pax' | 'gnu' | 'ustar';

/**
 * One tar entry as the builder writes it. Paths are relative (`etc/passwd`), without a trailing
 * slash; directories get theirs in the archive. This is the shape every helper of
 * `entries.ts` returns.
 */
export interface TarRecord {
  /** Relative path, normalised (`etc/passwd`). */
  path: string;
  /** The entry type; `hardlink` becomes tar type `1`. */
  type: EntryType;
  /** Permission and special bits (`0o7777`). */
  mode: number;
  /** Owner; beyond 2097151 a PAX `uid` record (ustar) or base-256 (GNU) carries it. */
  uid: number;
  /** Group; beyond 2097151 like `uid`. */
  gid: number;
  /** User name field (up to 32 bytes in the header, longer in PAX). */
  uname?: string;
  /** Group name field (up to 32 bytes in the header, longer in PAX). */
  gname?: string;
  /** Seconds since the epoch; a fraction is written as a PAX `mtime` record. */
  mtime: number;
  /** File content (files only). */
  data?: Uint8Array;
  /** Symlink target, or the path a hardlink points to. */
  linkTarget?: string;
  /** Device major number (char and block devices). */
  devMajor?: number;
  /** Device minor number (char and block devices). */
  devMinor?: number;
  /** Extended attributes, written as PAX `SCHILY.xattr.NAME` records (binary values allowed). */
  xattrs?: Record<string, Uint8Array>;
  /** How to write names longer than 100 bytes (default `pax`). */
  longName?: LongNameStyle;
  /** Extra PAX records to emit verbatim (for odd cases such as unknown keywords). */
  pax?: Record<string, string>;
}

const TYPEFLAG: Record<EntryType, TypeFlag> = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };

/** Options of {@link writeTar}. */
export interface WriteTarOptions {
  /**
   * Pad the archive (after the two zero blocks) to a multiple of this many bytes, as GNU tar does
   * with 10240. Default: no padding beyond the end-of-archive blocks.
   */
  recordSize?: number;
}

function padBlock(data: Uint8Array): Uint8Array[] {
  const rest = data.length % BLOCK_SIZE;
  return rest === 0 ? [data] : [data, new Uint8Array(BLOCK_SIZE - rest)];
}

function pseudoName(path: string, dir: string): string {
  const base = path.split('/').filter(Boolean).pop() ?? 'entry';
  const name = `${dir}/${base}`;
  return byteLength(name) <= 100 ? name : `${dir}/entry`;
}

/** Encodes one record (its PAX / GNU prefix entries, header and padded data) as tar blocks. */
export function encodeRecord(record: TarRecord): Uint8Array[] {
  const style = record.longName ?? 'pax';
  const format: HeaderFormat = style === 'gnu' ? 'gnu' : 'ustar';
  const isDir = record.type === 'dir';
  const fullName = isDir && !record.path.endsWith('/') ? `${record.path}/` : record.path;
  const link = record.linkTarget ?? '';
  const data = record.type === 'file' ? (record.data ?? new Uint8Array(0)) : new Uint8Array(0);
  const pax: Array<[string, string | Uint8Array]> = [];
  const blocks: Uint8Array[] = [];

  let name = fullName;
  let prefix = '';
  if (byteLength(fullName) > 100) {
    const split = style === 'ustar' ? splitUstarPath(fullName) : undefined;
    if (split) ({ name, prefix } = split);
    else if (style === 'gnu') blocks.push(...gnuLong('L', fullName));
    else pax.push(['path', fullName]);
    if (!split) name = cutBytes(fullName, 100);
  }
  let linkname = link;
  if (byteLength(link) > 100) {
    if (style === 'gnu') blocks.push(...gnuLong('K', link));
    else pax.push(['linkpath', link]);
    linkname = cutBytes(link, 100);
  }
  if (format === 'ustar') {
    if (!fitsOctal(record.uid, 8)) pax.push(['uid', String(record.uid)]);
    if (!fitsOctal(record.gid, 8)) pax.push(['gid', String(record.gid)]);
    if (!fitsOctal(data.length, 12)) pax.push(['size', String(data.length)]);
  }
  if (!Number.isInteger(record.mtime) || !fitsOctal(record.mtime, 12)) pax.push(['mtime', formatPaxTime(record.mtime)]);
  if (record.uname !== undefined && byteLength(record.uname) > 32) pax.push(['uname', record.uname]);
  if (record.gname !== undefined && byteLength(record.gname) > 32) pax.push(['gname', record.gname]);
  for (const [key, value] of Object.entries(record.pax ?? {})) pax.push([key, value]);
  for (const key of Object.keys(record.xattrs ?? {}).sort()) pax.push([`SCHILY.xattr.${key}`, record.xattrs![key]!]);

  if (pax.length > 0) {
    const body = encodePaxRecords(pax);
    const paxHeader = encodeHeader({
      name: pseudoName(fullName, 'PaxHeaders.0'),
      mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 0, typeflag: 'x', format: 'ustar',
    });
    blocks.unshift(paxHeader, ...padBlock(body));
  }
  blocks.push(
    encodeHeader({
      name,
      prefix,
      mode: record.mode & 0o7777,
      uid: record.uid,
      gid: record.gid,
      size: data.length,
      mtime: Math.max(0, Math.floor(record.mtime)),
      typeflag: TYPEFLAG[record.type],
      linkname,
      uname: record.uname,
      gname: record.gname,
      devmajor: record.devMajor,
      devminor: record.devMinor,
      format,
    }),
  );
  if (data.length > 0) blocks.push(...padBlock(data));
  return blocks;
}

function gnuLong(flag: 'L' | 'K', text: string): Uint8Array[] {
  const bytes = new TextEncoder().encode(`${text}\0`);
  const header = encodeHeader({ name: '././@LongLink', mode: 0o644, uid: 0, gid: 0, size: bytes.length, mtime: 0, typeflag: flag, format: 'gnu' });
  return [header, ...padBlock(bytes)];
}

function cutBytes(text: string, max: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= max) return text;
  // Cut on a character boundary so the field stays valid UTF-8.
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(bytes.subarray(0, end));
}

/**
 * Writes a complete tar archive: each record's headers and data in order, then two zero blocks.
 * Deterministic: the same records give the same bytes.
 *
 * @example
 * ```ts
 * const tar = writeTar([dir('etc'), file('etc/hostname', 'box\n')]);
 * ```
 */
export function writeTar(records: readonly TarRecord[], options: WriteTarOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const r of records) parts.push(...encodeRecord(r));
  parts.push(new Uint8Array(2 * BLOCK_SIZE));
  let out = concatBytes(parts);
  const rs = options.recordSize;
  if (rs !== undefined) {
    if (!Number.isSafeInteger(rs) || rs <= 0 || rs % BLOCK_SIZE !== 0) throw new TypeError(`writeTar: recordSize must be a positive multiple of 512, got ${rs}`);
    const rest = out.length % rs;
    if (rest !== 0) out = concatBytes([out, new Uint8Array(rs - rest)]);
  }
  return out;
}
