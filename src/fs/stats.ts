import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, makedev } from '../overlay/file-type.js';
import type { NodeAttrs, Timespec } from '../tree/types.js';

/** The preferred I/O size reported by {@link ImageStats.blksize}. */
export const BLOCK_SIZE = 4096;

/** What a stats object is made from: an inode's attributes and the file system's `dev`. */
export interface StatsInit extends NodeAttrs {
  /** Device number of the file system. */
  dev: number;
}

/** The type tests of `fs.Stats` and `fs.Dirent`, from the `S_IFMT` bits. */
abstract class TypeTests {
  /** The `S_IFMT` bits. */
  protected abstract typeBits(): number;
  /** A regular file. */
  isFile(): boolean { return this.typeBits() === S_IFREG; }
  /** A directory. */
  isDirectory(): boolean { return this.typeBits() === S_IFDIR; }
  /** A symbolic link (from `lstat`, or a directory entry). */
  isSymbolicLink(): boolean { return this.typeBits() === S_IFLNK; }
  /** A character device. */
  isCharacterDevice(): boolean { return this.typeBits() === S_IFCHR; }
  /** A block device. */
  isBlockDevice(): boolean { return this.typeBits() === S_IFBLK; }
  /** A FIFO (named pipe). */
  isFIFO(): boolean { return this.typeBits() === S_IFIFO; }
  /** A socket. */
  isSocket(): boolean { return this.typeBits() === S_IFSOCK; }
}

/** `st_size` as `stat(2)` reports it: directories 4096, like most disk file systems. */
function sizeOf(init: StatsInit): number {
  return (init.mode & S_IFMT) === S_IFDIR ? BLOCK_SIZE : init.size;
}

/** 512-byte blocks the data would use on a 4 KiB-block file system. */
function blocksOf(init: StatsInit): number {
  const type = init.mode & S_IFMT;
  if (type === S_IFREG) return Math.ceil(init.size / BLOCK_SIZE) * (BLOCK_SIZE / 512);
  return type === S_IFDIR ? BLOCK_SIZE / 512 : 0;
}

/** Milliseconds of a time as Node computes them for `fs.Stats` (`sec * 1e3 + nsec / 1e6`). */
function msOf(t: Timespec): number {
  return t.sec * 1e3 + t.nsec / 1e6;
}

/** Nanoseconds since the epoch of a time, exactly. */
export function nsOf(t: Timespec): bigint {
  return BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec);
}

/** A `Date` from milliseconds, as Node makes them (rounded to the millisecond). */
function dateOf(ms: number): Date {
  return new Date(Math.round(ms));
}

/**
 * A file's status, shaped like `node:fs` `Stats`: the same fields (`dev`, `ino`, `mode` with the
 * `S_IF*` type bits, `nlink`, `uid`, `gid`, `rdev`, `size`, `blksize`, `blocks`, the `*Ms` times
 * and `Date` times) and the same `is*()` methods. `*Ms` are computed from whole seconds and
 * nanoseconds exactly as Node does for a file on disk. Without an archive atime or ctime, they
 * equal the mtime; `birthtime` is the mtime. For nanoseconds, ask for {@link ImageBigIntStats}
 * (`stat(path, { bigint: true })`).
 *
 * @example
 * ```ts
 * const st = await fs.stat('/bin/sh');
 * st.isFile(); st.mode & 0o7777; st.mtime.toISOString();
 * ```
 */
export class ImageStats extends TypeTests {
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
  /** Bytes (symlinks: length of the target, as `lstat` says; directories 4096). */
  readonly size: number;
  /** Preferred I/O size. */
  readonly blksize: number;
  /** 512-byte blocks the data would use on a 4 KiB-block file system. */
  readonly blocks: number;
  /** Access time in ms. */
  readonly atimeMs: number;
  /** Modification time in ms. */
  readonly mtimeMs: number;
  /** Change time in ms. */
  readonly ctimeMs: number;
  /** Birth time in ms (= `mtimeMs`). */
  readonly birthtimeMs: number;
  /** Access time. */
  readonly atime: Date;
  /** Modification time. */
  readonly mtime: Date;
  /** Change time. */
  readonly ctime: Date;
  /** Birth time (= `mtime`). */
  readonly birthtime: Date;

  constructor(init: StatsInit) {
    super();
    this.dev = init.dev;
    this.ino = init.ino;
    this.mode = init.mode;
    this.nlink = init.nlink;
    this.uid = init.uid;
    this.gid = init.gid;
    this.rdev = makedev(init.rdevMajor, init.rdevMinor);
    this.size = sizeOf(init);
    this.blksize = BLOCK_SIZE;
    this.blocks = blocksOf(init);
    this.atimeMs = msOf(init.atime);
    this.mtimeMs = msOf(init.mtime);
    this.ctimeMs = msOf(init.ctime);
    this.birthtimeMs = this.mtimeMs;
    this.atime = dateOf(this.atimeMs);
    this.mtime = dateOf(this.mtimeMs);
    this.ctime = dateOf(this.ctimeMs);
    this.birthtime = dateOf(this.birthtimeMs);
  }

  protected typeBits(): number {
    return this.mode & S_IFMT;
  }
}

/**
 * A file's status with every number a `bigint`, shaped like `node:fs` `BigIntStats`: the
 * `*Ns` fields hold the exact nanoseconds the image records, `*Ms` are `*Ns / 1_000_000n` (as
 * Node computes them), and `rdev` is exact for any device number.
 *
 * @example
 * ```ts
 * const st = await fs.lstat('/etc/passwd', { bigint: true });
 * st.mtimeNs; // 1700000000123456789n
 * ```
 */
export class ImageBigIntStats extends TypeTests {
  /** Device number of the image file system. */
  readonly dev: bigint;
  /** Inode number. */
  readonly ino: bigint;
  /** Type bits and permission bits. */
  readonly mode: bigint;
  /** Number of hard links. */
  readonly nlink: bigint;
  /** Owner user id. */
  readonly uid: bigint;
  /** Owner group id. */
  readonly gid: bigint;
  /** Device number of a character or block device, else 0n. */
  readonly rdev: bigint;
  /** Bytes. */
  readonly size: bigint;
  /** Preferred I/O size. */
  readonly blksize: bigint;
  /** 512-byte blocks. */
  readonly blocks: bigint;
  /** Access time in ms. */
  readonly atimeMs: bigint;
  /** Modification time in ms. */
  readonly mtimeMs: bigint;
  /** Change time in ms. */
  readonly ctimeMs: bigint;
  /** Birth time in ms. */
  readonly birthtimeMs: bigint;
  /** Access time in ns. */
  readonly atimeNs: bigint;
  /** Modification time in ns. */
  readonly mtimeNs: bigint;
  /** Change time in ns. */
  readonly ctimeNs: bigint;
  /** Birth time in ns (= `mtimeNs`). */
  readonly birthtimeNs: bigint;
  /** Access time. */
  readonly atime: Date;
  /** Modification time. */
  readonly mtime: Date;
  /** Change time. */
  readonly ctime: Date;
  /** Birth time. */
  readonly birthtime: Date;

  constructor(init: StatsInit) {
    super();
    this.dev = BigInt(init.dev);
    this.ino = BigInt(init.ino);
    this.mode = BigInt(init.mode);
    this.nlink = BigInt(init.nlink);
    this.uid = BigInt(init.uid);
    this.gid = BigInt(init.gid);
    this.rdev = makedevBig(init.rdevMajor, init.rdevMinor);
    this.size = BigInt(sizeOf(init));
    this.blksize = BigInt(BLOCK_SIZE);
    this.blocks = BigInt(blocksOf(init));
    this.atimeNs = nsOf(init.atime);
    this.mtimeNs = nsOf(init.mtime);
    this.ctimeNs = nsOf(init.ctime);
    this.birthtimeNs = this.mtimeNs;
    this.atimeMs = this.atimeNs / 1_000_000n;
    this.mtimeMs = this.mtimeNs / 1_000_000n;
    this.ctimeMs = this.ctimeNs / 1_000_000n;
    this.birthtimeMs = this.birthtimeNs / 1_000_000n;
    this.atime = dateOf(Number(this.atimeMs));
    this.mtime = dateOf(Number(this.mtimeMs));
    this.ctime = dateOf(Number(this.ctimeMs));
    this.birthtime = dateOf(Number(this.birthtimeMs));
  }

  protected typeBits(): number {
    return Number(this.mode) & S_IFMT;
  }
}

/** glibc's `makedev` as a bigint (exact for 32-bit major and minor numbers). */
function makedevBig(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffn) << 8n) | ((ma & 0xfffff000n) << 32n) | (mi & 0xffn) | ((mi & 0xffffff00n) << 12n);
}

/**
 * A directory entry, shaped like `node:fs` `Dirent` (`name`, `parentPath`, `path` and the `is*()`
 * methods), as {@link ImageFs.readdir} returns with `withFileTypes: true`. `name` is a string, or
 * a Buffer of the name's exact bytes with `encoding: 'buffer'`.
 */
export class ImageDirent<Name extends string | Buffer = string> extends TypeTests {
  /** The entry's name. */
  readonly name: Name;
  /** The directory that holds it. */
  readonly parentPath: string;
  /** Same as `parentPath` (Node's older name). */
  readonly path: string;
  private readonly type: number;

  constructor(name: Name, parentPath: string, mode: number) {
    super();
    this.name = name;
    this.parentPath = parentPath;
    this.path = parentPath;
    this.type = mode & S_IFMT;
  }

  protected typeBits(): number {
    return this.type;
  }
}
