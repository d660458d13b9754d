import type { SparseMap } from '../tar/entry.js';
import { decodeRawName, encodeRawName } from '../tar/raw-name.js';
import { S_IFDIR, S_IFMT } from './file-type.js';
import type { BytePool, InodeTable } from './inode-table.js';
import type { MergeWarning } from './warnings.js';

/** One extended attribute: name and value. */
export type Xattr = readonly [name: string, value: Uint8Array];

/** atime and ctime of an inode whose archive gave them: `[atimeSec, atimeNsec, ctimeSec, ctimeNsec]`. */
export type ExtraTimes = readonly [number, number, number, number];

/** The directory-entry columns of a {@link MergedTree}; index = node number (root = 0). */
export interface DentryColumns {
  /** Parent node (the root is its own parent). */
  parent: Int32Array;
  /** Inode index (into {@link MergedTree.inodes}). */
  inode: Uint32Array;
  /** Offset of the name's bytes in the byte pool. */
  nameStart: Uint32Array;
  /** Byte length of the name. */
  nameLen: Uint16Array;
  /** First child node of a directory (children are consecutive, sorted by name bytes). */
  firstChild: Uint32Array;
  /** Number of children of a directory (0 for everything else). */
  childCount: Uint32Array;
}

/** What {@link MergedTree}'s constructor takes (made by `MergeBuilder.finish`). */
export interface MergedTreeParts {
  /** Directory entries. */
  dentries: DentryColumns;
  /** Inode attributes. */
  inodes: InodeTable;
  /** Names and symlink targets. */
  pool: BytePool;
  /** Extended attributes by inode, sorted by name. */
  xattrs: Map<number, Xattr[]>;
  /** atime and ctime by inode, where the archive had them. */
  times: Map<number, ExtraTimes>;
  /** Sparse maps of sparse files, by inode. */
  sparse: Map<number, SparseMap>;
  /** The node of each directory inode (-1 for other inodes). */
  dirNode: Int32Array;
  /** Kept warnings. */
  warnings: MergeWarning[];
  /** All warnings, kept or not. */
  warningCount: number;
  /** Number of layers merged. */
  layers: number;
}

const EMPTY: readonly Xattr[] = [];

/**
 * The merged, read-only tree of an image: directory entries and inodes in typed arrays, names in
 * one byte pool, no per-entry objects. Node 0 is the root. A directory's children are consecutive
 * nodes sorted by the bytes of their names, so lookups are binary searches and listings are
 * sorted. Hardlinks are several nodes sharing one inode.
 *
 * Nodes and inodes are plain numbers; the accessors below read the columns.
 */
export class MergedTree {
  /** Directory entries. */
  readonly dentries: DentryColumns;
  /** Inode attributes (`inodes.count` inodes). */
  readonly inodes: InodeTable;
  /** Warnings of the merge (up to {@link MAX_KEPT_WARNINGS}). */
  readonly warnings: readonly MergeWarning[];
  /** Number of warnings of the merge, including those not kept. */
  readonly warningCount: number;
  /** Number of layers merged. */
  readonly layerCount: number;
  private readonly pool: Uint8Array;
  private readonly xattrMap: Map<number, Xattr[]>;
  private readonly timeMap: Map<number, ExtraTimes>;
  private readonly sparseMap: Map<number, SparseMap>;
  private readonly dirNodes: Int32Array;

  constructor(parts: MergedTreeParts) {
    this.dentries = parts.dentries;
    this.inodes = parts.inodes;
    this.pool = parts.pool.bytes;
    this.xattrMap = parts.xattrs;
    this.timeMap = parts.times;
    this.sparseMap = parts.sparse;
    this.dirNodes = parts.dirNode;
    this.warnings = parts.warnings;
    this.warningCount = parts.warningCount;
    this.layerCount = parts.layers;
  }

  /** The number of nodes (directory entries, the root included). */
  get nodeCount(): number {
    return this.dentries.inode.length;
  }

  /** The inode of a node. */
  inodeOf(node: number): number {
    return this.dentries.inode[node]!;
  }

  /** The parent of a node (the root's parent is the root). */
  parentOf(node: number): number {
    return this.dentries.parent[node]!;
  }

  /** The name of a node (`''` for the root), as a raw-name string (see `tar/raw-name.ts`). */
  nameOf(node: number): string {
    const s = this.dentries.nameStart[node]!;
    return decodeRawName(this.pool.subarray(s, s + this.dentries.nameLen[node]!));
  }

  /** The node of a directory inode, or -1 when the inode is not a directory. */
  dirNodeOf(ino: number): number {
    return this.dirNodes[ino] ?? -1;
  }

  /** True when the node is a directory. */
  isDir(node: number): boolean {
    return (this.inodes.mode[this.inodeOf(node)]! & S_IFMT) === S_IFDIR;
  }

  /** The children of a directory node, sorted by name (empty for anything else). */
  *children(node: number): Generator<number> {
    const first = this.dentries.firstChild[node]!;
    const end = first + this.dentries.childCount[node]!;
    for (let c = first; c < end; c++) yield c;
  }

  /** The child of directory `dir` named `name`, or -1. */
  lookup(dir: number, name: string): number {
    const key = encodeRawName(name);
    const d = this.dentries;
    let lo = d.firstChild[dir]!;
    let hi = lo + d.childCount[dir]! - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareBytes(this.pool, d.nameStart[mid]!, d.nameLen[mid]!, key);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** The absolute path of a node (`/` for the root). */
  pathOf(node: number): string {
    const names: string[] = [];
    for (let n = node; n !== 0; n = this.parentOf(n)) names.push(this.nameOf(n));
    return '/' + names.reverse().join('/');
  }

  /** A symlink inode's target (raw-name string). */
  linkTarget(ino: number): string {
    const s = this.inodes.aux[ino]!;
    return decodeRawName(this.pool.subarray(s, s + this.inodes.size[ino]!));
  }

  /** atime and ctime of an inode, when its archive gave them. */
  extraTimes(ino: number): ExtraTimes | undefined {
    return this.timeMap.get(ino);
  }

  /** The sparse map of a sparse file inode. */
  sparseOf(ino: number): SparseMap | undefined {
    return this.sparseMap.get(ino);
  }

  /** The extended attributes of an inode, sorted by name. */
  xattrs(ino: number): readonly Xattr[] {
    return this.xattrMap.get(ino) ?? EMPTY;
  }

  /** Bytes held by the tree's columns, pool and xattr values (not counting JS object overhead of xattr entries). */
  get byteLength(): number {
    const d = this.dentries;
    let x = 0;
    for (const list of this.xattrMap.values()) for (const [n, v] of list) x += n.length + v.byteLength;
    return d.parent.byteLength + d.inode.byteLength + d.nameStart.byteLength + d.nameLen.byteLength
      + d.firstChild.byteLength + d.childCount.byteLength + this.inodes.byteLength + this.pool.byteLength + x
      + this.dirNodes.byteLength + this.timeMap.size * 48 + [...this.sparseMap.values()].reduce((n, m) => n + m.length * 8, 0);
  }
}

function compareBytes(pool: Uint8Array, start: number, len: number, key: Uint8Array): number {
  const n = Math.min(len, key.length);
  for (let i = 0; i < n; i++) {
    const d = pool[start + i]! - key[i]!;
    if (d !== 0) return d;
  }
  return len - key.length;
}
