import { FsError } from '../errors/fs-error.js';
import { S_IFLNK, S_IFMT } from '../overlay/file-type.js';
import type { MergedTree } from '../overlay/merged-tree.js';

/** The most symlinks one path resolution follows before it fails with `ELOOP` (Linux's limit). */
export const MAX_SYMLINKS = 40;

/** Options of {@link resolvePath}. */
export interface ResolveOptions {
  /** Follow a symlink in the last component (`stat`) or not (`lstat`). */
  follow: boolean;
  /** The call to name in errors (`stat`, `open`, ...). */
  syscall: string;
}

/**
 * Resolves a path to a node of the tree as the kernel does inside a chroot at the image root:
 * relative paths start at the root, absolute symlink targets restart at the root, `..` at the
 * root stays there (and after a symlink goes to the physical parent), a trailing `/` or `/.`
 * demands a directory, and more than {@link MAX_SYMLINKS} symlinks give `ELOOP`. Fails with
 * `ENOENT`, `ENOTDIR` or `ELOOP`, as an {@link FsError} naming `syscall` and `path`.
 *
 * @example
 * ```ts
 * const node = resolvePath(tree, '/usr/bin/../lib', { follow: true, syscall: 'stat' });
 * ```
 */
export function resolvePath(tree: MergedTree, path: string, options: ResolveOptions): number {
  const fail = (code: 'ENOENT' | 'ENOTDIR' | 'ELOOP'): FsError => new FsError(code, options.syscall, path);
  if (typeof path !== 'string') throw new TypeError(`the path must be a string, got ${typeof path}`);
  if (path === '' || path.includes('\0')) throw fail('ENOENT');
  // Components in reverse, so that symlink targets can be pushed in front of the rest.
  const pending = components(path).reverse();
  let node = 0;
  let links = 0;
  while (pending.length > 0) {
    const part = pending.pop()!;
    if (!tree.isDir(node)) throw fail('ENOTDIR');
    if (part === '.') continue;
    if (part === '..') {
      node = tree.parentOf(node);
      continue;
    }
    const child = tree.lookup(node, part);
    if (child < 0) throw fail('ENOENT');
    const ino = tree.inodeOf(child);
    const isLink = (tree.inodes.mode[ino]! & S_IFMT) === S_IFLNK;
    if (isLink && (pending.length > 0 || options.follow)) {
      if (++links > MAX_SYMLINKS) throw fail('ELOOP');
      const target = tree.linkTarget(ino);
      if (target === '' || target.includes('\0')) throw fail('ENOENT');
      for (const t of components(target).reverse()) pending.push(t);
      if (target.startsWith('/')) node = 0;
      continue;
    }
    node = child;
  }
  return node;
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
