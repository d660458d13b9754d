import type { ReadOptions } from '../source/read-at.js';

/** The inode number of the root directory of every {@link FsTree} (FUSE's root node id). */
export const ROOT_INO = 1;

/** A time as the kernel keeps it: whole seconds (floor, negative before 1970) and nanoseconds. */
export interface Timespec {
  /** Seconds since the epoch. */
  sec: number;
  /** Nanoseconds past `sec`, 0..999,999,999. */
  nsec: number;
}

/** The attributes of one inode, as `lstat` reports them. */
export interface NodeAttrs {
  /** Inode number (>= {@link ROOT_INO}). */
  ino: number;
  /** Full `st_mode`: type bits and permission bits. */
  mode: number;
  /** Number of hard links (directories: 2 + subdirectories). */
  nlink: number;
  /** Owner user id. */
  uid: number;
  /** Owner group id. */
  gid: number;
  /** Files: logical size; symlinks: bytes of the target; 0 for everything else. */
  size: number;
  /** Devices: major number (else 0). */
  rdevMajor: number;
  /** Devices: minor number (else 0). */
  rdevMinor: number;
  /** Last access. */
  atime: Timespec;
  /** Last modification. */
  mtime: Timespec;
  /** Last status change. */
  ctime: Timespec;
}

/** One entry of a directory listing: a name (raw-name string, see `tar/raw-name.ts`) and its inode. */
export interface TreeDirEntry {
  /** The name; bytes that are not UTF-8 are lone surrogates U+DC80..U+DCFF. */
  name: string;
  /** Its inode number. */
  ino: number;
}

/** The bytes of one regular file: a sized read-at view. */
export interface FileContent {
  /** Logical size in bytes. */
  readonly size: number;
  /**
   * Copies up to `length` bytes at `position` of the file into `into` at `at`; resolves to how
   * many (0 at or past the end).
   */
  readInto(into: Uint8Array, at: number, length: number, position: number, options?: ReadOptions): Promise<number>;
  /** The bytes `[position, position + length)` clipped to the file, as a new Buffer. */
  read(position: number, length: number, options?: ReadOptions): Promise<Buffer>;
}

/**
 * The seam every file system view of imagefs is built on: a read-only tree addressed by inode
 * number, with lookups by parent and name. The merged image implements it (`MergedFsTree`); a
 * writable upper layer implements it over a lower tree; path resolution, `ImageFs`, `export` and
 * the FUSE server use nothing else.
 *
 * Rules every implementation keeps: {@link ROOT_INO} is a directory; every lookup and attribute
 * call is O(1) or O(log n) and synchronous (no I/O: metadata is in memory); a directory has exactly
 * one parent; names are raw-name strings, sorted by their bytes in listings; unknown inode numbers
 * throw a `RangeError`.
 *
 * @example
 * ```ts
 * const etc = tree.lookup(ROOT_INO, 'etc');
 * if (etc !== 0) for (const { name, ino } of tree.children(etc)) console.log(name, tree.attrs(ino).size);
 * ```
 */
export interface FsTree {
  /** The child of directory `dir` named `name`, or 0 when there is none (or `dir` is not a directory). */
  lookup(dir: number, name: string): number;
  /** The parent directory of directory `dir` (the root's parent is the root). */
  parentOf(dir: number): number;
  /** The name directory `dir` has in its parent (`''` for the root). */
  dirName(dir: number): string;
  /** `st_mode` of an inode (type and permission bits), without building {@link NodeAttrs}. */
  modeOf(ino: number): number;
  /** All attributes of an inode. */
  attrs(ino: number): NodeAttrs;
  /** The entries of directory `dir`, sorted by the bytes of their names (empty for anything else). */
  children(dir: number): Iterable<TreeDirEntry>;
  /** The number of entries of directory `dir`. */
  childCount(dir: number): number;
  /** A symlink's target (raw-name string). */
  readlink(ino: number): string;
  /** The extended attributes of an inode, sorted by name. */
  xattrs(ino: number): readonly (readonly [name: string, value: Uint8Array])[];
  /** The bytes of a regular file. */
  content(ino: number): FileContent;
  /** The number of inodes in the tree (for `statfs`). */
  readonly inodeCount: number;
  /** The sum of file sizes, in bytes (for `statfs`). */
  readonly totalBytes: number;
}

/** What {@link WritableFsTree.create} makes: a new inode's type, permissions, owner and device numbers. */
export interface CreateSpec {
  /** Full `st_mode`: type bits (`S_IFREG`, `S_IFDIR`, `S_IFLNK`, `S_IFCHR`, `S_IFBLK`, `S_IFIFO`) and permission bits. */
  mode: number;
  /** Owner user id (default 0). */
  uid?: number;
  /** Owner group id (default 0). */
  gid?: number;
  /** Devices: major number. */
  rdevMajor?: number;
  /** Devices: minor number. */
  rdevMinor?: number;
  /** Symlinks: the target (raw-name string). */
  target?: string;
}

/** The attributes {@link WritableFsTree.setattr} changes (as FUSE SETATTR and `chmod`/`chown`/`truncate`/`utimes`). */
export interface SetAttrs {
  /** Permission bits (`0o7777`); the type bits are kept. */
  mode?: number;
  /** Owner user id. */
  uid?: number;
  /** Owner group id. */
  gid?: number;
  /** New size of a regular file (`truncate`). */
  size?: number;
  /** Access time, or `'now'`. */
  atime?: Timespec | 'now';
  /** Modification time, or `'now'`. */
  mtime?: Timespec | 'now';
}

/**
 * `renameat2(2)` flags, as {@link WritableFsTree.rename} takes them.
 *
 * @example
 * ```ts
 * tree.rename(dir, 'a', dir, 'b', RenameFlags.EXCHANGE);
 * ```
 */
export const RenameFlags = Object.freeze({ NOREPLACE: 1, EXCHANGE: 2, WHITEOUT: 4 } as const);

/**
 * A {@link FsTree} that can change: the seam the writable upper layer (`UpperTree`) offers to
 * `ImageFs` and to the FUSE server. Everything is addressed by inode number and name, as FUSE
 * addresses it; metadata calls are synchronous (they are in memory, and journalled before they
 * return when the upper lives on disk); data calls are async.
 *
 * Failures throw an `FsError` with Node's `code` and `errno` and the failing call as `syscall`
 * (`path` is the name concerned; `ImageFs` rethrows with the caller's paths). A failed call
 * changes nothing.
 *
 * @example
 * ```ts
 * const ino = tree.create(ROOT_INO, 'hello.txt', { mode: 0o100644 });
 * await tree.write(ino, 0, Buffer.from('hi\n'));
 * tree.rename(ROOT_INO, 'hello.txt', ROOT_INO, 'greeting.txt', RenameFlags.NOREPLACE);
 * ```
 */
export interface WritableFsTree extends FsTree {
  /** Always true: tells a writable tree from a read-only one. */
  readonly writable: true;
  /** Makes `name` in directory `dir` (any type but hardlinks); returns the new inode. `EEXIST`, `ENOTDIR`, `ENAMETOOLONG`. */
  create(dir: number, name: string, spec: CreateSpec): number;
  /** Gives inode `ino` (not a directory) another name. `EEXIST`, `EPERM` for a directory, `EMLINK`. */
  link(ino: number, dir: number, name: string): void;
  /** Removes a name that is not a directory (`EISDIR` for one). A lower entry leaves a whiteout. */
  unlink(dir: number, name: string): void;
  /** Removes an empty directory (`ENOTEMPTY`, `ENOTDIR`). A lower directory leaves a whiteout. */
  rmdir(dir: number, name: string): void;
  /** `renameat2`: moves (or with `EXCHANGE` swaps) entries; flags from {@link RenameFlags}. */
  rename(fromDir: number, fromName: string, toDir: number, toName: string, flags?: number): void;
  /** Changes attributes (metadata only: a lower file's data is never copied for this). */
  setattr(ino: number, attrs: SetAttrs): void;
  /** Sets an extended attribute; `flags` 1 = `XATTR_CREATE` (`EEXIST`), 2 = `XATTR_REPLACE` (`ENODATA`). */
  setxattr(ino: number, name: string, value: Uint8Array, flags?: number): void;
  /** Removes an extended attribute (`ENODATA` when absent). */
  removexattr(ino: number, name: string): void;
  /** Writes bytes into a regular file at `position` (extending it); resolves to the bytes written. */
  write(ino: number, position: number, data: Uint8Array): Promise<number>;
  /** Makes the changes so far durable (fsync of the upper's journal; nothing to do in memory). */
  sync(): Promise<void>;
  /** Counts an open handle of `ino`: an unlinked inode's data stays until {@link WritableFsTree.release}. */
  retain(ino: number): void;
  /** Ends what {@link WritableFsTree.retain} began. */
  release(ino: number): void;
}

/**
 * True when `tree` is a {@link WritableFsTree}.
 *
 * @example
 * ```ts
 * if (isWritableTree(fs.tree)) fs.tree.unlink(ROOT_INO, 'old');
 * ```
 */
export function isWritableTree(tree: FsTree): tree is WritableFsTree {
  return (tree as Partial<WritableFsTree>).writable === true;
}
