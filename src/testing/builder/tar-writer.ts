import type { EntryType } from '../../tar/entry.js';
import { decodeRawName } from '../../tar/raw-name.js';
import {
  BLOCK_SIZE,
  byteLength,
  concatBytes,
  encodeGnuSparseExtension,
  encodeHeader,
  encodePaxRecords,
  fitsOctal,
  formatPaxTime,
  formatPaxTimeNs,
  rawNameBytes,
  splitUstarPath,
  type HeaderFormat,
  type RawName,
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
  /** Relative path, normalised (`etc/passwd`); raw bytes as lone surrogates (see `decodeRawName`). */
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
  /** Seconds since the epoch; a fraction is written as a PAX `mtime` record. Ignored when `mtimeNs` is set. */
  mtime: number;
  /** Exact modification time in nanoseconds since the epoch: written as PAX `mtime=SEC.NNNNNNNNN`
   * (GNU format: whole seconds in the header, base-256 when negative, PAX only for a fraction). */
  mtimeNs?: bigint;
  /** Access time in nanoseconds since the epoch: PAX `atime` (GNU format: the header's atime field, PAX for a fraction). */
  atimeNs?: bigint;
  /** Change time in nanoseconds since the epoch: PAX `ctime` (GNU format: the header's ctime field, PAX for a fraction). */
  ctimeNs?: bigint;
  /** Header format, overriding the one `longName` implies (`gnu` for `longName: 'gnu'`, else `ustar`). */
  format?: HeaderFormat;
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
  /** Extra PAX records to emit verbatim (for odd cases such as unknown keywords), after the builder's own. */
  pax?: Record<string, string | Uint8Array>;
  /** A GNU sparse file (type `file`): `data` is ignored, the file is written in the given sparse format. */
  sparse?: SparseSpec;
}

/**
 * How GNU tar writes sparse files: `gnu-old` (type `S` in a GNU header, map in the header and
 * extension blocks), `pax-0.0` (PAX `GNU.sparse.offset`/`numbytes` records, repeated), `pax-0.1`
 * (PAX `GNU.sparse.map`), `pax-1.0` (map at the start of the data, real name in `GNU.sparse.name`).
 */
export type SparseFormatName = 'gnu-old' | 'pax-0.0' | 'pax-0.1' | 'pax-1.0';

/**
 * A sparse file's layout: its logical size and its data segments; everything else is a hole.
 * The stored data is the segments one after another (as Go reads it). GNU tar reads each segment
 * from a new 512-byte block, so for archives GNU tar must read identically, make every segment
 * but the last a multiple of 512 bytes long (GNU tar's own archives always are). As GNU tar does,
 * the map gets a final empty segment `[size, 0]` when the file ends in a hole.
 */
export interface SparseSpec {
  /** Logical size in bytes. */
  size: number;
  /** Data segments `[offset, bytes]`, in order, not overlapping, within `size`. */
  segments: ReadonlyArray<readonly [number, Uint8Array]>;
  /** How the archive describes it. */
  format: SparseFormatName;
}


/** Options of {@link writeTar}. */
export interface WriteTarOptions {
  /**
   * Pad the archive (after the two zero blocks) to a multiple of this many bytes, as GNU tar does
   * with 10240. Default: no padding beyond the end-of-archive blocks.
   */
  recordSize?: number;
  /** Zero blocks written after the last entry: default 2 (0 or 1 make archives readers must judge). */
  endBlocks?: number;
}

const TYPEFLAG: Record<EntryType, TypeFlag> = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };

function padBlock(data: Uint8Array): Uint8Array[] {
  const rest = data.length % BLOCK_SIZE;
  return rest === 0 ? [data] : [data, new Uint8Array(BLOCK_SIZE - rest)];
}

function pseudoName(path: string, dir: string): string {
  const base = path.split('/').filter(Boolean).pop() ?? 'entry';
  const name = `${dir}/${base}`;
  return byteLength(name) <= 100 ? name : `${dir}/entry`;
}

/** Whole seconds (floor) and nanoseconds of a time in nanoseconds since the epoch. */
function splitNs(ns: bigint): { sec: number; nsec: number } {
  let sec = ns / 1_000_000_000n;
  if (ns < 0n && ns % 1_000_000_000n !== 0n) sec -= 1n;
  return { sec: Number(sec), nsec: Number(ns - sec * 1_000_000_000n) };
}

/** The stored bytes, the flattened map and the extra parts of a sparse file in its format. */
function sparseParts(spec: SparseSpec, fullName: string) {
  const map = spec.segments.flatMap(([o, b]) => [o, b.length]);
  // As GNU tar: a file that ends in a hole ends its map with an empty segment at its size.
  const last = spec.segments[spec.segments.length - 1];
  if (!last || last[0] + last[1].length < spec.size) map.push(spec.size, 0);
  const stored = concatBytes(spec.segments.map(([, b]) => b));
  const count = String(map.length / 2);
  const pax: Array<[string, string | Uint8Array]> = [];
  let data = stored;
  let headerName: string | undefined;
  switch (spec.format) {
    case 'gnu-old':
      break;
    case 'pax-0.0':
      pax.push(['GNU.sparse.size', String(spec.size)], ['GNU.sparse.numblocks', count]);
      for (let i = 0; i < map.length; i += 2) pax.push(['GNU.sparse.offset', String(map[i])], ['GNU.sparse.numbytes', String(map[i + 1])]);
      break;
    case 'pax-0.1':
      pax.push(['GNU.sparse.size', String(spec.size)], ['GNU.sparse.numblocks', count], ['GNU.sparse.map', map.join(',')]);
      break;
    case 'pax-1.0': {
      pax.push(['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.name', fullName], ['GNU.sparse.realsize', String(spec.size)]);
      const text = new TextEncoder().encode([count, ...map.map(String)].map((n) => `${n}\n`).join(''));
      data = concatBytes([...padBlock(text), stored]);
      headerName = pseudoName(fullName, 'GNUSparseFile.0');
      break;
    }
  }
  return { map, data, pax, headerName };
}

/** Encodes one record (its PAX / GNU prefix entries, header and padded data) as tar blocks. */
export function encodeRecord(record: TarRecord): Uint8Array[] {
  const style = record.longName ?? 'pax';
  const sparse = record.type === 'file' ? record.sparse : undefined;
  const format: HeaderFormat = sparse?.format === 'gnu-old' ? 'gnu' : (record.format ?? (style === 'gnu' ? 'gnu' : 'ustar'));
  const isDir = record.type === 'dir';
  const fullName = isDir && !record.path.endsWith('/') ? `${record.path}/` : record.path;
  const link = record.linkTarget ?? '';
  let data = record.type === 'file' ? (record.data ?? new Uint8Array(0)) : new Uint8Array(0);
  const pax: Array<[string, string | Uint8Array]> = [];
  const blocks: Uint8Array[] = [];
  const after: Uint8Array[] = [];
  let typeflag = TYPEFLAG[record.type];
  let gnuSparse: { realSize: number; entries: number[]; isExtended: boolean } | undefined;
  let headerPath: string = fullName;

  if (sparse) {
    const parts = sparseParts(sparse, fullName);
    data = parts.data;
    pax.push(...parts.pax);
    if (parts.headerName !== undefined) headerPath = parts.headerName;
    if (sparse.format === 'gnu-old') {
      typeflag = 'S';
      gnuSparse = { realSize: sparse.size, entries: parts.map.slice(0, 8), isExtended: parts.map.length > 8 };
      for (let i = 8; i < parts.map.length; i += 42) after.push(encodeGnuSparseExtension(parts.map.slice(i, i + 42), i + 42 < parts.map.length));
    }
  }

  let name: RawName = headerPath;
  let prefix = '';
  if (byteLength(headerPath) > 100) {
    const split = style === 'ustar' && format === 'ustar' ? splitUstarPath(headerPath) : undefined;
    if (split) ({ name, prefix } = split);
    else if (style === 'gnu') blocks.push(...gnuLong('L', headerPath));
    else pax.push(['path', headerPath]);
    if (!split) name = cutBytes(headerPath, 100);
  }
  let linkname: RawName = link;
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
  let headerMtime: number;
  if (record.mtimeNs !== undefined) {
    const t = splitNs(record.mtimeNs);
    headerMtime = format === 'gnu' || fitsOctal(t.sec, 12) ? t.sec : 0;
    if (t.nsec !== 0 || headerMtime !== t.sec) pax.push(['mtime', formatPaxTimeNs(record.mtimeNs)]);
  } else if (format === 'gnu' && Number.isSafeInteger(record.mtime)) {
    headerMtime = record.mtime;
  } else {
    if (!Number.isInteger(record.mtime) || !fitsOctal(record.mtime, 12)) pax.push(['mtime', formatPaxTime(record.mtime)]);
    headerMtime = Math.max(0, Math.floor(record.mtime));
  }
  const headerTimes: { atime?: number; ctime?: number } = {};
  for (const key of ['atime', 'ctime'] as const) {
    const ns = key === 'atime' ? record.atimeNs : record.ctimeNs;
    if (ns === undefined) continue;
    const t = splitNs(ns);
    if (format === 'gnu') headerTimes[key] = t.sec;
    if (format !== 'gnu' || t.nsec !== 0) pax.push([key, formatPaxTimeNs(ns)]);
  }
  if (record.uname !== undefined && byteLength(record.uname) > 32) pax.push(['uname', record.uname]);
  if (record.gname !== undefined && byteLength(record.gname) > 32) pax.push(['gname', record.gname]);
  for (const [key, value] of Object.entries(record.pax ?? {})) pax.push([key, value]);
  for (const key of Object.keys(record.xattrs ?? {}).sort()) pax.push([`SCHILY.xattr.${key}`, record.xattrs![key]!]);

  if (pax.length > 0) blocks.unshift(extendedHeader(pax, { name: pseudoName(fullName, 'PaxHeaders.0') }));
  blocks.push(
    encodeHeader({
      name,
      prefix,
      mode: record.mode & 0o7777,
      uid: record.uid,
      gid: record.gid,
      size: data.length,
      mtime: headerMtime,
      ...headerTimes,
      typeflag,
      linkname,
      uname: record.uname,
      gname: record.gname,
      devmajor: record.devMajor,
      devminor: record.devMinor,
      format,
      ...(gnuSparse ? { gnuSparse } : {}),
    }),
    ...after,
  );
  if (data.length > 0) blocks.push(...padBlock(data));
  return blocks;
}

/**
 * A PAX extended header entry as raw archive bytes: its `x` (or `g`, global) header and padded
 * payload. Give records (in order; a key may repeat) or, for hostile cases, the payload bytes
 * verbatim. Put it in a {@link writeTar} list before the entry it should describe.
 *
 * @example
 * ```ts
 * writeTar([extendedHeader([['path', 'ignored']]), extendedHeader([['path', 'wins']]), file('f', 'x')]);
 * writeTar([extendedHeader([['uid', '7']], { type: 'g' }), file('f', 'x')]);
 * writeTar([extendedHeader(new TextEncoder().encode('12 path=a\n\0\0')), file('f', 'x')]);
 * ```
 */
export function extendedHeader(
  content: ReadonlyArray<readonly [string, string | Uint8Array]> | Uint8Array,
  options: { type?: 'x' | 'g'; name?: RawName } = {},
): Uint8Array {
  const body = content instanceof Uint8Array ? content : encodePaxRecords(content);
  const type = options.type ?? 'x';
  const header = encodeHeader({
    name: options.name ?? (type === 'g' ? 'pax_global_header' : 'PaxHeaders.0/entry'),
    mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 0, typeflag: type, format: 'ustar',
  });
  return concatBytes([header, ...padBlock(body)]);
}

/**
 * A GNU long name (`L`) or long link name (`K`) entry as raw archive bytes: the header
 * `././@LongLink` and the name (exact bytes) with its NUL. Put it before the entry it names.
 *
 * @example
 * ```ts
 * writeTar([gnuLongHeader('L', 'the/real/name'), file('short', 'x')]);
 * ```
 */
export function gnuLongHeader(flag: 'L' | 'K', name: RawName): Uint8Array {
  return concatBytes(gnuLong(flag, name));
}

function gnuLong(flag: 'L' | 'K', text: RawName): Uint8Array[] {
  const bytes = concatBytes([rawNameBytes(text), new Uint8Array(1)]);
  const header = encodeHeader({ name: '././@LongLink', mode: 0o644, uid: 0, gid: 0, size: bytes.length, mtime: 0, typeflag: flag, format: 'gnu' });
  return [header, ...padBlock(bytes)];
}

function cutBytes(text: RawName, max: number): Uint8Array {
  const bytes = rawNameBytes(text);
  if (bytes.length <= max) return bytes;
  // Cut on a character boundary so a UTF-8 field stays valid.
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/** A record's path given as bytes or string, as the string `TarRecord.path` holds. */
export function recordPath(path: RawName): string {
  return typeof path === 'string' ? path : decodeRawName(path);
}

/**
 * Writes a complete tar archive: each record's headers and data in order, then two zero blocks.
 * A `Uint8Array` in the list is copied verbatim (raw blocks for hostile cases: see
 * {@link extendedHeader}, {@link gnuLongHeader}, `encodeHeader`). Deterministic: the same records
 * give the same bytes.
 *
 * @example
 * ```ts
 * const tar = writeTar([dir('etc'), file('etc/hostname', 'box\n')]);
 * ```
 */
export function writeTar(records: ReadonlyArray<TarRecord | Uint8Array>, options: WriteTarOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const r of records) {
    if (r instanceof Uint8Array) parts.push(r);
    else parts.push(...encodeRecord(r));
  }
  const endBlocks = options.endBlocks ?? 2;
  if (!Number.isSafeInteger(endBlocks) || endBlocks < 0) throw new TypeError(`writeTar: endBlocks must be a whole number, got ${endBlocks}`);
  parts.push(new Uint8Array(endBlocks * BLOCK_SIZE));
  let out = concatBytes(parts);
  const rs = options.recordSize;
  if (rs !== undefined) {
    if (!Number.isSafeInteger(rs) || rs <= 0 || rs % BLOCK_SIZE !== 0) throw new TypeError(`writeTar: recordSize must be a positive multiple of 512, got ${rs}`);
    const rest = out.length % rs;
    if (rest !== 0) out = concatBytes([out, new Uint8Array(rs - rest)]);
  }
  return out;
}
