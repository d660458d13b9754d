import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../overlay/file-type.js';
import { encodeRawName } from '../tar/raw-name.js';
import type { FileContent, FsTree, NodeAttrs, Timespec, TreeDirEntry } from '../tree/types.js';
import { ExtentContent, type DataRef } from './extent-content.js';
import type { Journal } from './journal.js';

/** A directory's own entries over its lower directory (`lower` 0: none). `0` as an entry is a whiteout. */
export interface DirState {
  /** Names mapped to inodes (0: a whiteout). */
  entries: Map<string, number>;
  /** The lower directory merged under (0: none). */
  lower: number;
  /** The merged listing, until an entry changes. */
  listing: TreeDirEntry[] | null;
  /** Subdirectories (for `nlink`), counted on first need and kept up to date after. */
  subdirs: number | null;
}

/** An inode the upper holds: new, or a lower inode copied up (metadata always; data only once written). */
export interface UNode {
  /** Its attributes (a regular file's size is its content's). */
  attrs: NodeAttrs;
  /** Its xattrs, sorted; null: the lower inode's. */
  xattrs: [string, Uint8Array][] | null;
  /** Symlinks: the target. */
  target?: string;
  /** Regular files whose data changed. */
  content?: ExtentContent;
  /** Directories whose entries changed. */
  dir?: DirState;
  /** Directories the upper made or moved: where they are. */
  parent?: number;
  /** Directories the upper made or moved: their name. */
  name?: string;
  /** Open handles by inode (counted by `retain` and `release`). */
  open: number;
}

/** Compares two raw-name strings by their bytes. */
export const cmpBytes = (a: string, b: string): number => Buffer.compare(encodeRawName(a), encodeRawName(b));
/** A copy of a time. */
export const copyTime = (t: Timespec): Timespec => ({ sec: t.sec, nsec: t.nsec });

/**
 * The state of an upper layer and its read side: the inodes it holds over a lower tree, and the
 * {@link FsTree} answers merged from both. `UpperTree` adds the changes.
 *
 * @example
 * ```ts
 * const upper: UpperState = UpperTree.open(lower);
 * upper.isChanged(upper.lookup(ROOT_INO, 'etc')); // false until something changes it
 * ```
 */
export abstract class UpperState implements FsTree {
  protected readonly nodes = new Map<number, UNode>();
  protected readonly lowerMax: number;
  protected nextIno: number;
  protected dataBytes = 0;

  protected constructor(readonly lower: FsTree, protected readonly journal: Journal | null) {
    this.lowerMax = lower.inodeCount;
    this.nextIno = this.lowerMax + 1;
  }

  /** True when inode `ino` is new in the upper, or a lower inode the upper changed. */
  isChanged(ino: number): boolean {
    return this.nodes.has(ino) || ino > this.lowerMax;
  }

  /** True when `ino` is a lower inode whose data was written or truncated (not only its metadata). */
  dataChanged(ino: number): boolean {
    return this.nodes.get(ino)?.content !== undefined;
  }

  /** True for an inode of the lower tree (whatever the upper did to it). */
  isLowerInode(ino: number): boolean {
    return ino <= this.lowerMax;
  }

  /** Bytes of written data the upper holds (in memory or in its journal). */
  get writtenBytes(): number {
    return this.dataBytes;
  }

  // ---- FsTree ----

  get inodeCount(): number {
    return this.lowerMax + (this.nextIno - this.lowerMax - 1);
  }

  get totalBytes(): number {
    return this.lower.totalBytes + this.dataBytes;
  }

  lookup(dir: number, name: string): number {
    const n = this.nodes.get(dir);
    if (n !== undefined) {
      if ((n.attrs.mode & S_IFMT) !== S_IFDIR) return 0;
      if (n.dir === undefined) return this.lower.lookup(dir, name);
      const e = n.dir.entries.get(name);
      if (e !== undefined) return e;
      return n.dir.lower === 0 ? 0 : this.lower.lookup(n.dir.lower, name);
    }
    return dir <= this.lowerMax ? this.lower.lookup(dir, name) : this.missing(dir);
  }

  parentOf(dir: number): number {
    const n = this.nodes.get(dir);
    return n?.parent ?? (dir <= this.lowerMax ? this.lower.parentOf(dir) : this.missing(dir));
  }

  dirName(dir: number): string {
    const n = this.nodes.get(dir);
    return n?.name ?? (dir <= this.lowerMax ? this.lower.dirName(dir) : this.missing(dir));
  }

  modeOf(ino: number): number {
    const n = this.nodes.get(ino);
    return n !== undefined ? n.attrs.mode : ino <= this.lowerMax ? this.lower.modeOf(ino) : this.missing(ino);
  }

  attrs(ino: number): NodeAttrs {
    const n = this.nodes.get(ino);
    if (n === undefined) return ino <= this.lowerMax ? this.lower.attrs(ino) : this.missing(ino);
    const a = { ...n.attrs, atime: copyTime(n.attrs.atime), mtime: copyTime(n.attrs.mtime), ctime: copyTime(n.attrs.ctime) };
    const type = a.mode & S_IFMT;
    if (type === S_IFREG && n.content !== undefined) a.size = n.content.size;
    if (type === S_IFDIR && n.dir !== undefined && a.nlink !== 0) {
      n.dir.subdirs ??= this.listing(ino, n.dir).filter((e) => (this.modeOf(e.ino) & S_IFMT) === S_IFDIR).length;
      a.nlink = 2 + n.dir.subdirs;
    }
    return a;
  }

  children(dir: number): Iterable<TreeDirEntry> {
    const n = this.nodes.get(dir);
    if (n === undefined) return dir <= this.lowerMax ? this.lower.children(dir) : this.missing(dir);
    if ((n.attrs.mode & S_IFMT) !== S_IFDIR) return [];
    if (n.dir === undefined) return this.lower.children(dir);
    return this.listing(dir, n.dir);
  }

  childCount(dir: number): number {
    const n = this.nodes.get(dir);
    if (n?.dir !== undefined) return this.listing(dir, n.dir).length;
    if (n !== undefined && (n.attrs.mode & S_IFMT) !== S_IFDIR) return 0;
    return dir <= this.lowerMax ? this.lower.childCount(dir) : 0;
  }

  readlink(ino: number): string {
    const n = this.nodes.get(ino);
    if (n?.target !== undefined) return n.target;
    if (n !== undefined && (n.attrs.mode & S_IFMT) !== S_IFLNK) throw new RangeError(`inode ${ino} is not a symlink`);
    return ino <= this.lowerMax ? this.lower.readlink(ino) : this.missing(ino);
  }

  xattrs(ino: number): readonly (readonly [name: string, value: Uint8Array])[] {
    const n = this.nodes.get(ino);
    if (n?.xattrs != null) return n.xattrs;
    if (n === undefined && ino > this.lowerMax) return this.missing(ino);
    return ino <= this.lowerMax ? this.lower.xattrs(ino) : [];
  }

  content(ino: number): FileContent {
    const n = this.nodes.get(ino);
    if (n?.content !== undefined) return n.content;
    if (n !== undefined && (n.attrs.mode & S_IFMT) !== S_IFREG) throw new RangeError(`inode ${ino} is not a regular file`);
    return ino <= this.lowerMax ? this.lower.content(ino) : this.missing(ino);
  }

  /** A directory moved to `dir`/`name` remembers where it is now (its lower children stay its own). */
  protected placeDir(ino: number, dir: number, name: string): void {
    if (ino === 0 || (this.modeOf(ino) & S_IFMT) !== S_IFDIR) return;
    const n = this.own(ino);
    n.parent = dir;
    n.name = name;
  }

  /** One name of `ino` is gone: its link count drops; its memory goes with its last name and handle. */
  protected dropName(ino: number, t: Timespec): void {
    const n = this.own(ino);
    if ((n.attrs.mode & S_IFMT) === S_IFDIR) n.attrs.nlink = 0;
    else n.attrs.nlink = Math.max(0, n.attrs.nlink - 1);
    n.attrs.ctime = copyTime(t);
    this.forgetIfGone(ino, n);
  }

  /** Drops an upper inode's record once it has no name and no open handle. */
  protected forgetIfGone(ino: number, n: UNode): void {
    if (n.attrs.nlink === 0 && n.open === 0 && ino > this.lowerMax) this.nodes.delete(ino);
  }

  /** The upper node of `ino`, copying a lower inode's metadata up on first use (never its data). */
  protected own(ino: number): UNode {
    let n = this.nodes.get(ino);
    if (n !== undefined) return n;
    if (ino > this.lowerMax) this.missing(ino);
    const a = this.lower.attrs(ino);
    n = { attrs: { ...a, atime: copyTime(a.atime), mtime: copyTime(a.mtime), ctime: copyTime(a.ctime) }, xattrs: null, open: 0 };
    this.nodes.set(ino, n);
    return n;
  }

  /** The directory state of `dir`, made on first change (a lower directory keeps its lower entries). */
  protected dirState(dir: number): DirState {
    const n = this.own(dir);
    n.dir ??= { entries: new Map(), lower: dir <= this.lowerMax ? dir : 0, listing: null, subdirs: null };
    return n.dir;
  }

  /** Makes `name` in `dir` name `ino` (keeping the subdirectory count right). */
  protected setEntry(dir: number, name: string, ino: number): void {
    const d = this.dirState(dir);
    this.countSubdirs(d, this.lookup(dir, name), ino);
    d.entries.set(name, ino);
    d.listing = null;
  }

  /** Keeps a directory's subdirectory count right when an entry goes from inode `was` to `now` (0: none). */
  protected countSubdirs(d: DirState, was: number, now: number): void {
    if (d.subdirs === null) return;
    const isDir = (ino: number): boolean => ino !== 0 && (this.modeOf(ino) & S_IFMT) === S_IFDIR;
    d.subdirs += (isDir(now) ? 1 : 0) - (isDir(was) ? 1 : 0);
  }

  /** Removes `name` from `dir`: a whiteout where the lower directory has the name (or when asked), else nothing. */
  protected removeEntry(dir: number, name: string, whiteout: boolean): void {
    const d = this.dirState(dir);
    this.countSubdirs(d, this.lookup(dir, name), 0);
    if (whiteout || (d.lower !== 0 && this.lower.lookup(d.lower, name) !== 0)) d.entries.set(name, 0);
    else d.entries.delete(name);
    d.listing = null;
  }

  /** A directory's entries changed at `t`: its mtime and ctime. */
  protected touchDir(dir: number, t: Timespec): void {
    const n = this.own(dir);
    n.attrs.mtime = copyTime(t);
    n.attrs.ctime = copyTime(t);
  }

  /** A file's writable content: the lower bytes as a base (never copied). */
  protected contentOf(ino: number, n: UNode): ExtentContent {
    n.content ??= new ExtentContent(ino <= this.lowerMax ? this.lower.content(ino) : null, this.readRef);
    return n.content;
  }

  /** Reads written bytes: from memory, or from the journal by offset. */
  protected readonly readRef = async (ref: DataRef, offset: number, into: Uint8Array, at: number, length: number): Promise<void> => {
    if (typeof ref === 'number') await this.journal!.readAt(ref + offset, into, at, length);
    else into.set(ref.subarray(offset, offset + length), at);
  };

  /** The merged listing of a changed directory, sorted by name bytes (cached until it changes). */
  protected listing(dir: number, d: DirState): TreeDirEntry[] {
    if (d.listing !== null) return d.listing;
    const lower: TreeDirEntry[] = [];
    if (d.lower !== 0) for (const e of this.lower.children(d.lower)) if (!d.entries.has(e.name)) lower.push(e);
    const upper: { name: string; ino: number; key: Uint8Array }[] = [];
    for (const [name, ino] of d.entries) if (ino !== 0) upper.push({ name, ino, key: encodeRawName(name) });
    upper.sort((a, b) => Buffer.compare(a.key, b.key));
    // Both runs are sorted (the lower tree lists by bytes): merge them.
    const out: TreeDirEntry[] = [];
    let i = 0;
    for (const u of upper) {
      while (i < lower.length && cmpBytes(lower[i]!.name, u.name) < 0) out.push(lower[i++]!);
      out.push({ name: u.name, ino: u.ino });
    }
    while (i < lower.length) out.push(lower[i++]!);
    void dir;
    d.listing = out;
    return out;
  }

  /** True when directory `ino` has no entries (without building its listing). */
  isEmpty(ino: number): boolean {
    const n = this.nodes.get(ino);
    const d = n?.dir;
    if (d === undefined) return this.childCount(ino) === 0;
    if (d.listing !== null) return d.listing.length === 0;
    for (const v of d.entries.values()) if (v !== 0) return false;
    if (d.lower === 0) return true;
    for (const e of this.lower.children(d.lower)) if (!d.entries.has(e.name)) return false;
    return true;
  }

  /** Throws the `RangeError` of an unknown inode number. */
  protected missing(ino: number): never {
    throw new RangeError(`no inode ${ino} in this tree`);
  }
}
