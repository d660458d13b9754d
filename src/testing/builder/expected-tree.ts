import type { EntryType } from '../../tar/entry.js';
import type { TarRecord } from './tar-writer.js';

/** One path of the merged root filesystem the layers are meant to produce. */
export interface ExpectedNode {
  /** Relative path (`etc/passwd`). */
  path: string;
  /** Never `hardlink`: a hardlink is a `file` (or other type) sharing its target's inode. */
  type: Exclude<EntryType, 'hardlink'>;
  /** Permission and special bits (`0o7777`). */
  mode: number;
  /** Owner. */
  uid: number;
  /** Group. */
  gid: number;
  /** Seconds since the epoch (fractions kept). */
  mtime: number;
  /** File content (files only). */
  data?: Uint8Array;
  /** Symlink target. */
  linkTarget?: string;
  /** Device major number. */
  devMajor?: number;
  /** Device minor number. */
  devMinor?: number;
  /** Extended attributes by name. */
  xattrs: Record<string, Uint8Array>;
  /** Identity of the inode: paths joined by hardlinks share it. */
  inode: number;
}

const WH = '.wh.';
const OPQ = '.wh..wh..opq';

function parentOf(path: string): string {
  const cut = path.lastIndexOf('/');
  return cut < 0 ? '' : path.slice(0, cut);
}

function baseOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function removeTree(tree: Map<string, ExpectedNode>, path: string): void {
  tree.delete(path);
  const prefix = `${path}/`;
  for (const key of [...tree.keys()]) if (key.startsWith(prefix)) tree.delete(key);
}

/**
 * Applies layers (base first) as the OCI image spec says and returns the merged tree, keyed by
 * path (the root itself is not listed). Within a layer, opaque markers and whiteouts act on the
 * lower layers only, wherever they stand in the tar; whiteout files never appear. A directory over
 * a directory keeps the lower children and takes the upper attributes; anything else replaces the
 * lower path with its whole subtree. Hardlinks resolve against the merged tree so far.
 * Missing parents are not invented: build layers that declare their directories.
 *
 * @example
 * ```ts
 * const tree = expectedTree([[dir('etc'), file('etc/a', 'x')], [whiteout('etc/a')]]);
 * tree.has('etc/a'); // false
 * ```
 */
export function expectedTree(layers: ReadonlyArray<readonly TarRecord[]>): Map<string, ExpectedNode> {
  const tree = new Map<string, ExpectedNode>();
  let inode = 0;
  for (const layer of layers) {
    for (const r of layer) {
      const name = baseOf(r.path);
      if (name === OPQ) {
        const prefix = `${parentOf(r.path)}/`;
        for (const key of [...tree.keys()]) if (key.startsWith(prefix)) tree.delete(key);
      }
    }
    for (const r of layer) {
      const name = baseOf(r.path);
      if (name !== OPQ && name.startsWith(WH)) {
        const parent = parentOf(r.path);
        removeTree(tree, parent === '' ? name.slice(WH.length) : `${parent}/${name.slice(WH.length)}`);
      }
    }
    for (const r of layer) {
      if (baseOf(r.path).startsWith(WH)) continue;
      const existing = tree.get(r.path);
      if (r.type === 'hardlink') {
        const target = tree.get(r.linkTarget ?? '');
        if (!target) throw new TypeError(`hardlink '${r.path}' points to '${r.linkTarget}', which the layers so far do not hold`);
        if (existing) removeTree(tree, r.path);
        tree.set(r.path, { ...target, path: r.path });
        continue;
      }
      const node: ExpectedNode = {
        path: r.path,
        type: r.type,
        mode: r.mode & 0o7777,
        uid: r.uid,
        gid: r.gid,
        mtime: r.mtime,
        xattrs: { ...(r.xattrs ?? {}) },
        inode: ++inode,
      };
      if (r.type === 'file') node.data = r.data ?? new Uint8Array(0);
      if (r.linkTarget !== undefined && r.type === 'symlink') node.linkTarget = r.linkTarget;
      if (r.type === 'char' || r.type === 'block') {
        node.devMajor = r.devMajor ?? 0;
        node.devMinor = r.devMinor ?? 0;
      }
      if (existing && !(existing.type === 'dir' && r.type === 'dir')) removeTree(tree, r.path);
      tree.set(r.path, node);
    }
  }
  return tree;
}

/** The number of paths sharing each inode of a tree (the `nlink` a file should show). */
export function linkCounts(tree: Map<string, ExpectedNode>): Map<number, number> {
  const counts = new Map<number, number>();
  for (const node of tree.values()) counts.set(node.inode, (counts.get(node.inode) ?? 0) + 1);
  return counts;
}
