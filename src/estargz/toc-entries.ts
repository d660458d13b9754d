/**
 * From an eStargz TOC to imagefs's {@link TarEntry} list and the chunk table that maps a virtual
 * uncompressed stream (the regular files' contents laid end to end) onto gzip members.
 * @module
 */
import { invalidArgument } from '../errors/image-fs-error.js';
import type { EntryType, TarEntry } from '../tar/entry.js';
import { normalizeTarPath } from '../tar/path.js';
import type { TarTime } from '../tar/time.js';
import type { EstargzToc, EstargzTocEntry } from './toc.js';

/** Landmark files: real tar entries that mark the end of the prefetch set, hidden like containerd's stargz snapshotter does. */
export const ESTARGZ_LANDMARKS: readonly string[] = ['.prefetch.landmark', '.no.prefetch.landmark'];

/** One chunk of a regular file, placed in the virtual stream and in the blob. */
export interface EstargzChunk {
  /** Offset in the virtual uncompressed stream. */
  virtualOffset: number;
  /** Uncompressed bytes. */
  size: number;
  /** Compressed offset of the gzip member that starts with the chunk. */
  memberStart: number;
  /** Compressed offset where the next member (another chunk's, or the TOC's) begins. */
  memberEnd: number;
  /** `sha256:` of the uncompressed chunk. */
  digest: string;
}

/** What {@link tocToLayout} returns. */
export interface EstargzLayout {
  /** Entries in TOC order (landmarks hidden unless asked), `dataOffset` in the virtual stream. */
  entries: TarEntry[];
  /** Every chunk, ordered by virtual offset. */
  chunks: EstargzChunk[];
  /** Size of the virtual stream (sum of visible regular files' sizes). */
  size: number;
}

const TYPES: Record<string, EntryType> = { dir: 'dir', reg: 'file', symlink: 'symlink', hlink: 'hardlink', char: 'char', block: 'block', fifo: 'fifo' };

function count(value: unknown, what: string, subject: string): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalidArgument(`the eStargz TOC has a bad ${what}: ${String(value)}`, { subject, hint: 'read the layer whole' });
  return value;
}

const RFC3339 = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))$/;

/**
 * Parses an RFC 3339 time as Go's `time.Time` JSON decoding reads it (`2006-01-02T15:04:05Z07:00`
 * with an optional fraction of any number of digits, kept to nine as Go does) into integer seconds
 * since the epoch (floor) and nanoseconds, exactly: `Date.parse` would round to milliseconds.
 *
 * @returns the time, or undefined when the text is not such a time.
 *
 * @example
 * ```ts
 * parseRfc3339('2023-11-14T22:13:20.123456789Z'); // { sec: 1700000000, nsec: 123456789 }
 * parseRfc3339('1969-12-31T23:59:59.5Z');         // { sec: -1, nsec: 500000000 }
 * ```
 */
export function parseRfc3339(text: string): TarTime | undefined {
  const m = RFC3339.exec(text);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const monthDays = new Date(Date.UTC(2000, month, 0)).getUTCDate(); // days of `month` in a leap year
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  if (month < 1 || month > 12 || day < 1 || day > monthDays || (month === 2 && day === 29 && !leap)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offset = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offset = (m[9] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // not Date.UTC: it maps years 0-99 to 1900-1999
  const days = Math.round(date.getTime() / 86_400_000);
  const sec = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
  const fraction = m[7] ?? '';
  const nsec = fraction === '' ? 0 : Number(fraction.length < 9 ? fraction.padEnd(9, '0') : fraction.slice(0, 9));
  return { sec, nsec };
}

/**
 * Largest chunk a TOC may declare: a chunk is fetched, inflated and verified whole before any of
 * its bytes is served, so its declared size drives an allocation. 512 MiB (writers cut files into
 * 4 MiB chunks by default).
 */
export const MAX_TOC_CHUNK_SIZE = 512 * 1024 * 1024;

/** A TOC `modtime`: RFC 3339 exactly; else what `Date.parse` makes of it (milliseconds); else the epoch. */
function tocTime(modtime: string | undefined): TarTime {
  if (typeof modtime !== 'string') return { sec: 0, nsec: 0 };
  const exact = parseRfc3339(modtime);
  if (exact !== undefined) return exact;
  const ms = Date.parse(modtime);
  if (!Number.isFinite(ms)) return { sec: 0, nsec: 0 };
  const sec = Math.floor(ms / 1000);
  return { sec, nsec: (ms - sec * 1000) * 1_000_000 };
}

/**
 * One TOC entry (not a `chunk`) as a {@link TarEntry} with `dataOffset` 0. Also used for
 * zstd:chunked TOCs, whose entries have the same fields (their `hardlink` type mapped to `hlink`).
 * @throws ImageError `InvalidArgument` for an unknown type or a bad number.
 */
export function tocEntryToTarEntry(e: EstargzTocEntry, subject: string): TarEntry {
  if (typeof e !== 'object' || e === null || typeof e.name !== 'string') throw invalidArgument('the TOC has an entry without a name', { subject, hint: 'read the layer whole' });
  const type = Object.hasOwn(TYPES, e.type) ? TYPES[e.type] : undefined;
  if (type === undefined) throw invalidArgument(`the eStargz TOC entry '${e.name}' has unknown type '${e.type}'`, { subject, hint: 'read the layer whole' });
  const mtime = tocTime(e.modtime);
  const entry: TarEntry = {
    path: normalizeTarPath(e.name),
    type,
    mode: count(e.mode, 'mode', subject) & 0o7777,
    uid: count(e.uid, 'uid', subject),
    gid: count(e.gid, 'gid', subject),
    mtime: mtime.sec,
    mtimeNsec: mtime.nsec,
    size: type === 'file' ? count(e.size, 'size', subject) : 0,
    dataOffset: 0,
  };
  if (typeof e.userName === 'string' && e.userName !== '') entry.uname = e.userName;
  if (typeof e.groupName === 'string' && e.groupName !== '') entry.gname = e.groupName;
  if (type === 'symlink' || type === 'hardlink') {
    if (typeof e.linkName !== 'string') throw invalidArgument(`the TOC entry '${e.name}' (${e.type}) has no string linkName`, { subject, hint: 'read the layer whole' });
    entry.linkTarget = type === 'hardlink' ? normalizeTarPath(e.linkName) : e.linkName;
  }
  if (type === 'char' || type === 'block') {
    entry.devMajor = count(e.devMajor, 'devMajor', subject);
    entry.devMinor = count(e.devMinor, 'devMinor', subject);
  }
  if (e.xattrs !== undefined && e.xattrs !== null) {
    if (typeof e.xattrs !== 'object' || Array.isArray(e.xattrs)) throw invalidArgument(`the TOC entry '${e.name}' has xattrs that are not an object`, { subject, hint: 'read the layer whole' });
    for (const [k, v] of Object.entries(e.xattrs)) {
      if (typeof v !== 'string') throw invalidArgument(`the TOC entry '${e.name}' has xattr '${k}' whose value is not base64 text`, { subject, hint: 'read the layer whole' });
      entry.xattrs ??= {};
      entry.xattrs[k] = new Uint8Array(Buffer.from(v, 'base64'));
    }
  }
  return entry;
}

/**
 * Converts a (verified) TOC into entries and a chunk table. Each regular file gets a synthetic
 * `dataOffset`: the sum of the sizes of the visible regular files before it. Its chunks (the
 * `reg` entry itself and the `chunk` entries that follow it) must cover its content in order,
 * each with a `chunkDigest`; a chunk's member ends where the next member begins (the next chunk
 * offset, or the TOC's).
 *
 * @param toc - the TOC.
 * @param tocOffset - the compressed offset of the TOC member (where the last chunk member ends).
 * @param options - `showLandmarks` keeps the landmark files; `subject` names the layer in errors.
 * @throws ImageError `InvalidArgument` for a TOC that cannot serve verified reads.
 */
export function tocToLayout(toc: EstargzToc, tocOffset: number, options: { subject: string; showLandmarks?: boolean }): EstargzLayout {
  const { subject } = options;
  const bad = (message: string): never => {
    throw invalidArgument(`the eStargz TOC ${message}`, { subject, hint: 'read the layer whole (mode: full)' });
  };
  if (typeof toc !== 'object' || toc === null || !Array.isArray(toc.entries)) bad('has no list of entries');
  for (const e of toc.entries) if (typeof e !== 'object' || e === null || typeof e.name !== 'string') bad('has an entry without a name');
  // Member starts: every chunk offset, and the TOC's; a member ends at the next start.
  const starts = new Set<number>([tocOffset]);
  for (const e of toc.entries) if ((e.type === 'reg' && (e.size ?? 0) > 0) || e.type === 'chunk') starts.add(count(e.offset, 'offset', subject));
  const sorted = [...starts].sort((a, b) => a - b);
  const nextStart = (at: number): number => {
    let lo = 0;
    let hi = sorted.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]! <= at) lo = mid + 1;
      else hi = mid;
    }
    return sorted[lo]!;
  };

  const entries: TarEntry[] = [];
  const chunks: EstargzChunk[] = [];
  let virtual = 0;
  let current: { entry: TarEntry; name: string; parts: EstargzTocEntry[]; hidden: boolean } | undefined;
  const finish = (): void => {
    if (current === undefined) return;
    const { entry, parts, hidden } = current;
    current = undefined;
    if (hidden) return;
    entry.dataOffset = virtual;
    let covered = 0;
    parts.forEach((p, i) => {
      const chunkOffset = count(p.chunkOffset, 'chunkOffset', subject);
      const next = parts[i + 1];
      const size = count(p.chunkSize, 'chunkSize', subject) || (next === undefined ? entry.size : count(next.chunkOffset, 'chunkOffset', subject)) - chunkOffset;
      const start = count(p.offset, 'offset', subject);
      if (chunkOffset !== covered || size <= 0) bad(`chunks of '${entry.path}' do not cover it in order (chunk at ${chunkOffset}, expected ${covered})`);
      if (typeof p.chunkDigest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(p.chunkDigest)) bad(`chunk at ${chunkOffset} of '${entry.path}' has no sha256 chunkDigest, so its bytes cannot be verified`);
      if (start >= tocOffset) bad(`chunk at ${chunkOffset} of '${entry.path}' lies at ${start}, past the TOC at ${tocOffset}`);
      if (size > MAX_TOC_CHUNK_SIZE) bad(`chunk at ${chunkOffset} of '${entry.path}' is ${size} bytes, over the ${MAX_TOC_CHUNK_SIZE} a chunk may hold (it is inflated in memory to be verified)`);
      chunks.push({ virtualOffset: virtual + chunkOffset, size, memberStart: start, memberEnd: nextStart(start), digest: p.chunkDigest! });
      covered += size;
    });
    if (covered !== entry.size) bad(`chunks of '${entry.path}' cover ${covered} of its ${entry.size} bytes`);
    if (!Number.isSafeInteger(virtual + entry.size)) bad(`files add up to more than ${Number.MAX_SAFE_INTEGER} bytes`);
    virtual += entry.size;
  };

  for (const e of toc.entries) {
    if (typeof e !== 'object' || e === null || typeof e.name !== 'string') bad('has an entry without a name');
    if (e.type === 'chunk') {
      if (current === undefined || current.name !== e.name) bad(`has a chunk of '${e.name}' that does not follow its file`);
      current!.parts.push(e);
      continue;
    }
    finish();
    const entry = tocEntryToTarEntry(e, subject);
    const hidden = options.showLandmarks !== true && ESTARGZ_LANDMARKS.includes(entry.path);
    if (!hidden) entries.push(entry);
    if (entry.type === 'file' && entry.size > 0) current = { entry, name: e.name, parts: [e], hidden };
  }
  finish();
  return { entries, chunks, size: virtual };
}
