import { FsError, type FsErrorCode } from '../errors/fs-error.js';
import { dataLoss } from '../errors/image-fs-error.js';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../overlay/file-type.js';
import { encodeRawName } from '../tar/raw-name.js';
import type { CreateSpec, FsTree, SetAttrs, Timespec, WritableFsTree } from '../tree/types.js';
import type { DataRef } from './extent-content.js';
import { Journal, type LowerIdentity } from './journal.js';
import { nowTimespec, type UpperRecord } from './records.js';
import { checkRename } from './rename-check.js';
import { UpperApply } from './upper-apply.js';

/** Options of {@link UpperTree.open}. */
export interface UpperOptions {
  /** Keep the upper in this directory (made when missing; reused when imagefs made it). Default: in memory. */
  dir?: string;
  /** Names the lower tree (an image's manifest digest); an upper directory is only reused over the same. */
  fingerprint?: string;
  /** Largest file size in bytes: writes and truncates past it fail with `EFBIG`. Default 2^53 - 1. */
  maxFileSize?: number;
  /** Most bytes of written data the upper holds: past it writes fail with `ENOSPC`. Default unlimited. */
  maxBytes?: number;
}

/**
 * The longest name of one component, in bytes (Linux `NAME_MAX`).
 *
 * @example
 * ```ts
 * Buffer.byteLength(name) <= NAME_MAX;
 * ```
 */
export const NAME_MAX = 255;

const MAX_SIZE = Number.MAX_SAFE_INTEGER;

/**
 * The writable upper layer over any lower {@link FsTree}: a {@link WritableFsTree} that
 * `ImageFs`, `export`, `commitUpper` and the FUSE server use like any tree. Lower inodes keep
 * their numbers (so hardlinks stay one inode after a copy-up, and a renamed lower directory keeps
 * its lower children without a copy); new inodes are numbered after the lower's. Changes are
 * records ({@link UpperRecord}) applied in memory, journalled first when the upper lives in a
 * directory (see `docs/overlay.md`).
 *
 * @example
 * ```ts
 * const upper = UpperTree.open(image.tree, { dir: '/var/lib/app/upper', fingerprint: digest });
 * const fs = new ImageFs(upper);
 * await fs.writeFile('/etc/motd', 'hello\n');
 * ```
 */
export class UpperTree extends UpperApply implements WritableFsTree {
  readonly writable = true as const;
  private readonly maxFileSize: number;
  private readonly maxBytes: number;

  private constructor(lower: FsTree, journal: Journal | null, options: UpperOptions) {
    super(lower, journal);
    this.maxFileSize = options.maxFileSize ?? MAX_SIZE;
    this.maxBytes = options.maxBytes ?? Infinity;
  }

  /**
   * An upper over `lower`: in memory, or in `options.dir` (its journal replayed when imagefs made
   * it; a foreign or damaged directory is refused with an `ImageError`).
   */
  static open(lower: FsTree, options: UpperOptions = {}): UpperTree {
    if (options.dir === undefined) return new UpperTree(lower, null, options);
    const identity: LowerIdentity = { fingerprint: options.fingerprint ?? 'unnamed', inodes: lower.inodeCount };
    const { journal, entries } = Journal.open(options.dir, identity);
    const tree = new UpperTree(lower, journal, options);
    for (const [i, e] of entries.entries()) {
      try {
        tree.apply(e.record, e.dataAt);
      } catch (error) {
        journal.close();
        throw dataLoss(`the upper journal ${journal.path} has a record (${i + 1} of ${entries.length}, ${e.record.op}) that does not apply to this image`, {
          subject: journal.path, cause: error, hint: 'the upper was made over another tree; give a new directory',
        });
      }
    }
    return tree;
  }

  // ---- WritableFsTree ----

  create(dir: number, name: string, spec: CreateSpec): number {
    this.checkNewName(dir, name, 'mknod');
    const type = spec.mode & S_IFMT;
    if (![S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, 0o010000, 0o140000].includes(type)) throw this.err('EINVAL', 'mknod', name);
    if (type === S_IFLNK && (spec.target === undefined || spec.target === '')) throw this.err('ENOENT', 'symlink', name);
    if (spec.target !== undefined && encodeRawName(spec.target).length > 4095) throw this.err('ENAMETOOLONG', 'symlink', name);
    const ino = this.nextIno;
    this.commit({ op: 'create', dir, name, ino, spec: { ...spec }, t: nowTimespec() });
    return ino;
  }

  link(ino: number, dir: number, name: string): void {
    this.checkNewName(dir, name, 'link');
    if ((this.modeOf(ino) & S_IFMT) === S_IFDIR) throw this.err('EPERM', 'link', name);
    this.commit({ op: 'link', ino, dir, name, t: nowTimespec() });
  }

  unlink(dir: number, name: string): void {
    const ino = this.existing(dir, name, 'unlink');
    if ((this.modeOf(ino) & S_IFMT) === S_IFDIR) throw this.err('EISDIR', 'unlink', name);
    this.commit({ op: 'unlink', dir, name, t: nowTimespec() });
  }

  rmdir(dir: number, name: string): void {
    const ino = this.existing(dir, name, 'rmdir');
    if ((this.modeOf(ino) & S_IFMT) !== S_IFDIR) throw this.err('ENOTDIR', 'rmdir', name);
    if (!this.isEmpty(ino)) throw this.err('ENOTEMPTY', 'rmdir', name);
    this.commit({ op: 'unlink', dir, name, t: nowTimespec() });
  }

  rename(fromDir: number, fromName: string, toDir: number, toName: string, flags = 0): void {
    const noop = checkRename(this, fromDir, fromName, toDir, toName, flags, (code) => this.err(code, 'rename', fromName, toName));
    if (!noop) this.commit({ op: 'rename', fromDir, fromName, toDir, toName, flags, t: nowTimespec() });
  }

  setattr(ino: number, attrs: SetAttrs): void {
    const type = this.modeOf(ino) & S_IFMT;
    if (attrs.size !== undefined) {
      if (type === S_IFDIR) throw this.err('EISDIR', 'truncate', String(ino));
      if (type !== S_IFREG) throw this.err('EINVAL', 'truncate', String(ino));
      if (!Number.isSafeInteger(attrs.size) || attrs.size < 0) throw this.err('EINVAL', 'truncate', String(ino));
      if (attrs.size > this.maxFileSize) throw this.err('EFBIG', 'truncate', String(ino));
    }
    const t = nowTimespec();
    const at = (v: Timespec | 'now' | undefined): Timespec | undefined => (v === 'now' ? t : v);
    const resolved = { ...attrs, atime: at(attrs.atime), mtime: at(attrs.mtime) };
    if (resolved.atime === undefined) delete resolved.atime;
    if (resolved.mtime === undefined) delete resolved.mtime;
    this.commit({ op: 'setattr', ino, attrs: resolved, t });
  }

  setxattr(ino: number, name: string, value: Uint8Array, flags = 0): void {
    const type = this.modeOf(ino) & S_IFMT;
    // Linux allows user.* attributes on regular files and directories only.
    if (name.startsWith('user.') && type !== S_IFREG && type !== S_IFDIR) throw this.err('EPERM', 'setxattr', name);
    if (name === '' || Buffer.byteLength(name) > 255) throw this.err(name === '' ? 'ERANGE' : 'ERANGE', 'setxattr', name);
    if (value.byteLength > 65536) throw this.err('ERANGE', 'setxattr', name);
    const has = this.xattrs(ino).some(([n]) => n === name);
    if (flags & 1 && has) throw this.err('EEXIST', 'setxattr', name);
    if (flags & 2 && !has) throw this.err('ENODATA', 'setxattr', name);
    this.commit({ op: 'setxattr', ino, name, value: Buffer.from(value).toString('base64'), t: nowTimespec() });
  }

  removexattr(ino: number, name: string): void {
    if (!this.xattrs(ino).some(([n]) => n === name)) throw this.err('ENODATA', 'removexattr', name);
    this.commit({ op: 'removexattr', ino, name, t: nowTimespec() });
  }

  async write(ino: number, position: number, data: Uint8Array): Promise<number> {
    const type = this.modeOf(ino) & S_IFMT;
    if (type === S_IFDIR) throw this.err('EISDIR', 'write', String(ino));
    if (type !== S_IFREG) throw this.err('EINVAL', 'write', String(ino));
    if (!Number.isSafeInteger(position) || position < 0) throw this.err('EINVAL', 'write', String(ino));
    if (data.byteLength === 0) return 0;
    if (position + data.byteLength > this.maxFileSize) throw this.err('EFBIG', 'write', String(ino));
    if (this.dataBytes + data.byteLength > this.maxBytes) throw this.err('ENOSPC', 'write', String(ino));
    this.commit({ op: 'write', ino, position, length: data.byteLength, t: nowTimespec() }, data);
    return data.byteLength;
  }

  async sync(): Promise<void> {
    this.journal?.sync();
  }

  retain(ino: number): void {
    this.own(ino).open++;
  }

  release(ino: number): void {
    const n = this.nodes.get(ino);
    if (n === undefined || n.open === 0) return;
    n.open--;
    this.forgetIfGone(ino, n);
  }

  /** Closes the journal (an on-disk upper); the tree stays readable in memory. */
  close(): void {
    this.journal?.close();
  }

  // ---- applying records ----

  /** Journals a record (with its data) and applies it. A failed append changes nothing. */
  private commit(record: UpperRecord, data?: Uint8Array): void {
    let ref: DataRef | undefined;
    if (this.journal !== null) ref = this.journal.append(record, data);
    else if (data !== undefined) ref = Uint8Array.from(data);
    this.apply(record, ref);
  }

  private checkNewName(dir: number, name: string, syscall: string): void {
    if ((this.modeOf(dir) & S_IFMT) !== S_IFDIR) throw this.err('ENOTDIR', syscall, name);
    if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) throw this.err(name === '' ? 'ENOENT' : 'EINVAL', syscall, name);
    if (encodeRawName(name).length > NAME_MAX) throw this.err('ENAMETOOLONG', syscall, name);
    if (this.lookup(dir, name) !== 0) throw this.err('EEXIST', syscall, name);
    if (this.nodes.get(dir)?.attrs.nlink === 0) throw this.err('ENOENT', syscall, name);
  }

  private existing(dir: number, name: string, syscall: string): number {
    if ((this.modeOf(dir) & S_IFMT) !== S_IFDIR) throw this.err('ENOTDIR', syscall, name);
    const ino = this.lookup(dir, name);
    if (ino === 0) throw this.err('ENOENT', syscall, name);
    return ino;
  }

  private err(code: FsErrorCode, syscall: string, path: string, dest?: string): FsError {
    return new FsError(code, syscall, path, dest);
  }

}
