import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG } from '../overlay/file-type.js';
import { ROOT_INO } from '../tree/types.js';
import type { UpperTree } from './upper-tree.js';

/** One entry of the layer an upper commits to, in tar order. */
export type DiffEntry =
  | { kind: 'whiteout'; path: string }
  | { kind: 'opaque'; dir: string }
  | { kind: 'node'; path: string; ino: number; hardlinkTo?: string };

/**
 * What the upper changed, as the entries of one OCI layer over the lower tree, compared path by
 * path: names gone from a lower directory become `.wh.NAME`; a directory that stands where the
 * lower has a different directory (a renamed or remade one) is written whole after a
 * `.wh..wh..opq` marker; new and changed inodes are written (a renamed lower file with its
 * data); unchanged lower entries are left out. Every name of a hardlinked inode is written once
 * any of them is (the first as the inode, the others as hardlinks to it), so the layer keeps
 * them one inode. The root's own attributes are not part of a layer.
 *
 * @example
 * ```ts
 * for (const e of diffUpper(upper)) console.log(e.kind, 'path' in e ? e.path : e.dir);
 * ```
 */
export function diffUpper(upper: UpperTree): DiffEntry[] {
  const lower = upper.lower;
  const out: DiffEntry[] = [];
  const needed = new Set<number>();
  const pathsOf = new Map<number, string[]>();

  const visit = (u: number, l: number, prefix: string): void => {
    const names = new Set<string>();
    for (const { name, ino } of upper.children(u)) {
      names.add(name);
      const path = prefix + name;
      const lowerIno = l === 0 ? 0 : lower.lookup(l, name);
      const type = upper.modeOf(ino) & S_IFMT;
      if (type === S_IFDIR) {
        const lowerIsDir = lowerIno !== 0 && (lower.modeOf(lowerIno) & S_IFMT) === S_IFDIR;
        if (lowerIsDir && lowerIno === ino) {
          if (upper.isChanged(ino)) out.push({ kind: 'node', path, ino });
          visit(ino, lowerIno, `${path}/`);
        } else {
          out.push({ kind: 'node', path, ino });
          if (lowerIsDir) out.push({ kind: 'opaque', dir: path });
          visit(ino, 0, `${path}/`);
        }
        continue;
      }
      if (![S_IFREG, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO].includes(type)) continue; // sockets are not layer content
      const same = lowerIno === ino && !upper.isChanged(ino);
      if (!same) needed.add(ino);
      if (upper.attrs(ino).nlink > 1 || !same) {
        const list = pathsOf.get(ino) ?? [];
        list.push(path);
        pathsOf.set(ino, list);
        out.push({ kind: 'node', path, ino });
      }
    }
    if (l !== 0) for (const { name } of lower.children(l)) if (!names.has(name)) out.push({ kind: 'whiteout', path: prefix + name });
  };
  visit(ROOT_INO, ROOT_INO, '');

  // Whiteouts first in each directory does not matter to readers (they apply them first); keep
  // only the names of inodes that must be written, the first of each as the inode.
  const first = new Map<number, string>();
  const result: DiffEntry[] = [];
  for (const e of out) {
    if (e.kind !== 'node' || (upper.modeOf(e.ino) & S_IFMT) === S_IFDIR) { result.push(e); continue; }
    if (!needed.has(e.ino)) continue;
    const f = first.get(e.ino);
    if (f === undefined) { first.set(e.ino, e.path); result.push(e); } else result.push({ ...e, hardlinkTo: f });
  }
  return result;
}
