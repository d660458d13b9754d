import { execFile } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { constants as fsc, readFileSync } from 'node:fs';
import { chmod, lchown, link, lstat, mkdir, open, readdir, realpath, rename, symlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { FsError } from '../errors/fs-error.js';
import { throwIfAborted } from '../errors/image-fs-error.js';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG } from '../overlay/file-type.js';
import { encodeRawName } from '../tar/raw-name.js';
import { ROOT_INO } from '../tree/types.js';
import type { ImageFs } from './image-fs.js';
import { TimeRestore } from './time-restore.js';
import { XattrDump } from './xattr-restore.js';

const run = promisify(execFile);

/** Options of {@link exportTo}. */
export interface ExportOptions {
  /** Cancels the export (what was written stays). */
  signal?: AbortSignal;
  /** Set owners with `lchown` (default: when running as root). */
  chown?: boolean;
  /** Set extended attributes with `setfattr --restore` (default true; skipped with a note when `setfattr` is missing). */
  xattrs?: boolean;
  /** Create devices with `mknod` (default: when running as root; skipped with a note otherwise). */
  devices?: boolean;
  /** Bytes per read of file data (default 1 MiB). */
  chunkSize?: number;
  /** Regular files written at once (default 16): their opens, reads and writes overlap. */
  concurrency?: number;
}

/** What {@link exportTo} wrote. */
export interface ExportSummary {
  /** Directories created (the root not counted). */
  dirs: number;
  /** Regular files written (hardlinks not counted). */
  files: number;
  /** Symlinks created. */
  symlinks: number;
  /** Extra names made with `link` for hardlinked inodes. */
  hardlinks: number;
  /** Character and block devices created. */
  devices: number;
  /** FIFOs created. */
  fifos: number;
  /** Bytes of file data written. */
  bytes: number;
  /** Extended attributes set. */
  xattrs: number;
  /** What was skipped, one line each (devices without root, xattrs without setfattr, sockets). */
  notes: string[];
}

interface Pending { ino: number; rel: Buffer }

/**
 * Materialises the merged root file system of `fs` into `dir`, as `umoci unpack` writes a bundle's
 * `rootfs`: types, permission bits (setuid and friends included), owners (`lchown`), mtimes
 * (to the nanosecond, see {@link TimeRestore}), xattrs (one `setfattr -h --restore` run), devices (`mknod`), FIFOs (`mkfifo`) and
 * hardlinks as hardlinks.
 *
 * `dir` is created when missing; an existing `dir` must be an empty directory (else `ENOTEMPTY`
 * or `ENOTDIR`, nothing written). Nothing is written outside `dir`: every path is built from the
 * merged tree's names (never `..` or `/`), each parent is a directory this call created before its
 * children, files are created with `O_CREAT | O_EXCL | O_NOFOLLOW`, and symlinks are never followed
 * while writing.
 *
 * @example
 * ```ts
 * const summary = await exportTo(fs, '/tmp/rootfs');
 * console.log(`${summary.files} files, ${summary.bytes} bytes`);
 * ```
 */
export async function exportTo(fs: ImageFs, dir: string, options: ExportOptions = {}): Promise<ExportSummary> {
  const chunk = options.chunkSize ?? 1 << 20;
  // The caller's signal, relayed to one of ours: the concurrent reads each listen to it.
  const relay = new AbortController();
  setMaxListeners(0, relay.signal);
  const abort = (): void => relay.abort(options.signal?.reason);
  if (options.signal?.aborted === true) abort();
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    return await exportWith(fs, dir, options, chunk, relay.signal);
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
}

async function exportWith(fs: ImageFs, dir: string, options: ExportOptions, chunk: number, signal: AbortSignal): Promise<ExportSummary> {
  const isRoot = process.getuid?.() === 0;
  const chown = options.chown ?? isRoot;
  const devices = options.devices ?? isRoot;
  const base = Buffer.from(await prepare(dir));
  const tree = fs.tree;
  const summary: ExportSummary = { dirs: 0, files: 0, symlinks: 0, hardlinks: 0, devices: 0, fifos: 0, bytes: 0, xattrs: 0, notes: [] };
  const dump = new XattrDump();
  const times = new TimeRestore();
  const firstPath = new Map<number, Buffer>();
  // Regular files are written by up to `concurrency` tasks at once; a hardlink waits for its file.
  const concurrency = options.concurrency ?? 16;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new TypeError(`options.concurrency must be a positive integer, got ${concurrency}`);
  const writing = new Set<Promise<void>>();
  const written = new Map<number, Promise<void>>();
  let failed: { error: unknown } | undefined;
  const startWrite = async (ino: number, task: () => Promise<void>): Promise<void> => {
    const p: Promise<void> = task().catch((error: unknown) => { failed ??= { error }; }).finally(() => writing.delete(p));
    writing.add(p);
    written.set(ino, p);
    if (writing.size >= concurrency) await Promise.race(writing);
  };
  const settle = async (): Promise<void> => {
    await Promise.all(writing);
    if (failed !== undefined) throw failed.error;
  };
  const ids = { uid: process.geteuid?.(), gid: process.getegid?.() };
  const mask = umask();
  const dirs: Pending[] = [{ ino: ROOT_INO, rel: Buffer.alloc(0) }];
  // Paths are bytes: names that are not UTF-8 are written as they are in the image.
  const stack: [number, Buffer][] = [];
  const pushKids = (dirIno: number, rel: Buffer): void => {
    const kids = [...tree.children(dirIno)];
    for (let i = kids.length - 1; i >= 0; i--) {
      const { name, ino } = kids[i]!;
      if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) throw new FsError('EINVAL', 'export', name);
      const bytes = Buffer.from(encodeRawName(name));
      stack.push([ino, rel.length === 0 ? bytes : Buffer.concat([rel, SLASH, bytes])]);
    }
  };
  const absOf = (rel: Buffer): Buffer => (rel.length === 0 ? base : Buffer.concat([base, SLASH, rel]));
  dump.add('.', tree.xattrs(ROOT_INO));
  pushKids(ROOT_INO, Buffer.alloc(0));
  try {
    while (stack.length > 0) {
      if (failed !== undefined || signal.aborted) await settle();
      throwIfAborted(signal);
      const [ino, rel] = stack.pop()!;
      const abs = absOf(rel);
      const a = tree.attrs(ino);
      const type = a.mode & S_IFMT;
      const perm = a.mode & 0o7777;
      const seen = firstPath.get(ino);
      if (seen !== undefined) {
        await written.get(ino);
        if (failed !== undefined) await settle();
        await link(seen, abs);
        summary.hardlinks++;
        continue;
      }
      if (type !== S_IFDIR && a.nlink > 1) firstPath.set(ino, abs);
      const owner = async (): Promise<void> => { if (chown) await lchown(abs, a.uid, a.gid); };
      if (type === S_IFDIR) {
        await mkdir(abs, 0o700);
        summary.dirs++;
        dirs.push({ ino, rel });
        pushKids(ino, rel);
        continue;
      } else if (type === S_IFREG) {
        // Few syscalls: the owner is set only when it differs from the creator's, the mode at
        // creation when the umask keeps it whole (no special bits: writes and chown may clear those),
        // the size only when the file ends in a hole; small files take one read and one write.
        const ownerNeeded = chown && (a.uid !== ids.uid || a.gid !== ids.gid);
        const modeAtOpen = !ownerNeeded && mask !== undefined && (perm & 0o7000) === 0 && (perm & mask) === 0;
        summary.files++;
        summary.bytes += a.size;
        await startWrite(ino, async () => {
          const fh = await open(abs, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, modeAtOpen ? perm : 0o600);
          try {
            const data = fs.content(ino, '/' + rel.toString(), 'read');
            let end = 0;
            for (let pos = 0; pos < data.size; pos += chunk) {
              const bytes = await data.read(pos, chunk, { signal });
              for (const [from, to] of nonZeroRuns(bytes)) {
                await fh.write(bytes, from, to - from, pos + from);
                end = pos + to;
              }
            }
            // Holes (sparse files, zero runs) stay holes: the size is set, not written.
            if (end !== data.size) await fh.truncate(data.size);
            if (ownerNeeded) await fh.chown(a.uid, a.gid);
            if (!modeAtOpen) await fh.chmod(perm);
          } finally {
            await fh.close();
          }
        });
      } else if (type === S_IFLNK) {
        await symlink(Buffer.from(encodeRawName(tree.readlink(ino))), abs);
        await owner();
        summary.symlinks++;
      } else if (type === S_IFCHR || type === S_IFBLK || type === S_IFIFO) {
        if (type !== S_IFIFO && !devices) {
          summary.notes.push(`/${rel.toString()}: device not created (mknod needs root)`);
          firstPath.delete(ino);
          continue;
        }
        await makeNode(base, abs, a.mode, a.rdevMajor, a.rdevMinor, signal);
        await owner();
        await chmod(abs, perm); // after chown, which clears setuid/setgid bits
        if (type === S_IFIFO) summary.fifos++;
        else summary.devices++;
      } else {
        summary.notes.push(`/${rel.toString()}: sockets cannot be exported; skipped`);
        firstPath.delete(ino);
        continue;
      }
      times.add(rel, a.atime, a.mtime);
      dump.add(rel, tree.xattrs(ino));
    }
  } catch (error) {
    await Promise.all(writing); // no write outlives the call
    throw error;
  }
  await settle();
  // Directories: owners and modes now that their children exist, then xattrs, then times (deepest first).
  for (let i = dirs.length - 1; i >= 0; i--) {
    const { ino, rel } = dirs[i]!;
    const a = tree.attrs(ino);
    const abs = absOf(rel);
    if (chown) await lchown(abs, a.uid, a.gid);
    await chmod(abs, a.mode & 0o7777);
    if (i > 0) dump.add(rel, tree.xattrs(ino));
  }
  if (options.xattrs !== false && dump.count > 0) {
    try {
      await dump.restore(base.toString(), signal);
      summary.xattrs = dump.count;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      summary.notes.push(`${dump.count} extended attributes not set: the setfattr program (Debian package attr) is not installed`);
    }
  }
  for (let i = dirs.length - 1; i >= 0; i--) {
    const { ino, rel } = dirs[i]!;
    const a = tree.attrs(ino);
    times.add(rel.length === 0 ? DOT : rel, a.atime, a.mtime);
  }
  if ((await times.restore(base.toString(), signal)) === 'microseconds') {
    summary.notes.push('times set to the microsecond, not the nanosecond: python3 is not installed (Node\'s utimes keeps microseconds)');
  }
  return summary;
}

const SLASH = Buffer.from('/');
const DOT = Buffer.from('.');

/** Zero runs of this many bytes (a page) are left as holes. */
const HOLE = 4096;
const ZERO_PAGE = Buffer.alloc(HOLE);

/**
 * The `[from, to)` runs of `bytes` to write: everything but whole zero pages, which the file
 * leaves as holes (sparse files and zero runs stay sparse). One run for data without zero pages.
 */
function nonZeroRuns(bytes: Buffer): [number, number][] {
  const runs: [number, number][] = [];
  let start = -1;
  for (let at = 0; at < bytes.length; at += HOLE) {
    const end = Math.min(at + HOLE, bytes.length);
    const zero = end - at === HOLE && bytes.subarray(at, end).equals(ZERO_PAGE);
    if (!zero && start < 0) start = at;
    if (zero && start >= 0) { runs.push([start, at]); start = -1; }
  }
  if (start >= 0) runs.push([start, bytes.length]);
  return runs;
}

/** The process umask, read from /proc (Linux) without changing it; `undefined` when unknown. */
function umask(): number | undefined {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'latin1'));
    return m === null ? undefined : parseInt(m[1]!, 8);
  } catch {
    return undefined;
  }
}

let nodeCount = 0;

/**
 * `mknod` or `mkfifo` (no Node API makes them), with exact device numbers. The node is made under
 * an ASCII name beside its place and renamed there, so that names that are not UTF-8 (which a
 * child's argv cannot carry through Node) keep their bytes.
 */
async function makeNode(base: Buffer, abs: Buffer, mode: number, maj: number, min: number, signal?: AbortSignal): Promise<void> {
  const type = mode & S_IFMT;
  const perm = (mode & 0o7777).toString(8);
  const tmp = `${base.toString()}/.imagefs-node-${process.pid}-${nodeCount++}`;
  const args = type === S_IFIFO ? ['-m', perm, tmp] : ['-m', perm, tmp, type === S_IFCHR ? 'c' : 'b', String(maj), String(min)];
  await run(type === S_IFIFO ? 'mkfifo' : 'mknod', args, { signal });
  await rename(tmp, abs);
}

/** Creates `dir` or checks that it is an empty directory; returns its real path. */
async function prepare(dir: string): Promise<string> {
  const st = await lstat(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw e;
  });
  if (st === null) await mkdir(dir, { recursive: true, mode: 0o755 });
  else if (!st.isDirectory()) throw new FsError('ENOTDIR', 'export', dir);
  else if ((await readdir(dir)).length > 0) throw new FsError('ENOTEMPTY', 'export', dir);
  return realpath(dir);
}
