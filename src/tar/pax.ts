import { dataLoss } from '../errors/image-fs-error.js';

/**
 * PAX extended header records, as raw bytes per key. Values stay bytes because
 * `SCHILY.xattr.*` values are binary; use {@link paxString} for the textual ones.
 */
export type PaxRecords = Map<string, Uint8Array>;

const decoder = new TextDecoder('utf-8');

/**
 * Parses the payload of a PAX extended header (`x` or `g`): records of the form
 * `LEN key=value\n`, where LEN counts the whole record in decimal. Later records for the same
 * key win, as POSIX says.
 *
 * @param payload - the data of the extended header entry.
 * @param offset - where that data starts in the stream, for error messages.
 * @throws ImageError `DataLoss` when a record is malformed.
 *
 * @example
 * ```ts
 * const records = parsePax(new TextEncoder().encode('17 path=a/b/c.txt\n'), 0);
 * paxString(records, 'path'); // 'a/b/c.txt'
 * ```
 */
export function parsePax(payload: Uint8Array, offset: number, subject?: string): PaxRecords {
  const records: PaxRecords = new Map();
  let pos = 0;
  while (pos < payload.length) {
    // Some writers pad the payload with NULs.
    if (payload[pos] === 0) break;
    let len = 0;
    let i = pos;
    while (i < payload.length && payload[i]! >= 0x30 && payload[i]! <= 0x39) {
      len = len * 10 + (payload[i]! - 0x30);
      i++;
    }
    const bad = (why: string): Error =>
      dataLoss(`PAX extended header at offset ${offset} has a malformed record at byte ${pos}: ${why}`, { subject });
    if (i === pos || payload[i] !== 0x20) throw bad('expected "LEN key=value"');
    const end = pos + len;
    if (len <= i - pos + 1 || end > payload.length) throw bad(`record length ${len} is out of range`);
    if (payload[end - 1] !== 0x0a) throw bad('record does not end with a newline');
    const keyStart = i + 1;
    let eq = keyStart;
    while (eq < end - 1 && payload[eq] !== 0x3d) eq++;
    if (eq >= end - 1 || eq === keyStart) throw bad('record has no "key="');
    const key = decoder.decode(payload.subarray(keyStart, eq));
    records.set(key, payload.slice(eq + 1, end - 1));
    pos = end;
  }
  return records;
}

/** The value of a PAX record as UTF-8 text, or undefined when the key is absent. */
export function paxString(records: PaxRecords, key: string): string | undefined {
  const value = records.get(key);
  return value === undefined ? undefined : decoder.decode(value);
}

/**
 * Merges per-entry records over global ones. An empty value removes the key (POSIX: the field
 * falls back to the header's own value).
 */
export function mergePax(global: PaxRecords, local: PaxRecords | undefined): PaxRecords {
  const merged: PaxRecords = new Map(global);
  if (local) for (const [key, value] of local) merged.set(key, value);
  for (const [key, value] of merged) if (value.length === 0) merged.delete(key);
  return merged;
}

/** The header fields a set of PAX records overrides, already parsed. */
export interface PaxOverrides {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  /** Seconds, possibly fractional. */
  mtime?: number;
  /** From `SCHILY.xattr.NAME` records, raw bytes. */
  xattrs?: Record<string, Uint8Array>;
  /** True when any `GNU.sparse.*` record is present. */
  sparse?: boolean;
  /** The logical size of a sparse file (`GNU.sparse.realsize` or `GNU.sparse.size`). */
  sparseRealSize?: number;
  /** The real name of a sparse file in format 1.0 (`GNU.sparse.name`). */
  sparseName?: string;
}

/**
 * Interprets the records imagefs uses: `path`, `linkpath`, `size`, `uid`, `gid`, `uname`,
 * `gname`, `mtime`, `SCHILY.xattr.*` and `GNU.sparse.*`. Others are ignored.
 *
 * @throws ImageError `DataLoss` when a numeric record is not a number.
 */
export function paxOverrides(records: PaxRecords, offset: number, subject?: string): PaxOverrides {
  const out: PaxOverrides = {};
  const int = (key: string): number | undefined => {
    const text = paxString(records, key);
    if (text === undefined) return undefined;
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
      throw dataLoss(`PAX record ${key}=${JSON.stringify(text.slice(0, 40))} at offset ${offset} is not a valid integer`, { subject });
    }
    return Number(text);
  };
  const path = paxString(records, 'path');
  if (path !== undefined) out.path = path;
  const linkpath = paxString(records, 'linkpath');
  if (linkpath !== undefined) out.linkpath = linkpath;
  const size = int('size');
  if (size !== undefined) out.size = size;
  const uid = int('uid');
  if (uid !== undefined) out.uid = uid;
  const gid = int('gid');
  if (gid !== undefined) out.gid = gid;
  const uname = paxString(records, 'uname');
  if (uname !== undefined) out.uname = uname;
  const gname = paxString(records, 'gname');
  if (gname !== undefined) out.gname = gname;
  const mtime = paxString(records, 'mtime');
  if (mtime !== undefined) {
    const value = Number(mtime);
    if (!/^-?\d+(\.\d*)?$/.test(mtime) || !Number.isFinite(value)) {
      throw dataLoss(`PAX record mtime=${JSON.stringify(mtime.slice(0, 40))} at offset ${offset} is not a number`, { subject });
    }
    out.mtime = value;
  }
  for (const [key, value] of records) {
    if (key.startsWith('SCHILY.xattr.')) {
      out.xattrs ??= {};
      out.xattrs[key.slice('SCHILY.xattr.'.length)] = value;
    } else if (key.startsWith('GNU.sparse.')) {
      out.sparse = true;
    }
  }
  if (out.sparse) {
    const real = int('GNU.sparse.realsize') ?? int('GNU.sparse.size');
    if (real !== undefined) out.sparseRealSize = real;
    const name = paxString(records, 'GNU.sparse.name');
    if (name !== undefined) out.sparseName = name;
  }
  return out;
}
