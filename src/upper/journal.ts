import {
  closeSync, constants as fsc, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, writeSync,
} from 'node:fs';
import { read as readAsync } from 'node:fs';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { FsError } from '../errors/fs-error.js';
import { dataLoss, ImageError } from '../errors/image-fs-error.js';
import type { UpperRecord } from './records.js';

/**
 * The marker file that makes a directory an imagefs upper.
 *
 * @example
 * ```ts
 * JSON.parse(readFileSync(join(dir, UPPER_MARKER), 'utf8')).version; // 1
 * ```
 */
export const UPPER_MARKER = 'imagefs-upper.json';
/**
 * The journal file of an upper directory.
 *
 * @example
 * ```ts
 * statSync(join(dir, UPPER_JOURNAL)).size;
 * ```
 */
export const UPPER_JOURNAL = 'journal.bin';
/** The first bytes of a journal. */
const MAGIC = Buffer.from('IFSUPJ1\n');
const FRAME = 8; // u32 payload length, u32 crc32 of the payload

/** What identifies the lower tree an upper directory belongs to. */
export interface LowerIdentity {
  /** The image (e.g. its manifest digest) or any caller-chosen name of the lower tree. */
  fingerprint: string;
  /** The lower tree's inode count: inode numbers must mean the same after a restart. */
  inodes: number;
}

/** One record read back: the record and, for writes, the journal offset of its data. */
export interface JournalEntry {
  record: UpperRecord;
  /** Writes: where the data bytes start in the journal file. */
  dataAt: number;
}

/**
 * The on-disk upper: a marker file (`imagefs-upper.json`, written to a temporary name, fsynced
 * and renamed) and an append-only journal of framed records (`[u32 length][u32 crc32][u32 json
 * length][json][data]`). Every change is appended with one `write` before it is applied, so a
 * failed append (a full disk: `ENOSPC`) is cut off again and changes nothing; a crash leaves at
 * most one torn record at the end, which the next open drops. Written bytes stay in the journal
 * and are read from it by offset (never copied into memory).
 *
 * @example
 * ```ts
 * const { journal, entries } = Journal.open('/var/lib/app/upper', { fingerprint: digest, inodes: 1234 });
 * const at = journal.append({ op: 'write', ino: 5, position: 0, length: 2, t }, Buffer.from('hi'));
 * ```
 */
export class Journal {
  private end: number;

  private constructor(private fd: number, readonly path: string, end: number) {
    this.end = end;
  }

  /**
   * Replaces the journal by one record (a snapshot) whose data are the given ranges of the
   * current journal, copied in order: written to `journal.bin.compact`, fsynced, renamed over the
   * journal, the directory fsynced. Returns where the new record's data start. On failure
   * (`ENOSPC`...) the old journal stays as it was.
   */
  compact(record: UpperRecord, ranges: readonly (readonly [position: number, length: number])[]): number {
    const tmp = `${this.path}.compact`;
    const json = Buffer.from(JSON.stringify(record));
    let dataLen = 0;
    for (const [, len] of ranges) dataLen += len;
    const head = Buffer.alloc(MAGIC.length + FRAME + 4);
    MAGIC.copy(head, 0);
    head.writeUInt32LE(4 + json.length + dataLen, MAGIC.length);
    head.writeUInt32LE(json.length, MAGIC.length + FRAME);
    let crc = crc32(json, crc32(head.subarray(MAGIC.length + FRAME)));
    const fd = openSync(tmp, fsc.O_RDWR | fsc.O_CREAT | fsc.O_TRUNC, 0o600);
    let pos = 0;
    const put = (b: Uint8Array): void => {
      let done = 0;
      while (done < b.length) done += writeSync(fd, b, done, b.length - done, pos + done);
      pos += b.length;
    };
    try {
      put(head);
      put(json);
      const chunk = Buffer.allocUnsafe(1 << 20);
      for (const [at, len] of ranges) {
        for (let off = 0; off < len;) {
          const n = readSync(this.fd, chunk, 0, Math.min(chunk.length, len - off), at + off);
          if (n === 0) throw new Error(`the journal ended at ${at + off} while compacting`);
          const piece = chunk.subarray(0, n);
          crc = crc32(piece, crc);
          put(piece);
          off += n;
        }
      }
      const frame = Buffer.alloc(4);
      frame.writeUInt32LE(crc >>> 0, 0);
      writeSync(fd, frame, 0, 4, MAGIC.length + 4);
      fsyncSync(fd);
      renameSync(tmp, this.path);
    } catch (e) {
      closeSync(fd);
      try { rmSync(tmp, { force: true }); } catch { /* nothing more to undo */ }
      const code = (e as NodeJS.ErrnoException).code;
      throw new FsError(code === 'ENOSPC' || code === 'EDQUOT' ? 'ENOSPC' : 'EIO', 'compact', this.path, undefined, e);
    }
    const dfd = openSync(dirname(this.path), fsc.O_RDONLY | fsc.O_DIRECTORY);
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
    closeSync(this.fd);
    this.fd = fd;
    this.end = pos;
    return MAGIC.length + FRAME + 4 + json.length;
  }

  /**
   * Opens (or makes) the upper in `dir`: `dir` missing or empty makes a new upper; a directory
   * made by imagefs for the same lower is reused; anything else is refused (`FailedPrecondition`:
   * a foreign directory, or an upper of another image; `DataLoss`: a damaged journal).
   */
  static open(dir: string, lower: LowerIdentity): { journal: Journal; entries: JournalEntry[] } {
    mkdirSync(dir, { recursive: true });
    const markerPath = join(dir, UPPER_MARKER);
    const journalPath = join(dir, UPPER_JOURNAL);
    let names = readdirSync(dir);
    // A crash while making the upper (journal written, marker not yet renamed): start again.
    if (!names.includes(UPPER_MARKER) && names.length > 0 && names.every((n) => n === UPPER_JOURNAL || n === `.${UPPER_MARKER}.tmp`)) {
      for (const n of names) rmSync(join(dir, n));
      names = [];
    }
    if (names.length === 0) {
      const fd = openSync(journalPath, fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL, 0o600);
      writeSync(fd, MAGIC, 0, MAGIC.length, 0);
      fsyncSync(fd);
      writeAtomic(dir, UPPER_MARKER, `${JSON.stringify({ format: 'imagefs-upper', version: 1, lower })}\n`);
      return { journal: new Journal(fd, journalPath, MAGIC.length), entries: [] };
    }
    if (!names.includes(UPPER_MARKER)) {
      throw new ImageError('FailedPrecondition', `${dir} is not an imagefs upper directory (no ${UPPER_MARKER}) and not empty`, {
        subject: dir, hint: 'give an empty or missing directory for a new upper, or the directory an earlier --upper made',
      });
    }
    const marker = readMarker(markerPath);
    if (marker.lower.fingerprint !== lower.fingerprint || marker.lower.inodes !== lower.inodes) {
      throw new ImageError('FailedPrecondition', `${dir} is the upper of another image (${marker.lower.fingerprint}, ${marker.lower.inodes} inodes), not of ${lower.fingerprint} (${lower.inodes} inodes)`, {
        subject: dir, hint: 'open the upper with the image it was made on, or give a new directory',
      });
    }
    let fd: number;
    try {
      fd = openSync(journalPath, fsc.O_RDWR);
    } catch (e) {
      throw dataLoss(`the upper ${dir} has no readable journal: ${(e as Error).message}`, { subject: journalPath, cause: e });
    }
    try {
      const { entries, end } = readJournal(fd, journalPath);
      if (end < fstatSync(fd).size) { ftruncateSync(fd, end); fsyncSync(fd); }
      return { journal: new Journal(fd, journalPath, end), entries };
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** Bytes in the journal. */
  get size(): number {
    return this.end;
  }

  /**
   * Appends one record (with its data) in one write; returns where the data starts. On failure
   * the journal is cut back to where it was and the error is an `FsError` (`ENOSPC` for a full disk).
   */
  append(record: UpperRecord, data?: Uint8Array): number {
    const json = Buffer.from(JSON.stringify(record));
    const dataLen = data?.byteLength ?? 0;
    const payload = 4 + json.length + dataLen;
    const buf = Buffer.allocUnsafe(FRAME + payload);
    buf.writeUInt32LE(json.length, FRAME);
    json.copy(buf, FRAME + 4);
    if (data !== undefined) buf.set(data, FRAME + 4 + json.length);
    buf.writeUInt32LE(payload, 0);
    buf.writeUInt32LE(crc32(buf.subarray(FRAME)), 4);
    const at = this.end;
    try {
      let done = 0;
      while (done < buf.length) done += writeSync(this.fd, buf, done, buf.length - done, at + done);
    } catch (e) {
      try { ftruncateSync(this.fd, at); } catch { /* the next open drops the torn record */ }
      const code = (e as NodeJS.ErrnoException).code;
      throw new FsError(code === 'ENOSPC' || code === 'EDQUOT' ? 'ENOSPC' : 'EIO', 'write', this.path, undefined, e);
    }
    this.end = at + buf.length;
    return at + FRAME + 4 + json.length;
  }

  /** Reads `length` journal bytes at `position` into `into` at `at`. */
  readAt(position: number, into: Uint8Array, at: number, length: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let done = 0;
      const step = (): void => {
        if (done >= length) { resolve(); return; }
        readAsync(this.fd, into, at + done, length - done, position + done, (err, n) => {
          if (err) { reject(new FsError('EIO', 'read', this.path, undefined, err)); return; }
          if (n === 0) { reject(new FsError('EIO', 'read', this.path)); return; }
          done += n;
          step();
        });
      };
      step();
    });
  }

  /** fsync of the journal. */
  sync(): void {
    fsyncSync(this.fd);
  }

  /** Closes the journal file. */
  close(): void {
    closeSync(this.fd);
  }
}

/** Writes `name` in `dir` crash-safely: a temporary file, fsync, rename, fsync of the directory. */
function writeAtomic(dir: string, name: string, text: string): void {
  const tmp = join(dir, `.${name}.tmp`);
  const fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC, 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, name));
  const dfd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try { fsyncSync(dfd); } finally { closeSync(dfd); }
}

function readMarker(path: string): { lower: LowerIdentity } {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw dataLoss(`the upper marker ${path} is unreadable: ${(e as Error).message}`, { subject: path, cause: e });
  }
  const d = doc as { format?: unknown; version?: unknown; lower?: { fingerprint?: unknown; inodes?: unknown } };
  if (d?.format !== 'imagefs-upper' || d.version !== 1 || typeof d.lower?.fingerprint !== 'string' || typeof d.lower.inodes !== 'number') {
    throw dataLoss(`${path} is not an imagefs upper marker of format version 1`, { subject: path, hint: 'give an empty directory for a new upper' });
  }
  return { lower: { fingerprint: d.lower.fingerprint, inodes: d.lower.inodes } };
}

/** Reads every whole record; a torn last record ends the journal, a bad record before the end is damage. */
function readJournal(fd: number, path: string): { entries: JournalEntry[]; end: number } {
  const size = fstatSync(fd).size;
  const head = Buffer.alloc(MAGIC.length);
  if (size < MAGIC.length || readSync(fd, head, 0, MAGIC.length, 0) !== MAGIC.length || !head.equals(MAGIC)) {
    throw dataLoss(`${path} is not an imagefs upper journal`, { subject: path });
  }
  const entries: JournalEntry[] = [];
  let pos = MAGIC.length;
  const frame = Buffer.alloc(FRAME);
  while (pos + FRAME <= size) {
    readSync(fd, frame, 0, FRAME, pos);
    const len = frame.readUInt32LE(0);
    if (len < 4 || pos + FRAME + len > size) break; // torn at the end
    const payload = Buffer.alloc(len);
    readSync(fd, payload, 0, len, pos + FRAME);
    if (crc32(payload) !== frame.readUInt32LE(4)) {
      if (pos + FRAME + len === size) break; // the last record, torn
      throw dataLoss(`the upper journal ${path} is damaged at byte ${pos} (checksum mismatch before its end)`, { subject: path, hint: 'the upper cannot be trusted; commit from a copy or start a new upper' });
    }
    const jsonLen = payload.readUInt32LE(0);
    let record: UpperRecord;
    try {
      record = JSON.parse(payload.subarray(4, 4 + jsonLen).toString('utf8')) as UpperRecord;
    } catch (e) {
      throw dataLoss(`the upper journal ${path} has an unreadable record at byte ${pos}`, { subject: path, cause: e });
    }
    entries.push({ record, dataAt: pos + FRAME + 4 + jsonLen });
    pos += FRAME + len;
  }
  return { entries, end: pos };
}
