import type { EntryType } from '../tar/entry.js';

/** The file type bits of `st_mode` (as in `<sys/stat.h>`). */
export const S_IFMT = 0o170000;
/** Socket. */
export const S_IFSOCK = 0o140000;
/** Symbolic link. */
export const S_IFLNK = 0o120000;
/** Regular file. */
export const S_IFREG = 0o100000;
/** Block device. */
export const S_IFBLK = 0o060000;
/** Directory. */
export const S_IFDIR = 0o040000;
/** Character device. */
export const S_IFCHR = 0o020000;
/** FIFO. */
export const S_IFIFO = 0o010000;

/**
 * The `st_mode` type bits of a tar entry type. A hardlink has no type of its own (it shares its
 * target's inode), so it maps to 0.
 */
export function typeBits(type: EntryType): number {
  switch (type) {
    case 'file': return S_IFREG;
    case 'dir': return S_IFDIR;
    case 'symlink': return S_IFLNK;
    case 'char': return S_IFCHR;
    case 'block': return S_IFBLK;
    case 'fifo': return S_IFIFO;
    default: return 0;
  }
}

/** The contract's `type` name of a full `st_mode` (`file`, `dir`, `symlink`, `char`, ...). */
export function typeName(mode: number): EntryType | 'socket' {
  switch (mode & S_IFMT) {
    case S_IFDIR: return 'dir';
    case S_IFLNK: return 'symlink';
    case S_IFCHR: return 'char';
    case S_IFBLK: return 'block';
    case S_IFIFO: return 'fifo';
    case S_IFSOCK: return 'socket';
    default: return 'file';
  }
}

/** Linux's `makedev(major, minor)` (glibc's encoding) as a number. */
export function makedev(major: number, minor: number): number {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  const dev = ((ma & 0xfffn) << 8n) | ((ma & 0xfffff000n) << 32n) | (mi & 0xffn) | ((mi & 0xffffff00n) << 12n);
  return Number(dev);
}

/** The major number of a {@link makedev} value. */
export function major(dev: number): number {
  const d = BigInt(dev);
  return Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & 0xfffff000n));
}

/** The minor number of a {@link makedev} value. */
export function minor(dev: number): number {
  const d = BigInt(dev);
  return Number((d & 0xffn) | ((d >> 12n) & 0xffffff00n));
}
