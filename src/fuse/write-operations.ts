/**
 * The writable side of the FUSE server: the requests that change a {@link WritableFsTree}
 * (CREATE, MKNOD, MKDIR, SYMLINK, LINK, UNLINK, RMDIR, RENAME, RENAME2, SETATTR, WRITE,
 * SETXATTR, REMOVEXATTR, FLUSH, FSYNC, FSYNCDIR, FALLOCATE), and the read-side requests that
 * answer differently when the tree can change (OPEN with write flags and a handle per open, so
 * that an unlinked open file keeps its data; OPENDIR without the kernel keeping listings; ACCESS
 * with W_OK; STATFS with free room). Everything else goes to {@link FuseOperations}.
 *
 * Node ids stay inode numbers. Metadata calls run synchronously in the order the requests arrive
 * (the tree's calls are synchronous), so a LOOKUP right after a CREATE finds the new entry.
 */
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../overlay/file-type.js';
import { WriteOps } from '../fs/write-ops.js';
import { decodeRawName } from '../tar/raw-name.js';
import type { SetAttrs, Timespec, WritableFsTree } from '../tree/types.js';
import { cString, replyBuffer, writeAttrOut, writeEntryOut, type InHeader, type Validity } from './codec.js';
import { errnoOf } from './errno.js';
import { FuseOperations, type OperationNote, type Reply } from './operations.js';
import { Errno, Op, opName, Size } from './protocol.js';

/** `fuse_setattr_in.valid` bits. */
const FATTR = { MODE: 1, UID: 2, GID: 4, SIZE: 8, ATIME: 16, MTIME: 32, ATIME_NOW: 128, MTIME_NOW: 256 } as const;
const O_TRUNC = 0o1000;
const FALLOC_FL_KEEP_SIZE = 1;
/** `struct fuse_write_in` (7.9+): fh, offset, size, write_flags, lock_owner, flags, padding. */
const WRITE_IN = 40;
/** `struct fuse_write_out`: size, padding. */
const WRITE_OUT = 8;
/** `struct fuse_create_in` (7.12+): flags, mode, umask, open_flags. */
const CREATE_IN = 16;
/** `struct fuse_mknod_in` (7.12+): mode, rdev, umask, padding. */
const MKNOD_IN = 16;
/** `struct fuse_mkdir_in`: mode, umask. */
const MKDIR_IN = 8;
/** `struct fuse_rename2_in`: newdir, flags, padding. */
const RENAME2_IN = 16;
/** `struct fuse_setxattr_in` as the kernel sends it before 7.33: size, flags. */
const SETXATTR_IN = 8;
/** `fuse_statfs_out.st.bfree`/`bavail`/`ffree` of a writable mount: room is the upper's (memory or a directory). */
const FREE_BLOCKS = 1n << 30n;

/** A thrown errno, answered as is. */
class WriteErrno extends Error {
  constructor(readonly errno: number) { super(`errno ${errno}`); }
}

/**
 * The FUSE operations of a writable tree: {@link FuseOperations} plus the requests that change
 * it. The kernel's caches are kept out of the way rather than invalidated: the mount gives zero
 * entry and attribute timeouts, and files open without `FOPEN_KEEP_CACHE` (and directories
 * without `FOPEN_CACHE_DIR`), so what the kernel shows is what the tree holds at the next call.
 *
 * @example
 * ```ts
 * import { UpperTree } from 'imagefs';
 * const upper = UpperTree.open(image.tree);
 * const ops = new FuseWriteOperations(upper, { entrySeconds: 0, attrSeconds: 0 });
 * const reply = await ops.handle(header, body); // a CREATE makes the file in `upper`
 * ```
 */
export class FuseWriteOperations extends FuseOperations {
  private nextWriteFh = 1 << 30;
  /** File handles of OPEN and CREATE: fh → inode (retained in the tree until RELEASE). */
  private readonly handles = new Map<number, number>();
  private readonly writeCounts = new Map<string, number>();
  private readonly wvalid: Validity;

  /**
   * @param tree - the writable tree served.
   * @param valid - cache lifetimes the kernel gets (zero for a writable tree: see the class comment).
   * @param note - receives the INIT parameters and EIO failures, as for {@link FuseOperations}.
   */
  constructor(private readonly wtree: WritableFsTree, valid: Validity, note: (n: OperationNote) => void = () => {}) {
    // Zero-message opens are off: a handle per open is what keeps an unlinked open file alive.
    super(wtree, valid, note, false);
    this.wvalid = valid;
  }

  override requestCounts(): Record<string, number> {
    const out = super.requestCounts();
    for (const [name, n] of this.writeCounts) out[name] = (out[name] ?? 0) + n;
    return out;
  }

  override async handle(h: InHeader, body: Buffer): Promise<Reply> {
    let mine: Promise<Reply> | Reply | undefined;
    try {
      mine = this.writeDispatch(h, body);
    } catch (error) {
      mine = { errno: error instanceof WriteErrno ? error.errno : errnoOf(error) };
    }
    if (mine === undefined) {
      const reply = await super.handle(h, body);
      return this.adjust(h.opcode, reply);
    }
    const name = opName(h.opcode);
    this.writeCounts.set(name, (this.writeCounts.get(name) ?? 0) + 1);
    try {
      return await mine;
    } catch (error) {
      return { errno: error instanceof WriteErrno ? error.errno : errnoOf(error) };
    }
  }

  /** Changes a read-side reply where a writable tree needs it. */
  private adjust(opcode: number, reply: Reply): Reply {
    if (reply === null || !('body' in reply)) return reply;
    if (opcode === Op.OPENDIR) reply.body.writeUInt32LE(0, Size.OUT_HEADER + 8); // no FOPEN_CACHE_DIR / KEEP_CACHE: listings change
    if (opcode === Op.STATFS) {
      const o = Size.OUT_HEADER;
      reply.body.writeBigUInt64LE(FREE_BLOCKS, o + 8); // bfree
      reply.body.writeBigUInt64LE(FREE_BLOCKS, o + 16); // bavail
      reply.body.writeBigUInt64LE(FREE_BLOCKS, o + 32); // ffree
    }
    return reply;
  }

  /**
   * The requests answered here (synchronously up to the tree's own async work), or undefined for
   * those {@link FuseOperations} answers.
   */
  private writeDispatch(h: InHeader, body: Buffer): Promise<Reply> | Reply | undefined {
    const ino = h.nodeid;
    const t = this.wtree;
    switch (h.opcode) {
      case Op.OPEN: return this.openFile(ino, body.readUInt32LE(0));
      case Op.RELEASE: {
        const fh = Number(body.readBigUInt64LE(0));
        const held = this.handles.get(fh);
        if (held === undefined) return undefined;
        this.handles.delete(fh);
        t.release(held);
        return done();
      }
      case Op.ACCESS: t.modeOf(ino); return done(); // the kernel checks permissions (default_permissions)
      case Op.FLUSH: return done();
      case Op.FSYNC: case Op.FSYNCDIR: return t.sync().then(done);
      case Op.CREATE: return this.create(h, body);
      case Op.MKNOD: {
        const mode = body.readUInt32LE(0);
        const rdev = body.readUInt32LE(4);
        const type = mode & S_IFMT || S_IFREG;
        const name = nameAt(body, MKNOD_IN);
        const spec = this.creator(h).spec(ino, type, mode, { rdevMajor: (rdev & 0xfff00) >>> 8, rdevMinor: (rdev & 0xff) | ((rdev >>> 12) & 0xfff00) });
        return this.entry(t.create(ino, name, spec));
      }
      case Op.MKDIR: {
        const name = nameAt(body, MKDIR_IN);
        return this.entry(t.create(ino, name, this.creator(h).spec(ino, S_IFDIR, body.readUInt32LE(0))));
      }
      case Op.SYMLINK: {
        const nameBytes = cString(body, 0);
        const target = decodeRawName(cString(body, nameBytes.length + 1));
        const spec = { ...this.creator(h).spec(ino, S_IFLNK, 0o777), mode: S_IFLNK | 0o777, target };
        return this.entry(t.create(ino, decodeRawName(nameBytes), spec));
      }
      case Op.LINK: {
        const old = Number(body.readBigUInt64LE(0));
        t.link(old, ino, nameAt(body, 8));
        return this.entry(old);
      }
      case Op.UNLINK: t.unlink(ino, nameAt(body, 0)); return done();
      case Op.RMDIR: t.rmdir(ino, nameAt(body, 0)); return done();
      case Op.RENAME: case Op.RENAME2: {
        const newDir = Number(body.readBigUInt64LE(0));
        const flags = h.opcode === Op.RENAME2 ? body.readUInt32LE(8) : 0;
        const at = h.opcode === Op.RENAME2 ? RENAME2_IN : 8;
        const oldBytes = cString(body, at);
        t.rename(ino, decodeRawName(oldBytes), newDir, nameAt(body, at + oldBytes.length + 1), flags);
        return done();
      }
      case Op.SETATTR: return this.setattr(ino, body);
      case Op.WRITE: {
        const offset = Number(body.readBigUInt64LE(8));
        const size = body.readUInt32LE(16);
        const data = body.subarray(WRITE_IN, WRITE_IN + size); // the request's own buffer: never reused
        return t.write(ino, offset, data).then((n) => {
          const b = replyBuffer(WRITE_OUT);
          b.writeUInt32LE(n, Size.OUT_HEADER);
          return { body: b };
        });
      }
      case Op.SETXATTR: {
        const size = body.readUInt32LE(0);
        const flags = body.readUInt32LE(4);
        const nameBytes = cString(body, SETXATTR_IN);
        const valueAt = SETXATTR_IN + nameBytes.length + 1;
        t.setxattr(ino, decodeRawName(nameBytes), Uint8Array.from(body.subarray(valueAt, valueAt + size)), flags);
        return done();
      }
      case Op.REMOVEXATTR: t.removexattr(ino, nameAt(body, 0)); return done();
      case Op.FALLOCATE: {
        const offset = Number(body.readBigUInt64LE(8));
        const length = Number(body.readBigUInt64LE(16));
        const mode = body.readUInt32LE(24);
        if ((mode & ~FALLOC_FL_KEEP_SIZE) !== 0) throw new WriteErrno(Errno.ENOTSUP); // punching holes, zeroing ranges: not cheap here
        if ((t.modeOf(ino) & S_IFMT) !== S_IFREG) throw new WriteErrno(19); // ENODEV
        // Nothing is preallocated (the upper has no blocks to reserve); growing the size is all.
        if ((mode & FALLOC_FL_KEEP_SIZE) === 0 && offset + length > t.attrs(ino).size) t.setattr(ino, { size: offset + length });
        return done();
      }
      case Op.COPY_FILE_RANGE: case Op.TMPFILE: return { errno: Errno.ENOSYS }; // the kernel falls back to reads and writes / refuses O_TMPFILE
      default: return undefined;
    }
  }

  private creator(h: InHeader): WriteOps {
    // The kernel has applied the umask already (no FUSE_DONT_MASK): none here.
    return new WriteOps(this.wtree, { uid: h.uid, gid: h.gid, umask: 0 });
  }

  private entry(ino: number): Reply {
    const b = replyBuffer(Size.ENTRY_OUT);
    writeEntryOut(b, Size.OUT_HEADER, this.wtree.attrs(ino), this.wvalid);
    return { body: b };
  }

  private openFile(ino: number, flags: number): Reply {
    const mode = this.wtree.modeOf(ino);
    if ((mode & S_IFMT) === S_IFDIR) throw new WriteErrno(Errno.EISDIR);
    if ((mode & S_IFMT) !== S_IFREG) throw new WriteErrno(Errno.EINVAL);
    if ((flags & O_TRUNC) !== 0 && this.wtree.attrs(ino).size !== 0) this.wtree.setattr(ino, { size: 0 });
    return this.openReply(ino);
  }

  private openReply(ino: number, prefix?: Buffer): Reply {
    this.wtree.retain(ino);
    const fh = this.nextWriteFh++;
    this.handles.set(fh, ino);
    const at = prefix === undefined ? 0 : prefix.length - Size.OUT_HEADER;
    const b = replyBuffer(at + Size.OPEN_OUT);
    if (prefix !== undefined) prefix.copy(b, Size.OUT_HEADER, Size.OUT_HEADER);
    b.writeBigUInt64LE(BigInt(fh), Size.OUT_HEADER + at);
    b.writeUInt32LE(0, Size.OUT_HEADER + at + 8); // no FOPEN_KEEP_CACHE: the bytes may have changed since the last open
    return { body: b };
  }

  private create(h: InHeader, body: Buffer): Reply {
    const flags = body.readUInt32LE(0);
    const mode = body.readUInt32LE(4);
    const name = nameAt(body, CREATE_IN);
    const ino = this.wtree.create(h.nodeid, name, this.creator(h).spec(h.nodeid, S_IFREG, mode));
    if ((flags & O_TRUNC) !== 0 && this.wtree.attrs(ino).size !== 0) this.wtree.setattr(ino, { size: 0 });
    const entry = this.entry(ino) as { body: Buffer };
    return this.openReply(ino, entry.body);
  }

  private setattr(ino: number, body: Buffer): Reply {
    const valid = body.readUInt32LE(0);
    const attrs: SetAttrs = {};
    if ((valid & FATTR.MODE) !== 0) attrs.mode = body.readUInt32LE(68) & 0o7777;
    if ((valid & FATTR.UID) !== 0) attrs.uid = body.readUInt32LE(76);
    if ((valid & FATTR.GID) !== 0) attrs.gid = body.readUInt32LE(80);
    if ((valid & FATTR.SIZE) !== 0) attrs.size = Number(body.readBigUInt64LE(16));
    if ((valid & FATTR.ATIME_NOW) !== 0) attrs.atime = 'now';
    else if ((valid & FATTR.ATIME) !== 0) attrs.atime = timespec(body, 32, 56);
    if ((valid & FATTR.MTIME_NOW) !== 0) attrs.mtime = 'now';
    else if ((valid & FATTR.MTIME) !== 0) attrs.mtime = timespec(body, 40, 60);
    if (attrs.size !== undefined && (this.wtree.modeOf(ino) & S_IFMT) === S_IFDIR) throw new WriteErrno(Errno.EISDIR);
    if (Object.keys(attrs).length > 0) this.wtree.setattr(ino, attrs);
    const b = replyBuffer(Size.ATTR_OUT);
    writeAttrOut(b, Size.OUT_HEADER, this.wtree.attrs(ino), this.wvalid);
    return { body: b };
  }
}

function done(): Reply {
  return { body: replyBuffer(0) };
}

function nameAt(body: Buffer, at: number): string {
  return decodeRawName(cString(body, at));
}

function timespec(body: Buffer, secAt: number, nsecAt: number): Timespec {
  return { sec: Number(body.readBigInt64LE(secAt)), nsec: body.readUInt32LE(nsecAt) };
}
