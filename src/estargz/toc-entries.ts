/**
 * From an eStargz TOC to imagefs's {@link TarEntry} list and the chunk table that maps a virtual
 * uncompressed stream (the regular files' contents laid end to end) onto gzip members.
 * @module
 */
import { invalidArgument } from '../errors/image-fs-error.js';
import type { EntryType, TarEntry } from '../tar/entry.js';
import { normalizeTarPath } from '../tar/path.js';
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

/**
 * One TOC entry (not a `chunk`) as a {@link TarEntry} with `dataOffset` 0. Also used for
 * zstd:chunked TOCs, whose entries have the same fields (their `hardlink` type mapped to `hlink`).
 * @throws ImageError `InvalidArgument` for an unknown type or a bad number.
 */
export function tocEntryToTarEntry(e: EstargzTocEntry, subject: string): TarEntry {
  const type = TYPES[e.type];
  if (type === undefined) throw invalidArgument(`the eStargz TOC entry '${e.name}' has unknown type '${e.type}'`, { subject, hint: 'read the layer whole' });
  const mtimeMs = e.modtime === undefined ? NaN : Date.parse(e.modtime);
  const entry: TarEntry = {
    path: normalizeTarPath(e.name),
    type,
    mode: count(e.mode, 'mode', subject) & 0o7777,
    uid: count(e.uid, 'uid', subject),
    gid: count(e.gid, 'gid', subject),
    mtime: Number.isFinite(mtimeMs) ? mtimeMs / 1000 : 0,
    size: type === 'file' ? count(e.size, 'size', subject) : 0,
    dataOffset: 0,
  };
  if (e.userName) entry.uname = e.userName;
  if (e.groupName) entry.gname = e.groupName;
  if (e.linkName !== undefined && (type === 'symlink' || type === 'hardlink')) entry.linkTarget = type === 'hardlink' ? normalizeTarPath(e.linkName) : e.linkName;
  if (type === 'char' || type === 'block') {
    entry.devMajor = count(e.devMajor, 'devMajor', subject);
    entry.devMinor = count(e.devMinor, 'devMinor', subject);
  }
  if (e.xattrs !== undefined && Object.keys(e.xattrs).length > 0) {
    entry.xattrs = {};
    for (const [k, v] of Object.entries(e.xattrs)) entry.xattrs[k] = new Uint8Array(Buffer.from(v, 'base64'));
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
      chunks.push({ virtualOffset: virtual + chunkOffset, size, memberStart: start, memberEnd: nextStart(start), digest: p.chunkDigest! });
      covered += size;
    });
    if (covered !== entry.size) bad(`chunks of '${entry.path}' cover ${covered} of its ${entry.size} bytes`);
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
