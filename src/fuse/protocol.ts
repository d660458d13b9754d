/**
 * The FUSE kernel protocol numbers this server uses (`include/uapi/linux/fuse.h`): opcodes, init
 * flags, open flags and errno values. Only numbers live here; the byte layouts are in codec.ts.
 */

/** The protocol major version (7 since 2006). */
export const FUSE_KERNEL_VERSION = 7;
/**
 * The minor version this server speaks: 7.31 (Linux 5.4). Every feature it negotiates is older
 * (max_pages 7.28, cache_symlinks 7.28, no_opendir 7.29); a newer kernel talks 7.31 with it.
 */
export const FUSE_KERNEL_MINOR_VERSION = 31;
/** The node id of the root directory (the same number as `ROOT_INO` of an `FsTree`). */
export const FUSE_ROOT_ID = 1;

/** Request opcodes (`enum fuse_opcode`). */
export const Op = {
  LOOKUP: 1, FORGET: 2, GETATTR: 3, SETATTR: 4, READLINK: 5, SYMLINK: 6, MKNOD: 8, MKDIR: 9,
  UNLINK: 10, RMDIR: 11, RENAME: 12, LINK: 13, OPEN: 14, READ: 15, WRITE: 16, STATFS: 17,
  RELEASE: 18, FSYNC: 20, SETXATTR: 21, GETXATTR: 22, LISTXATTR: 23, REMOVEXATTR: 24, FLUSH: 25,
  INIT: 26, OPENDIR: 27, READDIR: 28, RELEASEDIR: 29, FSYNCDIR: 30, GETLK: 31, SETLK: 32,
  SETLKW: 33, ACCESS: 34, CREATE: 35, INTERRUPT: 36, BMAP: 37, DESTROY: 38, IOCTL: 39, POLL: 40,
  NOTIFY_REPLY: 41, BATCH_FORGET: 42, FALLOCATE: 43, READDIRPLUS: 44, RENAME2: 45, LSEEK: 46,
  COPY_FILE_RANGE: 47, SETUPMAPPING: 48, REMOVEMAPPING: 49, SYNCFS: 50, TMPFILE: 51, STATX: 52,
} as const;

/** Opcodes that change the file system: a read-only tree answers them `EROFS`. */
export const WRITE_OPS: ReadonlySet<number> = new Set([
  Op.SETATTR, Op.SYMLINK, Op.MKNOD, Op.MKDIR, Op.UNLINK, Op.RMDIR, Op.RENAME, Op.LINK, Op.WRITE,
  Op.SETXATTR, Op.REMOVEXATTR, Op.CREATE, Op.FALLOCATE, Op.RENAME2, Op.COPY_FILE_RANGE, Op.TMPFILE,
]);

/** Opcodes the kernel sends without expecting a reply. */
export const NO_REPLY_OPS: ReadonlySet<number> = new Set([Op.FORGET, Op.BATCH_FORGET, Op.INTERRUPT]);

/** `FUSE_INIT` flags (first word). */
export const Init = {
  ASYNC_READ: 1 << 0,
  BIG_WRITES: 1 << 5,
  DO_READDIRPLUS: 1 << 13,
  READDIRPLUS_AUTO: 1 << 14,
  ASYNC_DIO: 1 << 15,
  /**
   * Offered by the kernel (3.16+): an OPEN answered `ENOSYS` counts as success, and every later
   * open of a file costs no message (no OPEN, no RELEASE), the page cache kept.
   */
  NO_OPEN_SUPPORT: 1 << 17,
  PARALLEL_DIROPS: 1 << 18,
  MAX_PAGES: 1 << 22,
  CACHE_SYMLINKS: 1 << 23,
  /** Offered by the kernel (5.1+): the same for OPENDIR (no OPENDIR, no RELEASEDIR; listings cached). */
  NO_OPENDIR_SUPPORT: 1 << 24,
} as const;

/** `fuse_open_out.open_flags`. */
export const FOPEN_KEEP_CACHE = 1 << 1;
/** Lets the kernel cache a directory's listing (7.28). */
export const FOPEN_CACHE_DIR = 1 << 3;

/** The errno values the server answers with (positive; the reply carries them negated). */
export const Errno = {
  EPERM: 1, ENOENT: 2, EINTR: 4, EIO: 5, EBADF: 9, EAGAIN: 11, EACCES: 13, EEXIST: 17,
  ENOTDIR: 20, EISDIR: 21, EINVAL: 22, ENOSPC: 28, EROFS: 30, ERANGE: 34, ENOSYS: 38,
  ENODATA: 61, ENOTSUP: 95, ENOTCONN: 107,
} as const;

/** Sizes, in bytes, of the fixed structs. */
export const Size = {
  IN_HEADER: 40,
  OUT_HEADER: 16,
  ATTR: 88,
  ENTRY_OUT: 128,
  ATTR_OUT: 104,
  OPEN_OUT: 16,
  INIT_OUT: 64,
  STATFS_OUT: 80,
  GETXATTR_OUT: 8,
  DIRENT: 24,
} as const;

/** The largest write (and read) this server negotiates: 1 MiB, with `max_pages` = 256. */
export const MAX_WRITE = 1 << 20;
/**
 * The buffer one request is read into: `max_write` plus room for the header and the largest
 * request struct (the kernel's rule: at least `max_write + 4096`).
 */
export const READ_BUFFER_SIZE = MAX_WRITE + 4096;
/** Linux page size on every architecture imagefs targets for FUSE (x86_64, arm64 with 4K pages). */
export const PAGE_SIZE = 4096;

/** A name of the opcode for messages (`READ`), or `op N`. */
export function opName(opcode: number): string {
  for (const [name, value] of Object.entries(Op)) if (value === opcode) return name;
  return `op ${opcode}`;
}
