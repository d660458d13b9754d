/**
 * The file system side of the server: each request about an {@link FsTree} turned into a reply
 * body or an errno. Node ids are the tree's inode numbers (`ROOT_INO` = `FUSE_ROOT_ID` = 1), so
 * LOOKUP keeps no table and FORGET has nothing to forget. Everything is answered from the tree's
 * in-memory metadata at once, except READ, which awaits the file's (possibly lazy) bytes; each
 * request is independent, so replies go out in whatever order they are ready.
 */
import { decodeRawName, encodeRawName } from '../tar/raw-name.js';
import type { FileContent, FsTree, TreeDirEntry } from '../tree/types.js';
import { cString, direntPlusSize, direntSize, replyBuffer, writeAttrOut, writeDirent, writeEntryOut, type InHeader, type Validity } from './codec.js';
import { errnoOf } from './errno.js';
import {
  Errno, FOPEN_CACHE_DIR, FOPEN_KEEP_CACHE, FUSE_KERNEL_MINOR_VERSION, FUSE_KERNEL_VERSION, Init, MAX_WRITE,
  Op, opName, PAGE_SIZE, Size, WRITE_OPS,
} from './protocol.js';

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const O_ACCMODE = 3;
const O_TRUNC = 0o1000;
const W_OK = 2;
const ENCODED_DOT = encodeRawName('.');
const ENCODED_DOTDOT = encodeRawName('..');

/** A reply: a body (with {@link Size.OUT_HEADER} bytes of room first), an errno, or none at all. */
export type Reply = { body: Buffer } | { errno: number } | null;

/** What the operations tell their owner about (read failures, the negotiated protocol). */
export type OperationNote =
  | { type: 'init'; kernel: string; protocol: string; maxRead: number; maxReadahead: number; zeroMessageOpen: boolean }
  | { type: 'io-error'; op: string; ino: number; errno: number; error: unknown };

/** A thrown errno: answered as is. */
class Errno_ extends Error {
  constructor(readonly errno: number) { super(`errno ${errno}`); }
}
const fail = (errno: number): never => { throw new Errno_(errno); };

interface DirHandle { ino: number; entries?: TreeDirEntry[] }

/** How many listings READDIR keeps without a handle (zero-message OPENDIR): the last ones used. */
const LISTINGS_KEPT = 64;

/** Serves one {@link FsTree} over the FUSE protocol (see the file comment). */
export class FuseOperations {
  private nextFh = 1;
  private readonly files = new Map<number, FileContent>();
  private readonly dirs = new Map<number, DirHandle>();
  /** Listings by directory inode, for READDIRs that come without a handle (fh 0). */
  private readonly listings = new Map<number, TreeDirEntry[]>();
  private readonly inFlight = new Map<bigint, AbortController>();
  private readonly counts = new Map<number, number>();
  /** Answer OPEN / OPENDIR `ENOSYS` (the kernel offered zero-message opens, and they are wanted). */
  private noOpen = false;
  private noOpendir = false;

  /**
   * @param zeroMessageOpen - when the kernel offers it, answer the first OPEN and OPENDIR with
   *   `ENOSYS`, so that every later open and close of a file or directory costs no message.
   */
  constructor(
    private readonly tree: FsTree,
    private readonly valid: Validity,
    private readonly note: (n: OperationNote) => void = () => {},
    private readonly zeroMessageOpen = true,
  ) {}

  /** Requests received so far, by opcode name (`READ`, `LOOKUP`, ...). */
  requestCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [op, n] of this.counts) out[opName(op)] = n;
    return out;
  }

  /** Answers one request; the body is the bytes after the 40-byte header. */
  async handle(h: InHeader, body: Buffer): Promise<Reply> {
    this.counts.set(h.opcode, (this.counts.get(h.opcode) ?? 0) + 1);
    try {
      return await this.dispatch(h, body);
    } catch (error) {
      if (error instanceof Errno_) return { errno: error.errno };
      const errno = errnoOf(error);
      if (errno === Errno.EIO) this.note({ type: 'io-error', op: h.opcode === Op.READ ? 'read' : `op ${h.opcode}`, ino: h.nodeid, errno, error });
      return { errno };
    }
  }

  private async dispatch(h: InHeader, body: Buffer): Promise<Reply> {
    const ino = h.nodeid;
    switch (h.opcode) {
      case Op.INIT: return this.init(body);
      case Op.DESTROY: return ok(0);
      case Op.LOOKUP: return this.lookup(ino, cString(body, 0));
      case Op.FORGET: case Op.BATCH_FORGET: return null; // node ids are inode numbers: nothing to forget
      case Op.INTERRUPT: this.inFlight.get(body.readBigUInt64LE(0))?.abort(); return null;
      case Op.GETATTR: { const b = ok(Size.ATTR_OUT); writeAttrOut(b.body, Size.OUT_HEADER, this.tree.attrs(ino), this.valid); return b; }
      case Op.READLINK: { const target = encodeRawName(this.tree.readlink(ino)); const b = ok(target.length); b.body.set(target, Size.OUT_HEADER); return b; }
      case Op.OPEN: return this.open(ino, body.readUInt32LE(0));
      case Op.READ: return this.read(h, body);
      case Op.RELEASE: this.files.delete(Number(body.readBigUInt64LE(0))); return ok(0);
      case Op.OPENDIR: return this.opendir(ino);
      case Op.READDIR: case Op.READDIRPLUS: return this.readdir(ino, body, h.opcode === Op.READDIRPLUS);
      case Op.RELEASEDIR: this.dirs.delete(Number(body.readBigUInt64LE(0))); return ok(0);
      case Op.STATFS: return this.statfs();
      case Op.GETXATTR: return this.getxattr(ino, body.readUInt32LE(0), cString(body, 8));
      case Op.LISTXATTR: return this.listxattr(ino, body.readUInt32LE(0));
      case Op.ACCESS: this.tree.modeOf(ino); return (body.readUInt32LE(0) & W_OK) !== 0 ? { errno: Errno.EROFS } : ok(0);
      // Nothing to flush in a read-only image: ENOSYS makes the kernel stop sending FLUSH at every
      // close (one round trip less per open file); FSYNC likewise.
      case Op.FLUSH: case Op.FSYNC: case Op.FSYNCDIR: return { errno: Errno.ENOSYS };
      default: return { errno: WRITE_OPS.has(h.opcode) ? Errno.EROFS : Errno.ENOSYS };
    }
  }

  private init(body: Buffer): Reply {
    const major = body.readUInt32LE(0);
    const minor = body.readUInt32LE(4);
    const kernelReadahead = body.readUInt32LE(8);
    const offered = body.readUInt32LE(12);
    if (major < FUSE_KERNEL_VERSION) return { errno: 71 }; // EPROTO
    const b = ok(Size.INIT_OUT);
    const o = Size.OUT_HEADER;
    const wanted = Init.ASYNC_READ | Init.BIG_WRITES | Init.DO_READDIRPLUS | Init.READDIRPLUS_AUTO | Init.ASYNC_DIO
      | Init.PARALLEL_DIROPS | Init.MAX_PAGES | Init.CACHE_SYMLINKS;
    const maxReadahead = Math.min(kernelReadahead, MAX_WRITE);
    b.body.writeUInt32LE(FUSE_KERNEL_VERSION, o);
    b.body.writeUInt32LE(Math.min(minor, FUSE_KERNEL_MINOR_VERSION), o + 4);
    b.body.writeUInt32LE(maxReadahead, o + 8);
    b.body.writeUInt32LE((offered & wanted) >>> 0, o + 12);
    b.body.writeUInt16LE(64, o + 16); // max_background: lazy reads in flight at once
    b.body.writeUInt16LE(48, o + 18); // congestion_threshold
    b.body.writeUInt32LE(MAX_WRITE, o + 20);
    b.body.writeUInt32LE(1, o + 24); // time_gran: nanoseconds
    b.body.writeUInt16LE(MAX_WRITE / PAGE_SIZE, o + 28); // max_pages: 1 MiB reads
    const maxRead = (offered & Init.MAX_PAGES) !== 0 ? MAX_WRITE : 32 * PAGE_SIZE;
    // Zero-message opens: the kernel then opens with FOPEN_KEEP_CACHE (and FOPEN_CACHE_DIR for
    // directories) by itself and never sends RELEASE; READ and READDIR come with fh 0.
    this.noOpen = this.zeroMessageOpen && (offered & Init.NO_OPEN_SUPPORT) !== 0;
    this.noOpendir = this.zeroMessageOpen && (offered & Init.NO_OPENDIR_SUPPORT) !== 0;
    this.note({
      type: 'init', kernel: `${major}.${minor}`, protocol: `${FUSE_KERNEL_VERSION}.${Math.min(minor, FUSE_KERNEL_MINOR_VERSION)}`, maxRead, maxReadahead,
      zeroMessageOpen: this.noOpen,
    });
    return b;
  }

  private lookup(dir: number, nameBytes: Buffer): Reply {
    if ((this.tree.modeOf(dir) & S_IFMT) !== S_IFDIR) fail(Errno.ENOTDIR);
    const name = decodeRawName(nameBytes);
    const child = name === '.' ? dir : name === '..' ? this.tree.parentOf(dir) : this.tree.lookup(dir, name);
    const b = ok(Size.ENTRY_OUT);
    // Not found: a negative entry (node id 0) the kernel may cache as long as names; the image never changes.
    writeEntryOut(b.body, Size.OUT_HEADER, child === 0 ? undefined : this.tree.attrs(child), this.valid);
    return b;
  }

  private open(ino: number, flags: number): Reply {
    if ((flags & O_ACCMODE) !== 0 || (flags & O_TRUNC) !== 0) fail(Errno.EROFS);
    const mode = this.tree.modeOf(ino);
    if ((mode & S_IFMT) === S_IFDIR) fail(Errno.EISDIR);
    if ((mode & S_IFMT) !== S_IFREG) fail(Errno.EINVAL);
    if (this.noOpen) return { errno: Errno.ENOSYS }; // success for the kernel, and no OPEN ever again
    const fh = this.nextFh++;
    this.files.set(fh, this.tree.content(ino));
    return openReply(fh, FOPEN_KEEP_CACHE); // the bytes never change: keep the page cache across opens
  }

  private async read(h: InHeader, body: Buffer): Promise<Reply> {
    const fh = Number(body.readBigUInt64LE(0));
    const offset = Number(body.readBigUInt64LE(8));
    const size = Math.min(body.readUInt32LE(16), MAX_WRITE);
    const content = this.files.get(fh) ?? this.tree.content(h.nodeid);
    if (offset >= content.size) return ok(0);
    const b = ok(Math.min(size, content.size - offset));
    const controller = new AbortController();
    this.inFlight.set(h.unique, controller);
    try {
      // readInto may copy less than asked (a read that ends at a span boundary, say). A short
      // READ reply means end of file to the kernel: it shrinks the file's size, and the next
      // attributes (with the real size) then drop the whole page cache of the file. So fill it.
      const want = b.body.length - Size.OUT_HEADER;
      let n = 0;
      while (n < want) {
        const got = await content.readInto(b.body, Size.OUT_HEADER + n, want - n, offset + n, { signal: controller.signal });
        if (got <= 0) break;
        n += got;
      }
      return { body: b.body.subarray(0, Size.OUT_HEADER + n) };
    } catch (error) {
      if (controller.signal.aborted) fail(Errno.EINTR);
      throw error;
    } finally {
      this.inFlight.delete(h.unique);
    }
  }

  private opendir(ino: number): Reply {
    if ((this.tree.modeOf(ino) & S_IFMT) !== S_IFDIR) fail(Errno.ENOTDIR);
    if (this.noOpendir) return { errno: Errno.ENOSYS };
    const fh = this.nextFh++;
    this.dirs.set(fh, { ino });
    return openReply(fh, FOPEN_CACHE_DIR | FOPEN_KEEP_CACHE); // the listing never changes either
  }

  /**
   * Entry `i` of a listing is `.` (0), `..` (1), then the sorted children; each dirent's `off` is
   * the index of the next, so a listing resumed at any offset (telldir/seekdir, a second READDIR
   * after a full buffer, another handle) continues where it stopped.
   */
  private readdir(ino: number, body: Buffer, plus: boolean): Reply {
    const fh = Number(body.readBigUInt64LE(0));
    const start = Number(body.readBigUInt64LE(8));
    const size = body.readUInt32LE(16);
    const handle = this.dirs.get(fh);
    const entries = handle !== undefined && handle.ino === ino ? (handle.entries ??= [...this.tree.children(ino)]) : this.listing(ino);
    const total = entries.length + 2;
    const chunks: Buffer[] = [];
    let used = 0;
    for (let i = start; i < total; i++) {
      const name = i === 0 ? ENCODED_DOT : i === 1 ? ENCODED_DOTDOT : encodeRawName(entries[i - 2]!.name);
      const child = i === 0 ? ino : i === 1 ? this.tree.parentOf(ino) : entries[i - 2]!.ino;
      const need = plus ? direntPlusSize(name.length) : direntSize(name.length);
      if (used + need > size) break;
      const chunk = Buffer.alloc(need);
      // `.` and `..` carry node id 0 in READDIRPLUS: the kernel skips them (they are no lookups).
      if (plus) writeEntryOut(chunk, 0, i < 2 ? undefined : this.tree.attrs(child), i < 2 ? { entrySeconds: 0, attrSeconds: 0 } : this.valid);
      writeDirent(chunk, plus ? Size.ENTRY_OUT : 0, child, i + 1, this.tree.modeOf(child), name);
      chunks.push(chunk);
      used += need;
    }
    const b = ok(used);
    let at = Size.OUT_HEADER;
    for (const c of chunks) { b.body.set(c, at); at += c.length; }
    return b;
  }

  /** The children of `ino` for a READDIR without a handle; a directory listed in several READDIRs is materialised once. */
  private listing(ino: number): TreeDirEntry[] {
    let entries = this.listings.get(ino);
    if (entries === undefined) {
      entries = [...this.tree.children(ino)];
      if (this.listings.size >= LISTINGS_KEPT) this.listings.delete(this.listings.keys().next().value!);
    } else {
      this.listings.delete(ino);
    }
    this.listings.set(ino, entries); // most recently used last
    return entries;
  }

  private statfs(): Reply {
    const b = ok(Size.STATFS_OUT);
    const o = Size.OUT_HEADER;
    b.body.writeBigUInt64LE(BigInt(Math.ceil(this.tree.totalBytes / PAGE_SIZE)), o); // blocks
    // bfree, bavail: 0 (read-only, full); files: inodes; ffree: 0
    b.body.writeBigUInt64LE(BigInt(this.tree.inodeCount), o + 24);
    b.body.writeUInt32LE(PAGE_SIZE, o + 40); // bsize
    b.body.writeUInt32LE(255, o + 44); // namelen
    b.body.writeUInt32LE(PAGE_SIZE, o + 48); // frsize
    return b;
  }

  private getxattr(ino: number, size: number, nameBytes: Buffer): Reply {
    const name = decodeRawName(nameBytes);
    const found = this.tree.xattrs(ino).find(([n]) => n === name);
    if (found === undefined) return { errno: Errno.ENODATA };
    return sized(found[1], size);
  }

  private listxattr(ino: number, size: number): Reply {
    const parts: Uint8Array[] = [];
    for (const [name] of this.tree.xattrs(ino)) parts.push(encodeRawName(name), new Uint8Array(1));
    return sized(Buffer.concat(parts), size);
  }
}

function ok(bodySize: number): { body: Buffer } {
  return { body: replyBuffer(bodySize) };
}

function openReply(fh: number, flags: number): Reply {
  const b = ok(Size.OPEN_OUT);
  b.body.writeBigUInt64LE(BigInt(fh), Size.OUT_HEADER);
  b.body.writeUInt32LE(flags, Size.OUT_HEADER + 8);
  return b;
}

/** The xattr convention: size 0 asks for the length; a buffer too small is ERANGE. */
function sized(value: Uint8Array, size: number): Reply {
  if (size === 0) {
    const b = ok(Size.GETXATTR_OUT);
    b.body.writeUInt32LE(value.length, Size.OUT_HEADER);
    return b;
  }
  if (value.length > size) return { errno: Errno.ERANGE };
  const b = ok(value.length);
  b.body.set(value, Size.OUT_HEADER);
  return b;
}
