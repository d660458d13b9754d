import { dataLoss } from '../errors/image-fs-error.js';
import { storedSize, type EntryType, type TarEntry } from '../tar/entry.js';
import { decodeRawName, encodeRawName } from '../tar/raw-name.js';
import { ByteReader, ByteWriter } from './bytes.js';

/** Entry types by their 3-bit code in the index; the code is the position. */
export const TYPE_CODES: readonly EntryType[] = ['file', 'dir', 'symlink', 'hardlink', 'char', 'block', 'fifo'];
const TYPE_CODE = new Map(TYPE_CODES.map((t, i) => [t, i]));

// First flag byte (bits 0-2: type code).
const MODE_SAME = 1 << 3;
const IDS_SAME = 1 << 4;
const NAMES_SAME = 1 << 5;
const MTIME_SAME = 1 << 6;
const HAS_EXTRA = 1 << 7;
// Second flag byte, present when HAS_EXTRA.
const X_LINK = 1 << 0;
const X_XATTRS = 1 << 1;
const X_DEV = 1 << 2;
const X_SPARSE = 1 << 3;
const X_MTIME_NSEC = 1 << 4;
const X_ATIME = 1 << 5;
const X_CTIME = 1 << 6;
/** Extra bits a reader of this version knows; any other is corruption. */
const X_KNOWN = X_LINK | X_XATTRS | X_DEV | X_SPARSE | X_MTIME_NSEC | X_ATIME | X_CTIME;

/** What the previous entry of a block left behind; each block starts from {@link initialState}. */
interface State {
  path: Uint8Array;
  mode: number;
  uid: number;
  gid: number;
  uname: number;
  gname: number;
  /** The previous mtime, whole seconds: the base of mtime deltas. */
  mtime: number;
  /** Where the previous entry's stored data ended, rounded up to a block. */
  end: number;
}

function initialState(): State {
  return { path: new Uint8Array(0), mode: 0, uid: 0, gid: 0, uname: 0, gname: 0, mtime: 0, end: 0 };
}

function roundUp512(n: number): number {
  return Math.ceil(n / 512) * 512;
}

function isNsec(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 999_999_999;
}

/** Refuses what the format cannot hold exactly (times that are not integers, odd sparse maps). */
function checkEntry(e: TarEntry): void {
  const bad = (what: string): never => {
    throw new TypeError(`cannot index '${e.path}': ${what}`);
  };
  if (!Number.isSafeInteger(e.mtime) || !isNsec(e.mtimeNsec)) bad(`mtime ${String(e.mtime)}.${String(e.mtimeNsec)} is not integer seconds and nanoseconds`);
  if (e.atime !== undefined && (!Number.isSafeInteger(e.atime) || !isNsec(e.atimeNsec ?? 0))) bad('atime is not integer seconds and nanoseconds');
  if (e.ctime !== undefined && (!Number.isSafeInteger(e.ctime) || !isNsec(e.ctimeNsec ?? 0))) bad('ctime is not integer seconds and nanoseconds');
  if (e.sparse !== undefined && (e.sparse.length % 2 !== 0 || !e.sparse.every((n) => Number.isSafeInteger(n) && n >= 0))) {
    bad('its sparse map is not [offset, length] pairs of non-negative integers');
  }
}

/** Maps strings (owner names, xattr names) to their string-table references; 0 means absent. */
export interface StringRefs {
  /** The reference of `value` (1-based), or 0 for undefined. */
  ref(value: string | undefined): number;
}

/** Encodes a run of entries as one self-contained block (see docs/index-format.md). */
export function encodeBlock(out: ByteWriter, entries: readonly TarEntry[], strings: StringRefs): void {
  const s = initialState();
  for (const e of entries) {
    const code = TYPE_CODE.get(e.type);
    if (code === undefined) throw new TypeError(`cannot index an entry of type ${String(e.type)}`);
    checkEntry(e);
    const path = encodeRawName(e.path);
    const uname = strings.ref(e.uname);
    const gname = strings.ref(e.gname);
    let extra = 0;
    if (e.linkTarget !== undefined) extra |= X_LINK;
    if (e.xattrs && Object.keys(e.xattrs).length > 0) extra |= X_XATTRS;
    if (e.devMajor !== undefined || e.devMinor !== undefined) extra |= X_DEV;
    if (e.sparse !== undefined) extra |= X_SPARSE;
    if (e.mtimeNsec !== 0) extra |= X_MTIME_NSEC;
    if (e.atime !== undefined) extra |= X_ATIME;
    if (e.ctime !== undefined) extra |= X_CTIME;
    let flags = code;
    if (e.mode === s.mode) flags |= MODE_SAME;
    if (e.uid === s.uid && e.gid === s.gid) flags |= IDS_SAME;
    if (uname === s.uname && gname === s.gname) flags |= NAMES_SAME;
    if (e.mtime === s.mtime) flags |= MTIME_SAME;
    if (extra !== 0) flags |= HAS_EXTRA;
    out.u8(flags);
    if (extra !== 0) out.u8(extra);
    let shared = 0;
    const max = Math.min(path.length, s.path.length);
    while (shared < max && path[shared] === s.path[shared]) shared++;
    out.varint(shared);
    out.blob(path.subarray(shared));
    if (!(flags & MODE_SAME)) out.varint(e.mode);
    if (!(flags & IDS_SAME)) {
      out.varint(e.uid);
      out.varint(e.gid);
    }
    if (!(flags & NAMES_SAME)) {
      out.varint(uname);
      out.varint(gname);
    }
    if (!(flags & MTIME_SAME)) out.zigzag(e.mtime - s.mtime);
    if (extra & X_MTIME_NSEC) out.varint(e.mtimeNsec);
    if (extra & X_ATIME) {
      out.zigzag(e.atime! - e.mtime);
      out.varint(e.atimeNsec ?? 0);
    }
    if (extra & X_CTIME) {
      out.zigzag(e.ctime! - e.mtime);
      out.varint(e.ctimeNsec ?? 0);
    }
    if (e.type === 'file') out.varint(e.size);
    const delta = e.dataOffset - s.end;
    if (delta % 512 === 0) out.zigzag((delta / 512) * 2);
    else out.zigzag(delta * 2 + (delta >= 0 ? 1 : -1));
    if (extra & X_LINK) out.name(e.linkTarget!);
    if (extra & X_XATTRS) {
      const names = Object.keys(e.xattrs!);
      out.varint(names.length);
      for (const name of names) {
        out.varint(strings.ref(name));
        out.blob(e.xattrs![name]!);
      }
    }
    if (extra & X_DEV) {
      out.varint(e.devMajor ?? 0);
      out.varint(e.devMinor ?? 0);
    }
    if (extra & X_SPARSE) {
      const map = e.sparse!;
      out.varint(map.length / 2);
      let at = 0;
      for (let k = 0; k < map.length; k += 2) {
        out.zigzag(map[k]! - at);
        out.varint(map[k + 1]!);
        at = map[k]! + map[k + 1]!;
      }
    }
    s.path = path;
    s.mode = e.mode;
    s.uid = e.uid;
    s.gid = e.gid;
    s.uname = uname;
    s.gname = gname;
    s.mtime = e.mtime;
    s.end = roundUp512(e.dataOffset + storedSize(e));
  }
}

/**
 * Decodes the first `count` entries of a block starting at `reader.pos`.
 *
 * @param strings - the string table (index 0 of a reference is "absent", so `strings[ref - 1]`).
 * @throws ImageError `DataLoss` when the block is malformed.
 */
export function decodeBlock(reader: ByteReader, count: number, strings: readonly string[]): TarEntry[] {
  const s = initialState();
  const out: TarEntry[] = [];
  const str = (ref: number): string | undefined => {
    if (ref === 0) return undefined;
    const v = strings[ref - 1];
    if (v === undefined) throw dataLoss(`the index is corrupt: string reference ${ref} is out of range`);
    return v;
  };
  for (let i = 0; i < count; i++) {
    const flags = reader.u8();
    const type = TYPE_CODES[flags & 7];
    if (type === undefined) throw dataLoss(`the index is corrupt: entry type code ${flags & 7} is unknown`);
    const extra = flags & HAS_EXTRA ? reader.u8() : 0;
    if (extra & ~X_KNOWN) throw dataLoss(`the index is corrupt: entry flags 0x${extra.toString(16)} are unknown`);
    const shared = reader.varint();
    const suffix = reader.blob();
    if (shared > s.path.length) throw dataLoss('the index is corrupt: a path shares more than its predecessor has');
    const path = new Uint8Array(shared + suffix.length);
    path.set(s.path.subarray(0, shared));
    path.set(suffix, shared);
    if (!(flags & MODE_SAME)) s.mode = reader.varint();
    if (!(flags & IDS_SAME)) {
      s.uid = reader.varint();
      s.gid = reader.varint();
    }
    if (!(flags & NAMES_SAME)) {
      s.uname = reader.varint();
      s.gname = reader.varint();
    }
    if (!(flags & MTIME_SAME)) s.mtime += reader.zigzag();
    const mtimeNsec = extra & X_MTIME_NSEC ? nsec(reader) : 0;
    const atime = extra & X_ATIME ? [s.mtime + reader.zigzag(), nsec(reader)] as const : undefined;
    const ctime = extra & X_CTIME ? [s.mtime + reader.zigzag(), nsec(reader)] as const : undefined;
    const size = type === 'file' ? reader.varint() : 0;
    const z = reader.zigzag();
    const delta = z % 2 === 0 ? (z / 2) * 512 : (z - Math.sign(z)) / 2;
    const entry: TarEntry = {
      path: decodeRawName(path), type, mode: s.mode, uid: s.uid, gid: s.gid, mtime: s.mtime, mtimeNsec, size, dataOffset: s.end + delta,
    };
    if (atime) [entry.atime, entry.atimeNsec] = atime;
    if (ctime) [entry.ctime, entry.ctimeNsec] = ctime;
    const uname = str(s.uname);
    if (uname !== undefined) entry.uname = uname;
    const gname = str(s.gname);
    if (gname !== undefined) entry.gname = gname;
    if (extra & X_LINK) entry.linkTarget = reader.name();
    if (extra & X_XATTRS) {
      const n = reader.varint();
      const xattrs: Record<string, Uint8Array> = {};
      for (let k = 0; k < n; k++) {
        const name = str(reader.varint());
        if (name === undefined) throw dataLoss('the index is corrupt: an xattr has no name');
        xattrs[name] = reader.blob().slice();
      }
      entry.xattrs = xattrs;
    }
    if (extra & X_DEV) {
      entry.devMajor = reader.varint();
      entry.devMinor = reader.varint();
    }
    if (extra & X_SPARSE) {
      const n = reader.varint();
      const map: number[] = [];
      let at = 0;
      for (let k = 0; k < n; k++) {
        const offset = at + reader.zigzag();
        const length = reader.varint();
        if (offset < 0) throw dataLoss('the index is corrupt: a sparse segment starts before the file');
        map.push(offset, length);
        at = offset + length;
      }
      entry.sparse = map;
    }
    s.path = path;
    s.end = roundUp512(entry.dataOffset + storedSize(entry));
    out.push(entry);
  }
  return out;
}

/** Reads a nanoseconds varint, refusing values of a second or more. */
function nsec(reader: ByteReader): number {
  const n = reader.varint();
  if (n > 999_999_999) throw dataLoss(`the index is corrupt: ${n} nanoseconds`);
  return n;
}
