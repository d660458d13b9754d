import type { FsError, FsErrorCode } from '../errors/fs-error.js';
import { S_IFDIR, S_IFMT } from '../overlay/file-type.js';
import { ROOT_INO, type FsTree } from '../tree/types.js';

const NOREPLACE = 1;
const EXCHANGE = 2;
const WHITEOUT = 4;

/**
 * Checks a `renameat2` in the order Linux does (flags, source, `RENAME_NOREPLACE`, `RENAME_EXCHANGE`,
 * loops, then the types of source and target) and throws the first error. Returns true when the
 * rename is a no-op (both names are one inode), as `rename(2)` then does nothing.
 *
 * @example
 * ```ts
 * if (!checkRename(tree, 1, 'a', 1, 'b', 0, (code) => new FsError(code, 'rename', 'a', 'b'))) apply();
 * ```
 */
export function checkRename(
  tree: FsTree, fromDir: number, fromName: string, toDir: number, toName: string, flags: number, fail: (code: FsErrorCode) => FsError,
): boolean {
  if (!Number.isInteger(flags) || flags < 0 || (flags & ~7) !== 0) throw fail('EINVAL');
  if (flags & EXCHANGE && flags & (NOREPLACE | WHITEOUT)) throw fail('EINVAL');
  const isDir = (ino: number): boolean => (tree.modeOf(ino) & S_IFMT) === S_IFDIR;
  if (!isDir(fromDir) || !isDir(toDir)) throw fail('ENOTDIR');
  const src = tree.lookup(fromDir, fromName);
  if (src === 0) throw fail('ENOENT');
  const dst = tree.lookup(toDir, toName);
  if (flags & NOREPLACE && dst !== 0) throw fail('EEXIST');
  if (flags & EXCHANGE && dst === 0) throw fail('ENOENT');
  if (isDir(src) && isWithin(tree, toDir, src)) throw fail('EINVAL');
  if (dst !== 0 && isDir(dst) && isWithin(tree, fromDir, dst)) throw fail(flags & EXCHANGE ? 'EINVAL' : 'ENOTEMPTY');
  if (src === dst) return true;
  if (!(flags & EXCHANGE) && dst !== 0) {
    if (isDir(src) && !isDir(dst)) throw fail('ENOTDIR');
    if (!isDir(src) && isDir(dst)) throw fail('EISDIR');
    if (isDir(dst) && !isEmpty(tree, dst)) throw fail('ENOTEMPTY');
  }
  return false;
}

/** True when directory `dir` has no entries (cheaply, when the tree can tell: `UpperTree.isEmpty`). */
function isEmpty(tree: FsTree, dir: number): boolean {
  const t = tree as FsTree & { isEmpty?(ino: number): boolean };
  return t.isEmpty !== undefined ? t.isEmpty(dir) : tree.childCount(dir) === 0;
}

/**
 * True when directory `dir` is `ancestor` or below it.
 *
 * @example
 * ```ts
 * isWithin(tree, tree.lookup(ROOT_INO, 'usr'), ROOT_INO); // true
 * ```
 */
export function isWithin(tree: FsTree, dir: number, ancestor: number): boolean {
  for (let d = dir; ; d = tree.parentOf(d)) {
    if (d === ancestor) return true;
    if (d === ROOT_INO) return false;
  }
}
