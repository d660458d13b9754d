/** The kind of a tar entry, as imagefs names it (also the `type` of the contract's `stat` JSON). */
export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

/**
 * One entry of a layer's tar stream, with its metadata as the headers (ustar, PAX, GNU) say and
 * the position of its data in the uncompressed stream. Paths are normalised: no leading `/` or
 * `./`, no trailing `/`, no `.` components; the root directory is `''`.
 */
export interface TarEntry {
  path: string;
  type: EntryType;
  /** Permission and special bits (`0o7777` mask). */
  mode: number;
  uid: number;
  gid: number;
  uname?: string;
  gname?: string;
  /** Modification time in seconds since the epoch (PAX times may be fractional). */
  mtime: number;
  /** Data size in bytes (0 for everything but regular files). */
  size: number;
  /** Symlink target, or the hardlink's target path (normalised like `path`). */
  linkTarget?: string;
  devMajor?: number;
  devMinor?: number;
  /** Extended attributes from PAX `SCHILY.xattr.*` records, including `security.capability`. */
  xattrs?: Record<string, Uint8Array>;
  /** Offset of the entry's data in the uncompressed layer stream. */
  dataOffset: number;
  /** True for GNU sparse files (reported, read as their stored bytes). */
  sparse?: boolean;
  /** GNU sparse files only: the logical (expanded) size, when the headers state it. */
  sparseSize?: number;
}
