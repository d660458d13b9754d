import type { ReadAtSource } from '../source/read-at.js';
import { FileData } from '../tree/file-data.js';
import { ROOT_INO, type FileContent, type FsTree, type NodeAttrs, type TreeDirEntry } from '../tree/types.js';
import { S_IFBLK, S_IFCHR, S_IFLNK, S_IFMT, S_IFREG } from './file-type.js';
import type { MergedTree, Xattr } from './merged-tree.js';

const EMPTY_SOURCE: ReadAtSource = { size: 0, readAt: async () => new Uint8Array(0) };

/**
 * The merged image as an {@link FsTree}: a {@link MergedTree} (metadata) joined to the layers'
 * uncompressed tars (file data). Inode numbers are the tree's inode indexes + 1, so the root is
 * {@link ROOT_INO} and every lookup by number is an array access.
 *
 * @example
 * ```ts
 * const tree = new ImageTree(await mergeLayers(layers), layers.map((l) => l.data));
 * tree.attrs(tree.lookup(ROOT_INO, 'etc')).mode;
 * ```
 */
export class ImageTree implements FsTree {
  constructor(
    /** The merged metadata. */
    readonly merged: MergedTree,
    private readonly sources: readonly ReadAtSource[],
  ) {
    if (sources.length < merged.layerCount) throw new TypeError(`the tree has ${merged.layerCount} layers but ${sources.length} sources were given`);
  }

  /** Inodes in the tree. */
  get inodeCount(): number {
    return this.merged.inodes.count;
  }

  /** Sum of the regular files' sizes. */
  get totalBytes(): number {
    const t = this.merged.inodes;
    let n = 0;
    for (let i = 0; i < t.count; i++) if ((t.mode[i]! & S_IFMT) === S_IFREG) n += t.size[i]!;
    return n;
  }

  private index(ino: number): number {
    const i = ino - 1;
    if (!Number.isInteger(i) || i < 0 || i >= this.merged.inodes.count) throw new RangeError(`no inode ${ino} in this tree`);
    return i;
  }

  lookup(dir: number, name: string): number {
    const node = this.merged.dirNodeOf(this.index(dir));
    if (node < 0) return 0;
    const child = this.merged.lookup(node, name);
    return child < 0 ? 0 : this.merged.inodeOf(child) + 1;
  }

  parentOf(dir: number): number {
    const node = this.merged.dirNodeOf(this.index(dir));
    if (node < 0) throw new RangeError(`inode ${dir} is not a directory`);
    return this.merged.inodeOf(this.merged.parentOf(node)) + 1;
  }

  dirName(dir: number): string {
    const node = this.merged.dirNodeOf(this.index(dir));
    if (node < 0) throw new RangeError(`inode ${dir} is not a directory`);
    return this.merged.nameOf(node);
  }

  modeOf(ino: number): number {
    return this.merged.inodes.mode[this.index(ino)]!;
  }

  attrs(ino: number): NodeAttrs {
    const i = this.index(ino);
    const t = this.merged.inodes;
    const mode = t.mode[i]!;
    const type = mode & S_IFMT;
    const isDev = type === S_IFCHR || type === S_IFBLK;
    const mtime = { sec: t.mtimeSec[i]!, nsec: t.mtimeNsec[i]! };
    const extra = this.merged.extraTimes(i);
    return {
      ino, mode, nlink: t.nlink[i]!, uid: t.uid[i]!, gid: t.gid[i]!,
      size: isDev ? 0 : t.size[i]!,
      rdevMajor: isDev ? t.size[i]! : 0,
      rdevMinor: isDev ? t.aux[i]! : 0,
      mtime,
      atime: extra === undefined ? mtime : { sec: extra[0], nsec: extra[1] },
      ctime: extra === undefined ? mtime : { sec: extra[2], nsec: extra[3] },
    };
  }

  *children(dir: number): Generator<TreeDirEntry> {
    const node = this.merged.dirNodeOf(this.index(dir));
    if (node < 0) return;
    for (const c of this.merged.children(node)) yield { name: this.merged.nameOf(c), ino: this.merged.inodeOf(c) + 1 };
  }

  childCount(dir: number): number {
    const node = this.merged.dirNodeOf(this.index(dir));
    return node < 0 ? 0 : this.merged.dentries.childCount[node]!;
  }

  readlink(ino: number): string {
    const i = this.index(ino);
    if ((this.merged.inodes.mode[i]! & S_IFMT) !== S_IFLNK) throw new RangeError(`inode ${ino} is not a symlink`);
    return this.merged.linkTarget(i);
  }

  xattrs(ino: number): readonly Xattr[] {
    return this.merged.xattrs(this.index(ino));
  }

  content(ino: number): FileContent {
    const i = this.index(ino);
    const t = this.merged.inodes;
    if ((t.mode[i]! & S_IFMT) !== S_IFREG) throw new RangeError(`inode ${ino} is not a regular file`);
    const size = t.size[i]!;
    return new FileData(size === 0 ? EMPTY_SOURCE : this.sources[t.layer[i]!]!, t.aux[i]!, size, this.merged.sparseOf(i));
  }
}

