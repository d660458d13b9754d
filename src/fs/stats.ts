import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK } from '../overlay/file-type.js';

/** The preferred I/O size reported by {@link ImageStats.blksize}. */
export const BLOCK_SIZE = 4096;

/** The numbers an {@link ImageStats} is made from. */
export interface StatsInit {
  /** Device number of the file system. */
  dev: number;
  /** Inode number. */
  ino: number;
  /** Full `st_mode` (type and permission bits). */
  mode: number;
  /** Number of hard links. */
  nlink: number;
  /** Owner user id. */
  uid: number;
  /** Owner group id. */
  gid: number;
  /** `makedev(major, minor)` for devices, else 0. */
  rdev: number;
  /** Size in bytes. */
  size: number;
  /** Modification time in seconds since the epoch. */
  mtime: number;
}

/**
 * A file's status, shaped like `node:fs` `Stats`: the same fields (`dev`, `ino`, `mode` with the
 * `S_IF*` type bits, `nlink`, `uid`, `gid`, `rdev`, `size`, `blksize`, `blocks`, the `*Ms` times
 * and `Date` times) and the same `is*()` methods. Image files have one time: `atime`, `ctime` and
 * `birthtime` equal `mtime`.
 *
 * @example
 * ```ts
 * const st = await fs.stat('/bin/sh');
 * st.isFile(); st.mode & 0o7777; st.mtime.toISOString();
 * ```
 */
export class ImageStats {
  /** Device number of the image file system. */
  readonly dev: number;
  /** Inode number, stable for an image; hardlinks share it. */
  readonly ino: number;
  /** Type bits and permission bits. */
  readonly mode: number;
  /** Number of hard links (directories: 2 + subdirectories). */
  readonly nlink: number;
  /** Owner user id. */
  readonly uid: number;
  /** Owner group id. */
  readonly gid: number;
  /** Device number of a character or block device (`makedev(major, minor)`), else 0. */
  readonly rdev: number;
  /** Bytes (symlinks: length of the target, as `lstat` says). */
  readonly size: number;
  /** Preferred I/O size. */
  readonly blksize: number;
  /** 512-byte blocks the data would use on a 4 KiB-block file system. */
  readonly blocks: number;
  /** Access time in ms (= `mtimeMs`). */
  readonly atimeMs: number;
  /** Modification time in ms. */
  readonly mtimeMs: number;
  /** Change time in ms (= `mtimeMs`). */
  readonly ctimeMs: number;
  /** Birth time in ms (= `mtimeMs`). */
  readonly birthtimeMs: number;
  /** Access time (= `mtime`). */
  readonly atime: Date;
  /** Modification time. */
  readonly mtime: Date;
  /** Change time (= `mtime`). */
  readonly ctime: Date;
  /** Birth time (= `mtime`). */
  readonly birthtime: Date;

  constructor(init: StatsInit) {
    this.dev = init.dev;
    this.ino = init.ino;
    this.mode = init.mode;
    this.nlink = init.nlink;
    this.uid = init.uid;
    this.gid = init.gid;
    this.rdev = init.rdev;
    this.size = init.size;
    this.blksize = BLOCK_SIZE;
    const type = init.mode & S_IFMT;
    this.blocks = type === S_IFREG ? Math.ceil(init.size / BLOCK_SIZE) * (BLOCK_SIZE / 512) : type === S_IFDIR ? BLOCK_SIZE / 512 : 0;
    const ms = init.mtime * 1000;
    this.atimeMs = ms;
    this.mtimeMs = ms;
    this.ctimeMs = ms;
    this.birthtimeMs = ms;
    this.atime = new Date(ms);
    this.mtime = new Date(ms);
    this.ctime = new Date(ms);
    this.birthtime = new Date(ms);
  }

  /** A regular file. */
  isFile(): boolean { return (this.mode & S_IFMT) === S_IFREG; }
  /** A directory. */
  isDirectory(): boolean { return (this.mode & S_IFMT) === S_IFDIR; }
  /** A symbolic link (only from `lstat`). */
  isSymbolicLink(): boolean { return (this.mode & S_IFMT) === S_IFLNK; }
  /** A character device. */
  isCharacterDevice(): boolean { return (this.mode & S_IFMT) === S_IFCHR; }
  /** A block device. */
  isBlockDevice(): boolean { return (this.mode & S_IFMT) === S_IFBLK; }
  /** A FIFO (named pipe). */
  isFIFO(): boolean { return (this.mode & S_IFMT) === S_IFIFO; }
  /** A socket. */
  isSocket(): boolean { return (this.mode & S_IFMT) === S_IFSOCK; }
}

/**
 * A directory entry, shaped like `node:fs` `Dirent` (`name`, `parentPath`, `path` and the `is*()`
 * methods), as {@link ImageFs.readdir} returns with `withFileTypes: true`.
 */
export class ImageDirent {
  /** The entry's name. */
  readonly name: string;
  /** The directory that holds it. */
  readonly parentPath: string;
  /** Same as `parentPath` (Node's older name). */
  readonly path: string;
  private readonly type: number;

  constructor(name: string, parentPath: string, mode: number) {
    this.name = name;
    this.parentPath = parentPath;
    this.path = parentPath;
    this.type = mode & S_IFMT;
  }

  /** A regular file. */
  isFile(): boolean { return this.type === S_IFREG; }
  /** A directory. */
  isDirectory(): boolean { return this.type === S_IFDIR; }
  /** A symbolic link. */
  isSymbolicLink(): boolean { return this.type === S_IFLNK; }
  /** A character device. */
  isCharacterDevice(): boolean { return this.type === S_IFCHR; }
  /** A block device. */
  isBlockDevice(): boolean { return this.type === S_IFBLK; }
  /** A FIFO. */
  isFIFO(): boolean { return this.type === S_IFIFO; }
  /** A socket. */
  isSocket(): boolean { return this.type === S_IFSOCK; }
}
