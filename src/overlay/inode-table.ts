import { encodeRawName } from '../tar/raw-name.js';

/** The attributes of one inode, as the merge stores them. */
export interface InodeAttrs {
  /** Full `st_mode`: type bits and permission bits. */
  mode: number;
  /** Owner user id. */
  uid: number;
  /** Owner group id. */
  gid: number;
  /** Bytes of data (files: logical size) or of the link target (symlinks, as `lstat` reports); devices: the major number; 0 otherwise. */
  size: number;
  /** Modification time: whole seconds since the epoch. */
  mtimeSec: number;
  /** Modification time: nanoseconds past `mtimeSec`. */
  mtimeNsec: number;
  /** The layer whose tar holds the data (files), or `NO_LAYER`. */
  layer: number;
  /** Files: data offset in the layer's tar. Devices: the minor number. Symlinks: target offset in the byte pool. */
  aux: number;
}

/** `layer` of an inode with no data in any layer (directories, devices, symlinks). */
export const NO_LAYER = 0xffff;

/**
 * Inode attributes in parallel typed arrays (46 bytes an inode), growing by doubling while the
 * merge runs and trimmed to size when it ends. Index = inode number - 1.
 */
export class InodeTable {
  /** How many inodes are in use. */
  count = 0;
  /** `st_mode` column. */
  mode: Uint32Array;
  /** `st_uid` column. */
  uid: Uint32Array;
  /** `st_gid` column. */
  gid: Uint32Array;
  /** Size column (bytes; devices: major number). */
  size: Float64Array;
  /** Modification time column, whole seconds. */
  mtimeSec: Float64Array;
  /** Modification time column, nanoseconds. */
  mtimeNsec: Uint32Array;
  /** Data layer column. */
  layer: Uint16Array;
  /** Data offset / rdev / symlink-target offset column. */
  aux: Float64Array;
  /** Link count column (filled when the merge ends). */
  nlink: Uint32Array;

  constructor(capacity = 1024) {
    this.mode = new Uint32Array(capacity);
    this.uid = new Uint32Array(capacity);
    this.gid = new Uint32Array(capacity);
    this.size = new Float64Array(capacity);
    this.mtimeSec = new Float64Array(capacity);
    this.mtimeNsec = new Uint32Array(capacity);
    this.layer = new Uint16Array(capacity);
    this.aux = new Float64Array(capacity);
    this.nlink = new Uint32Array(capacity);
  }

  /** Appends an inode and returns its index. */
  add(a: InodeAttrs): number {
    if (this.count === this.mode.length) this.resize(this.count * 2 || 16);
    const i = this.count++;
    this.set(i, a);
    return i;
  }

  /** Overwrites the attributes of inode `i`. */
  set(i: number, a: InodeAttrs): void {
    this.mode[i] = a.mode;
    this.uid[i] = a.uid;
    this.gid[i] = a.gid;
    this.size[i] = a.size;
    this.mtimeSec[i] = a.mtimeSec;
    this.mtimeNsec[i] = a.mtimeNsec;
    this.layer[i] = a.layer;
    this.aux[i] = a.aux;
  }

  /** Reallocates every column to `capacity` entries (at least `count`). */
  resize(capacity: number): void {
    const n = Math.max(capacity, this.count);
    const grow = <T extends Uint32Array | Float64Array | Uint16Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a.subarray(0, Math.min(this.count, n)));
      return b;
    };
    this.mode = grow(this.mode, (k) => new Uint32Array(k));
    this.uid = grow(this.uid, (k) => new Uint32Array(k));
    this.gid = grow(this.gid, (k) => new Uint32Array(k));
    this.size = grow(this.size, (k) => new Float64Array(k));
    this.mtimeSec = grow(this.mtimeSec, (k) => new Float64Array(k));
    this.mtimeNsec = grow(this.mtimeNsec, (k) => new Uint32Array(k));
    this.layer = grow(this.layer, (k) => new Uint16Array(k));
    this.aux = grow(this.aux, (k) => new Float64Array(k));
    this.nlink = grow(this.nlink, (k) => new Uint32Array(k));
  }

  /** Bytes held by the columns. */
  get byteLength(): number {
    return this.mode.length * 46;
  }
}

/** An append-only pool of bytes (names and symlink targets, UTF-8), growing by doubling. */
export class BytePool {
  /** The bytes; only `[0, length)` is in use. */
  bytes: Uint8Array;
  /** Bytes in use. */
  length = 0;

  constructor(capacity = 4096) {
    this.bytes = new Uint8Array(capacity);
  }

  /** Appends a raw-name string as its bytes (see `tar/raw-name.ts`); returns `[offset, byteLength]`. */
  appendString(s: string): [number, number] {
    return this.append(encodeRawName(s));
  }

  /** Appends bytes; returns `[offset, byteLength]`. */
  append(b: Uint8Array): [number, number] {
    if (this.length + b.length > this.bytes.length) {
      let cap = this.bytes.length * 2 || 4096;
      while (cap < this.length + b.length) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.bytes.subarray(0, this.length));
      this.bytes = next;
    }
    const at = this.length;
    this.bytes.set(b, at);
    this.length += b.length;
    return [at, b.length];
  }

  /** Reallocates to exactly the bytes in use. */
  trim(): void {
    this.bytes = this.bytes.slice(0, this.length);
  }
}
