import { FsError } from '../errors/fs-error.js';
import { S_IFDIR, S_IFLNK, S_IFMT } from '../overlay/file-type.js';
import { ROOT_INO, type FsTree } from '../tree/types.js';

/** The most symlinks one path resolution follows before it fails with `ELOOP` (Linux's limit). */
export const MAX_SYMLINKS = 40;

/** Options of {@link resolvePath}. */
export interface ResolveOptions {
  /** Follow a symlink in the last component (`stat`) or not (`lstat`). */
  follow: boolean;
  /** The call to name in errors (`stat`, `open`, ...). */
  syscall: string;
  /** The path as the caller gave it, for errors (default: `path`). */
  display?: string;
}

/** Where a path led: the inode, and the directory entry that named it. */
export interface Resolved {
  /** The inode the path names. */
  ino: number;
  /** The directory that holds the last entry walked (the root for the root). */
  parent: number;
  /** The name of that entry (`''` for the root). */
  name: string;
}

/**
 * Resolves a path to an inode of the tree as the kernel does inside a chroot at the image root:
 * relative paths start at the root, absolute symlink targets restart at the root, `..` at the
 * root stays there (and after a symlink goes to the physical parent), a trailing `/` or `/.`
 * demands a directory, and more than {@link MAX_SYMLINKS} symlinks give `ELOOP`. Fails with
 * `ENOENT`, `ENOTDIR` or `ELOOP`, as an {@link FsError} naming `syscall` and `path`.
 *
 * `path` is a raw-name string (see `tar/raw-name.ts`).
 *
 * @example
 * ```ts
 * const { ino } = resolvePath(tree, '/usr/bin/../lib', { follow: true, syscall: 'stat' });
 * ```
 */
export function resolvePath(tree: FsTree, path: string, options: ResolveOptions): Resolved {
  const fail = (code: 'ENOENT' | 'ENOTDIR' | 'ELOOP'): FsError => new FsError(code, options.syscall, options.display ?? path);
  if (typeof path !== 'string') throw new TypeError(`the path must be a string, got ${typeof path}`);
  if (path === '' || path.includes('\0')) throw fail('ENOENT');
  // Components in reverse, so that symlink targets can be pushed in front of the rest.
  const pending = components(path).reverse();
  let ino = ROOT_INO;
  let parent = ROOT_INO;
  let name = '';
  let links = 0;
  while (pending.length > 0) {
    const part = pending.pop()!;
    if ((tree.modeOf(ino) & S_IFMT) !== S_IFDIR) throw fail('ENOTDIR');
    if (part === '.') continue;
    if (part === '..') {
      ino = tree.parentOf(ino);
      parent = ino === ROOT_INO ? ROOT_INO : tree.parentOf(ino);
      name = tree.dirName(ino);
      continue;
    }
    const child = tree.lookup(ino, part);
    if (child === 0) throw fail('ENOENT');
    const isLink = (tree.modeOf(child) & S_IFMT) === S_IFLNK;
    if (isLink && (pending.length > 0 || options.follow)) {
      if (++links > MAX_SYMLINKS) throw fail('ELOOP');
      const target = tree.readlink(child);
      if (target === '' || target.includes('\0')) throw fail('ENOENT');
      for (const t of components(target).reverse()) pending.push(t);
      if (target.startsWith('/')) { ino = ROOT_INO; parent = ROOT_INO; name = ''; }
      continue;
    }
    parent = ino;
    name = part;
    ino = child;
  }
  return { ino, parent, name };
}

/** The absolute path of a directory inode, from its parents (`/` for the root). */
export function dirPath(tree: FsTree, dir: number): string {
  const names: string[] = [];
  for (let d = dir; d !== ROOT_INO;) {
    names.push(tree.dirName(d));
    d = tree.parentOf(d);
  }
  return '/' + names.reverse().join('/');
}

/**
 * Splits a path into components without `''`; a trailing `/` becomes a final `.` (which makes
 * resolution demand a directory and follow a final symlink, as the kernel does).
 */
function components(path: string): string[] {
  const parts = path.split('/').filter((p) => p !== '');
  if (path.endsWith('/') && parts.length > 0) parts.push('.');
  return parts;
}

/** Normalises a path for display: absolute, no repeated or trailing `/` (the root is `/`). */
export function displayPath(path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  return '/' + parts.join('/');
}
