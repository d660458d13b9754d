/** The kind of a tar entry, as imagefs names it (also the `type` of the contract's `stat` JSON). */
export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

/**
 * Where the data of a sparse file lies: `[offset, length]` pairs of the logical file, flattened
 * (`[o0, l0, o1, l1, ...]`), in order, not overlapping, within the file's size. The stored data
 * bytes are these segments one after another, starting at the entry's `dataOffset`; everything
 * else of the file reads as zeros.
 */
export type SparseMap = readonly number[];

/**
 * One entry of a layer's tar stream, with its metadata as Go's archive/tar (and so containerd)
 * reads the headers (ustar, GNU, PAX) and the position of its data in the uncompressed stream.
 *
 * Paths are normalised: no leading `/` or `./`, no trailing `/`, no `.` components; the root
 * directory is `''`. Paths and link targets hold the header's exact bytes: bytes that are not
 * valid UTF-8 are lone surrogates U+DC80..U+DCFF (see `raw-name.ts`).
 *
 * Times are integers: seconds since the epoch (negative before 1970) and nanoseconds
 * (0..999,999,999), exactly as the header or PAX record gives them (PAX digits past the ninth are
 * dropped, as Go does).
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
  /** Modification time, whole seconds (floor). */
  mtime: number;
  /** Modification time, nanoseconds past `mtime` (0..999,999,999). */
  mtimeNsec: number;
  /** Access time in whole seconds, when the archive has one (PAX `atime`, GNU header). */
  atime?: number;
  /** Nanoseconds of `atime`. */
  atimeNsec?: number;
  /** Change time in whole seconds, when the archive has one (PAX `ctime`, GNU header). */
  ctime?: number;
  /** Nanoseconds of `ctime`. */
  ctimeNsec?: number;
  /** Regular files: the logical size in bytes (a sparse file's expanded size); 0 for others. */
  size: number;
  /** Symlink target, or the hardlink's target path (normalised like `path`). */
  linkTarget?: string;
  devMajor?: number;
  devMinor?: number;
  /** Extended attributes from PAX `SCHILY.xattr.*` records, including `security.capability`. */
  xattrs?: Record<string, Uint8Array>;
  /** Offset of the entry's stored data in the uncompressed layer stream (sparse: after its map). */
  dataOffset: number;
  /** Sparse files only: where the stored data goes in the file; the rest is holes (zeros). */
  sparse?: SparseMap;
}

/** Bytes of stored data of an entry: the size, or for a sparse file the sum of its segments. */
export function storedSize(e: Pick<TarEntry, 'type' | 'size' | 'sparse'>): number {
  if (e.type !== 'file') return 0;
  if (e.sparse === undefined) return e.size;
  let n = 0;
  for (let i = 1; i < e.sparse.length; i += 2) n += e.sparse[i]!;
  return n;
}
