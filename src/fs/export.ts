import { execFile } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, readdir, realpath, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FsError } from '../errors/fs-error.js';
import { throwIfAborted } from '../errors/image-fs-error.js';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, major, minor } from '../overlay/file-type.js';
import type { ImageFs } from './image-fs.js';
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

interface Pending { node: number; abs: string }

/**
 * Materialises the merged root file system of `fs` into `dir`, as `umoci unpack` writes a bundle's
 * `rootfs`: types, permission bits (setuid and friends included), owners (`lchown`), mtimes
 * (`lutimes`), xattrs (one `setfattr -h --restore` run), devices (`mknod`), FIFOs (`mkfifo`) and
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
  const isRoot = process.getuid?.() === 0;
  const chown = options.chown ?? isRoot;
  const devices = options.devices ?? isRoot;
  const chunk = options.chunkSize ?? 1 << 20;
  const signal = options.signal;
  const base = await prepare(dir);
  const tree = fs.tree;
  const t = tree.inodes;
  const summary: ExportSummary = { dirs: 0, files: 0, symlinks: 0, hardlinks: 0, devices: 0, fifos: 0, bytes: 0, xattrs: 0, notes: [] };
  const dump = new XattrDump();
  const firstPath = new Map<number, string>();
  const dirs: Pending[] = [{ node: 0, abs: base }];
  const stack: [number, string][] = [];
  const pushKids = (node: number, rel: string): void => {
    const kids = [...tree.children(node)];
    for (let i = kids.length - 1; i >= 0; i--) {
      const name = tree.nameOf(kids[i]!);
      if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) throw new FsError('EINVAL', 'export', name);
      stack.push([kids[i]!, rel === '' ? name : `${rel}/${name}`]);
    }
  };
  dump.add('.', tree.xattrs(tree.inodeOf(0)));
  pushKids(0, '');
  while (stack.length > 0) {
    throwIfAborted(signal);
    const [node, rel] = stack.pop()!;
    const abs = join(base, rel);
    const ino = tree.inodeOf(node);
    const mode = t.mode[ino]!;
    const type = mode & S_IFMT;
    const perm = mode & 0o7777;
    const seen = firstPath.get(ino);
    if (seen !== undefined) {
      await link(seen, abs);
      summary.hardlinks++;
      continue;
    }
    if (type !== S_IFDIR && t.nlink[ino]! > 1) firstPath.set(ino, abs);
    const owner = async (): Promise<void> => { if (chown) await lchown(abs, t.uid[ino]!, t.gid[ino]!); };
    const mtime = t.mtime[ino]!;
    if (type === S_IFDIR) {
      await mkdir(abs, 0o700);
      summary.dirs++;
      dirs.push({ node, abs });
      pushKids(node, rel);
    } else if (type === S_IFREG) {
      const fh = await open(abs, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
      try {
        const data = fs.fileData(node, '/' + rel, 'read');
        for (let pos = 0; pos < data.size; pos += chunk) {
          const bytes = await data.read(pos, chunk, { signal });
          await fh.write(bytes, 0, bytes.length, pos);
        }
        summary.bytes += data.size;
        if (chown) await fh.chown(t.uid[ino]!, t.gid[ino]!);
        await fh.chmod(perm);
        await fh.utimes(mtime, mtime);
      } finally {
        await fh.close();
      }
      summary.files++;
    } else if (type === S_IFLNK) {
      await symlink(tree.linkTarget(ino), abs);
      await owner();
      await lutimes(abs, mtime, mtime);
      summary.symlinks++;
    } else if (type === S_IFCHR || type === S_IFBLK || type === S_IFIFO) {
      if (type !== S_IFIFO && !devices) {
        summary.notes.push(`/${rel}: device not created (mknod needs root)`);
        firstPath.delete(ino);
        continue;
      }
      const rdev = t.aux[ino]!;
      const args = type === S_IFIFO ? ['-m', perm.toString(8), abs] : ['-m', perm.toString(8), abs, type === S_IFCHR ? 'c' : 'b', String(major(rdev)), String(minor(rdev))];
      await run(type === S_IFIFO ? 'mkfifo' : 'mknod', args, { signal });
      await owner();
      await chmod(abs, perm); // after chown, which clears setuid/setgid bits
      await lutimes(abs, mtime, mtime);
      if (type === S_IFIFO) summary.fifos++;
      else summary.devices++;
    } else {
      summary.notes.push(`/${rel}: sockets cannot be exported; skipped`);
      firstPath.delete(ino);
      continue;
    }
    dump.add(rel, tree.xattrs(ino));
  }
  // Directories: owners and modes now that their children exist, then xattrs, then times (deepest first).
  for (let i = dirs.length - 1; i >= 0; i--) {
    const { node, abs } = dirs[i]!;
    const ino = tree.inodeOf(node);
    if (chown) await lchown(abs, t.uid[ino]!, t.gid[ino]!);
    await chmod(abs, t.mode[ino]! & 0o7777);
  }
  if (options.xattrs !== false && dump.count > 0) {
    try {
      await dump.restore(base, signal);
      summary.xattrs = dump.count;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      summary.notes.push(`${dump.count} extended attributes not set: the setfattr program (Debian package attr) is not installed`);
    }
  }
  for (let i = dirs.length - 1; i >= 0; i--) {
    const { node, abs } = dirs[i]!;
    const m = t.mtime[tree.inodeOf(node)]!;
    await lutimes(abs, m, m);
  }
  return summary;
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
