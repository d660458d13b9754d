import { dataLoss } from '../errors/image-fs-error.js';
import { decodeRawName } from './raw-name.js';
import { parseGoInt, parsePaxTime, type TarTime } from './time.js';

/**
 * PAX extended header records, as raw bytes per key. Values stay bytes because
 * `SCHILY.xattr.*` values are binary and names may not be UTF-8; use {@link paxString} for the
 * textual ones. Keys hold their exact bytes (see `raw-name.ts`).
 */
export type PaxRecords = Map<string, Uint8Array>;

const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
const latin1 = new TextDecoder('latin1');

/** Keys whose value must not hold a NUL (Go's `validPAXRecord`); every other key must not hold one itself. */
const NO_NUL_VALUE = new Set(['path', 'linkpath', 'uname', 'gname']);

/** Where a PAX payload came from, for error messages. */
export interface PaxContext {
  /** Offset of the payload in the stream. */
  offset: number;
  /** The error subject (layer digest). */
  subject?: string;
  /** The name in the extended header's own tar header (often `PaxHeaders.N/NAME`). */
  headerName?: string;
}

/**
 * Parses the payload of a PAX extended header (`x` or `g`) exactly as Go's archive/tar
 * `parsePAX` does. Records are `LEN key=value\n`: LEN is a decimal up to the first space (Go's
 * `ParseInt`: optional sign), at least 5 and within the payload; the record ends in `\n`; the key
 * ends at the first `=` and is not empty; `path`, `linkpath`, `uname` and `gname` values hold no
 * NUL, other keys hold no NUL. Nothing but records may follow (NUL padding is refused, as Go
 * does). Later records for the same key win. The GNU sparse 0.0 records `GNU.sparse.offset` and
 * `GNU.sparse.numbytes` must alternate (offset first) without commas and are joined into one
 * `GNU.sparse.map` record (`o,n,o,n`).
 *
 * @param payload - the data of the extended header entry.
 * @param where - where that data is, for error messages (a number is taken as the offset).
 * @throws ImageError `DataLoss` when a record is malformed.
 *
 * @example
 * ```ts
 * const records = parsePax(new TextEncoder().encode('17 path=a/b/c.txt\n'), 0);
 * paxString(records, 'path'); // 'a/b/c.txt'
 * ```
 */
export function parsePax(payload: Uint8Array, where: number | PaxContext, subject?: string): PaxRecords {
  const ctx: PaxContext = typeof where === 'number' ? { offset: where, subject } : where;
  const records: PaxRecords = new Map();
  const sparseMap: Uint8Array[] = [];
  let pos = 0;
  while (pos < payload.length) {
    const bad = (why: string): Error => {
      const named = ctx.headerName !== undefined ? ` ('${ctx.headerName}')` : '';
      return dataLoss(
        `PAX extended header${named} at offset ${ctx.offset} has a malformed record at byte ${pos} ` +
          `(stream offset ${ctx.offset + pos}): ${why}`,
        { subject: ctx.subject },
      );
    };
    let space = pos;
    while (space < payload.length && payload[space] !== 0x20) space++;
    if (space >= payload.length) {
      if (payload[pos] === 0) throw bad('NUL padding after the last record (Go archive/tar refuses it)');
      throw bad('expected "LEN key=value\\n"');
    }
    const lenText = latin1.decode(payload.subarray(pos, space));
    const len = parseGoInt(lenText);
    const rest = payload.length - pos;
    if (typeof len !== 'number' || len < 5 || len > rest) {
      if (payload[pos] === 0) throw bad('NUL padding after the last record (Go archive/tar refuses it)');
      throw bad(`record length ${JSON.stringify(lenText.slice(0, 20))} is not a number from 5 to the ${rest} bytes left`);
    }
    const bodyStart = space + 1;
    const end = pos + len;
    if (end - 1 < bodyStart) throw bad(`record length ${len} is shorter than its own length field`);
    if (payload[end - 1] !== 0x0a) throw bad('record does not end with a newline');
    let eq = bodyStart;
    while (eq < end - 1 && payload[eq] !== 0x3d) eq++;
    if (eq >= end - 1) throw bad('record has no "="');
    if (eq === bodyStart) throw bad('record has an empty key');
    const keyBytes = payload.subarray(bodyStart, eq);
    const value = payload.slice(eq + 1, end - 1);
    const key = decodeRawName(keyBytes);
    if (NO_NUL_VALUE.has(key)) {
      if (value.includes(0)) throw bad(`the ${key} value holds a NUL byte`);
    } else if (keyBytes.includes(0)) {
      throw bad('the key holds a NUL byte');
    }
    if (key === 'GNU.sparse.offset' || key === 'GNU.sparse.numbytes') {
      const wanted = sparseMap.length % 2 === 0 ? 'GNU.sparse.offset' : 'GNU.sparse.numbytes';
      if (key !== wanted) throw bad(`${key} where ${wanted} was expected (GNU sparse 0.0 records must alternate)`);
      if (value.includes(0x2c)) throw bad(`${key} holds a comma`);
      sparseMap.push(value);
    } else {
      records.set(key, value);
    }
    pos = end;
  }
  if (sparseMap.length > 0) records.set('GNU.sparse.map', new TextEncoder().encode(sparseMap.map((v) => latin1.decode(v)).join(',')));
  return records;
}

/** The value of a PAX record as UTF-8 text, or undefined when the key is absent. */
export function paxString(records: PaxRecords, key: string): string | undefined {
  const value = records.get(key);
  return value === undefined ? undefined : decoder.decode(value);
}

/** The header fields a set of PAX records overrides, already parsed (Go's `mergePAX`). */
export interface PaxOverrides {
  /** `path`, exact bytes. */
  path?: string;
  /** `linkpath`, exact bytes. */
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  mtime?: TarTime;
  atime?: TarTime;
  ctime?: TarTime;
  /** From `SCHILY.xattr.NAME` records, raw bytes (empty values included, as containerd sets them). */
  xattrs?: Record<string, Uint8Array>;
}

/**
 * Interprets records as Go's `mergePAX` does: records with an empty value are skipped (the
 * header's own value stays); `path`, `linkpath`
 * (exact bytes), `uname`, `gname`, `uid`, `gid`, `size` (signed decimal), `atime`, `mtime`,
 * `ctime` (see {@link parsePaxTime}) and `SCHILY.xattr.NAME`. Others are ignored here.
 *
 * Xattrs are taken from every `SCHILY.xattr.` record, an empty value included: containerd sets
 * them from `hdr.PAXRecords`, which keeps empty values (Go's deprecated `hdr.Xattrs`, which umoci
 * reads, drops them).
 *
 * @throws ImageError `DataLoss` when a numeric or time record does not parse or is too large.
 */
export function paxOverrides(records: PaxRecords, where: PaxContext & { entry?: string }): PaxOverrides {
  const out: PaxOverrides = {};
  const fail = (key: string, text: string, why: string): Error =>
    dataLoss(
      `PAX record ${key}=${JSON.stringify(text.slice(0, 40))} of ${where.entry !== undefined ? `'${where.entry}'` : 'the entry'} ` +
        `at offset ${where.offset} ${why}`,
      { subject: where.subject },
    );
  for (const [key, value] of records) {
    if (key.startsWith('SCHILY.xattr.')) {
      out.xattrs ??= {};
      out.xattrs[key.slice('SCHILY.xattr.'.length)] = value;
      continue;
    }
    if (value.length === 0) continue;
    switch (key) {
      case 'path':
        out.path = decodeRawName(value);
        break;
      case 'linkpath':
        out.linkpath = decodeRawName(value);
        break;
      case 'uname':
        out.uname = decoder.decode(value);
        break;
      case 'gname':
        out.gname = decoder.decode(value);
        break;
      case 'uid':
      case 'gid':
      case 'size': {
        const text = latin1.decode(value);
        const n = parseGoInt(text);
        if (typeof n !== 'number') throw fail(key, text, n === 'range' ? 'is too large' : 'is not a decimal integer');
        out[key] = n;
        break;
      }
      case 'mtime':
      case 'atime':
      case 'ctime': {
        const text = latin1.decode(value);
        const t = parsePaxTime(text);
        if (typeof t !== 'object') throw fail(key, text, t === 'range' ? 'is out of range' : 'is not a time (SECONDS[.FRACTION])');
        out[key] = t;
        break;
      }
      default:
        break;
    }
  }
  return out;
}
