/**
 * Byte layouts of the FUSE structs this server reads and writes, all little-endian as the kernel
 * lays them out on x86_64 and arm64 (the only FUSE hosts imagefs targets). Each writer fills a
 * region of a caller's buffer, so one reply is one allocation.
 */
import type { NodeAttrs } from '../tree/types.js';
import { PAGE_SIZE, Size } from './protocol.js';

/** `struct fuse_in_header`: what precedes every request. */
export interface InHeader {
  /** Length of the whole request, header included. */
  len: number;
  opcode: number;
  /** The request id the reply must carry. */
  unique: bigint;
  /** The node the request is about (0 for some). */
  nodeid: number;
  uid: number;
  gid: number;
  pid: number;
}

/** Reads the 40-byte request header at the start of `buf`. */
export function readInHeader(buf: Buffer): InHeader {
  return {
    len: buf.readUInt32LE(0),
    opcode: buf.readUInt32LE(4),
    unique: buf.readBigUInt64LE(8),
    nodeid: Number(buf.readBigUInt64LE(16)),
    uid: buf.readUInt32LE(24),
    gid: buf.readUInt32LE(28),
    pid: buf.readUInt32LE(32),
  };
}

/** Writes `struct fuse_out_header` at offset 0: total length, negative errno (0 = success), unique. */
export function writeOutHeader(buf: Buffer, len: number, error: number, unique: bigint): void {
  buf.writeUInt32LE(len, 0);
  buf.writeInt32LE(error, 4);
  buf.writeBigUInt64LE(unique, 8);
}

/** A reply buffer: header space plus `bodySize` zeroed bytes (the header is written on send). */
export function replyBuffer(bodySize: number): Buffer {
  return Buffer.alloc(Size.OUT_HEADER + bodySize);
}

/**
 * The kernel's `new_encode_dev` (what `fuse_attr.rdev` carries): 12-bit major, 20-bit minor,
 * minor's low byte first.
 */
export function encodeDev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

/** The size a directory reports (as ext4 does for a small one). */
export const DIR_SIZE = 4096;

/** Writes `struct fuse_attr` (88 bytes) for `attrs` at `at`. Directories report {@link DIR_SIZE}. */
export function writeAttr(buf: Buffer, at: number, attrs: NodeAttrs): void {
  const size = (attrs.mode & S_IFMT) === S_IFDIR ? DIR_SIZE : attrs.size;
  buf.writeBigUInt64LE(BigInt(attrs.ino), at);
  buf.writeBigUInt64LE(BigInt(size), at + 8);
  buf.writeBigUInt64LE(BigInt(Math.ceil(size / 512)), at + 16);
  buf.writeBigInt64LE(BigInt(attrs.atime.sec), at + 24);
  buf.writeBigInt64LE(BigInt(attrs.mtime.sec), at + 32);
  buf.writeBigInt64LE(BigInt(attrs.ctime.sec), at + 40);
  buf.writeUInt32LE(attrs.atime.nsec, at + 48);
  buf.writeUInt32LE(attrs.mtime.nsec, at + 52);
  buf.writeUInt32LE(attrs.ctime.nsec, at + 56);
  buf.writeUInt32LE(attrs.mode >>> 0, at + 60);
  buf.writeUInt32LE(attrs.nlink >>> 0, at + 64);
  buf.writeUInt32LE(attrs.uid >>> 0, at + 68);
  buf.writeUInt32LE(attrs.gid >>> 0, at + 72);
  buf.writeUInt32LE(encodeDev(attrs.rdevMajor, attrs.rdevMinor), at + 76);
  buf.writeUInt32LE(PAGE_SIZE, at + 80); // blksize
  // at + 84: flags (FUSE_ATTR_SUBMOUNT, ...) stay 0
}

/** Cache lifetimes of entries and attributes, in seconds (the kernel takes sec + nsec). */
export interface Validity {
  /** How long the kernel may keep a name → node (or name → nothing) answer. */
  entrySeconds: number;
  /** How long the kernel may keep attributes. */
  attrSeconds: number;
}

function writeValid(buf: Buffer, secAt: number, nsecAt: number, seconds: number): void {
  const whole = Math.floor(seconds);
  buf.writeBigUInt64LE(BigInt(whole), secAt);
  buf.writeUInt32LE(Math.round((seconds - whole) * 1e9), nsecAt);
}

/**
 * Writes `struct fuse_entry_out` (128 bytes) at `at`: node id, generation 0, validities and the
 * attributes. `attrs` undefined writes a negative entry (node id 0: "no such name", cached for
 * `entrySeconds`).
 */
export function writeEntryOut(buf: Buffer, at: number, attrs: NodeAttrs | undefined, valid: Validity): void {
  buf.writeBigUInt64LE(BigInt(attrs?.ino ?? 0), at);
  buf.writeBigUInt64LE(0n, at + 8); // generation: inode numbers are never reused while mounted
  writeValid(buf, at + 16, at + 32, valid.entrySeconds);
  writeValid(buf, at + 24, at + 36, attrs === undefined ? 0 : valid.attrSeconds);
  if (attrs !== undefined) writeAttr(buf, at + 40, attrs);
}

/** Writes `struct fuse_attr_out` (104 bytes) at `at`. */
export function writeAttrOut(buf: Buffer, at: number, attrs: NodeAttrs, valid: Validity): void {
  writeValid(buf, at, at + 8, valid.attrSeconds);
  writeAttr(buf, at + 16, attrs);
}

/** Bytes a `struct fuse_dirent` with a name of `nameLength` bytes takes, padded to 8. */
export function direntSize(nameLength: number): number {
  return (Size.DIRENT + nameLength + 7) & ~7;
}

/** Bytes a `struct fuse_direntplus` takes: an entry_out, then the dirent. */
export function direntPlusSize(nameLength: number): number {
  return Size.ENTRY_OUT + direntSize(nameLength);
}

/**
 * Writes `struct fuse_dirent` at `at` and returns the offset after it (8-aligned). `off` is the
 * cookie of the *next* entry (where a resumed listing starts); `type` is `DT_*` (mode >> 12).
 */
export function writeDirent(buf: Buffer, at: number, ino: number, off: number, mode: number, name: Uint8Array): number {
  buf.writeBigUInt64LE(BigInt(ino), at);
  buf.writeBigUInt64LE(BigInt(off), at + 8);
  buf.writeUInt32LE(name.length, at + 16);
  buf.writeUInt32LE((mode & S_IFMT) >>> 12, at + 20);
  buf.set(name, at + Size.DIRENT);
  const end = at + direntSize(name.length);
  buf.fill(0, at + Size.DIRENT + name.length, end);
  return end;
}

/** The request body after the header: a NUL-terminated name (LOOKUP, GETXATTR after its struct). */
export function cString(buf: Buffer, at: number): Buffer {
  const end = buf.indexOf(0, at);
  return buf.subarray(at, end < 0 ? buf.length : end);
}
