import { FsError } from '../errors/fs-error.js';
import { S_IFCHR, S_IFBLK, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG } from '../overlay/file-type.js';
import type { CreateSpec, SetAttrs, WritableFsTree } from '../tree/types.js';
import { dirPath, resolvePath, type Resolved } from './resolve.js';
import { resolveParent, type ParentRef } from './write-args.js';

/** Who creates files and how (`ImageFs` options): the owner of new inodes and the umask. */
export interface Creator {
  /** Owner of new inodes (default 0). */
  uid: number;
  /** Group of new inodes (default 0; a setgid directory gives its own). */
  gid: number;
  /** Bits taken away from the mode of new inodes (default 0o022). */
  umask: number;
}

/**
 * The path-level write calls of `ImageFs` over a {@link WritableFsTree}: the checks Linux makes
 * on paths (`.`/`..`, trailing slashes, the root) before the tree's own, and every error
 * rethrown with the caller's `path` and `dest`.
 *
 * @example
 * ```ts
 * const ops = new WriteOps(upper, { uid: 0, gid: 0, umask: 0o022 });
 * ops.mkdir('/srv/data', '/srv/data', 0o755);
 * ```
 */
export class WriteOps {
  constructor(readonly tree: WritableFsTree, readonly creator: Creator) {}

  /** Runs a tree call, giving its `FsError` the caller's paths. */
  guard<T>(syscall: string, path: string, dest: string | undefined, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof FsError && (e.path !== path || e.dest !== dest)) throw new FsError(e.code, syscall, path, dest, e.cause);
      throw e;
    }
  }

  /** The spec of a new inode of `type` in `dir`: mode less the umask, owner, and a setgid directory's group. */
  spec(dir: number, type: number, mode: number, extra: Partial<CreateSpec> = {}): CreateSpec {
    const parent = this.tree.attrs(dir);
    const sgid = (parent.mode & 0o2000) !== 0;
    const mask = type === S_IFDIR ? 0o1777 : 0o7777;
    let perm = mode & mask & ~this.creator.umask;
    if (type === S_IFDIR && sgid) perm |= 0o2000;
    return { mode: type | perm, uid: this.creator.uid, gid: sgid ? parent.gid : this.creator.gid, ...extra };
  }

  /** The directory and last name of `key` (see {@link resolveParent}). */
  parent(key: string, syscall: string, shown: string, dest?: string): ParentRef {
    return resolveParent(this.tree, key, syscall, shown, dest);
  }

  /** `mkdir(2)`. Returns the new inode. */
  mkdir(key: string, shown: string, mode: number): number {
    const p = this.parent(key, 'mkdir', shown);
    if (p.name === '' || p.name === '.' || p.name === '..') throw new FsError('EEXIST', 'mkdir', shown);
    return this.guard('mkdir', shown, undefined, () => this.tree.create(p.dir, p.name, this.spec(p.dir, S_IFDIR, mode)));
  }

  /** `mkdir -p`: every missing directory; the path of the first one made, or undefined. */
  mkdirRecursive(key: string, shown: string, mode: number): string | undefined {
    const parts = key.split('/').filter((x) => x !== '' && x !== '.');
    let first: string | undefined;
    let sofar = '';
    for (const part of parts) {
      sofar = part === '..' ? sofar.slice(0, Math.max(0, sofar.lastIndexOf('/'))) : `${sofar}/${part}`;
      if (part === '..') continue;
      let r: Resolved | undefined;
      try {
        r = resolvePath(this.tree, sofar, { follow: true, syscall: 'mkdir', display: shown });
      } catch (e) {
        if (!(e instanceof FsError) || e.code !== 'ENOENT') throw new FsError((e as FsError).code ?? 'EIO', 'mkdir', shown);
      }
      if (r !== undefined) {
        if ((this.tree.modeOf(r.ino) & S_IFMT) !== S_IFDIR) throw new FsError(sofar === '/' + parts.join('/') ? 'EEXIST' : 'ENOTDIR', 'mkdir', shown);
        continue;
      }
      this.mkdir(sofar, shown, mode);
      first ??= sofar;
    }
    return first;
  }

  /** `rmdir(2)`. */
  rmdir(key: string, shown: string): void {
    const p = this.parent(key, 'rmdir', shown);
    if (p.name === '') throw new FsError('EBUSY', 'rmdir', shown);
    if (p.name === '.') throw new FsError('EINVAL', 'rmdir', shown);
    if (p.name === '..') throw new FsError('ENOTEMPTY', 'rmdir', shown);
    this.guard('rmdir', shown, undefined, () => this.tree.rmdir(p.dir, p.name));
  }

  /** `unlink(2)`. */
  unlink(key: string, shown: string): void {
    const p = this.parent(key, 'unlink', shown);
    if (p.name === '' || p.name === '.' || p.name === '..') throw new FsError('EISDIR', 'unlink', shown);
    const ino = this.tree.lookup(p.dir, p.name);
    if (ino !== 0 && p.trailingSlash && (this.tree.modeOf(ino) & S_IFMT) !== S_IFDIR) throw new FsError('ENOTDIR', 'unlink', shown);
    this.guard('unlink', shown, undefined, () => this.tree.unlink(p.dir, p.name));
  }

  /** `rm -r`: removes `ino` (named `name` in `dir`) and everything below it, children first. */
  removeTree(dir: number, name: string, shown: string): void {
    const ino = this.tree.lookup(dir, name);
    if (ino === 0) return;
    if ((this.tree.modeOf(ino) & S_IFMT) === S_IFDIR) {
      for (const child of [...this.tree.children(ino)]) this.removeTree(ino, child.name, shown);
      this.guard('rm', shown, undefined, () => this.tree.rmdir(dir, name));
    } else {
      this.guard('rm', shown, undefined, () => this.tree.unlink(dir, name));
    }
  }

  /** `renameat2(2)`. */
  rename(fromKey: string, fromShown: string, toKey: string, toShown: string, flags: number): void {
    const a = this.parent(fromKey, 'rename', fromShown, toShown);
    const b = this.parent(toKey, 'rename', fromShown, toShown);
    const special = (n: string): boolean => n === '' || n === '.' || n === '..';
    if (special(a.name) || special(b.name)) throw new FsError('EBUSY', 'rename', fromShown, toShown);
    const src = this.tree.lookup(a.dir, a.name);
    if (src !== 0 && (a.trailingSlash || b.trailingSlash) && (this.tree.modeOf(src) & S_IFMT) !== S_IFDIR) {
      throw new FsError('ENOTDIR', 'rename', fromShown, toShown);
    }
    this.guard('rename', fromShown, toShown, () => this.tree.rename(a.dir, a.name, b.dir, b.name, flags));
  }

  /** `symlink(2)`. */
  symlink(target: string, key: string, shown: string): number {
    const p = this.parent(key, 'symlink', shown);
    if (p.name === '' || p.name === '.' || p.name === '..' || this.tree.lookup(p.dir, p.name) !== 0) throw new FsError('EEXIST', 'symlink', target, shown);
    if (p.trailingSlash) throw new FsError('ENOENT', 'symlink', target, shown);
    return this.guard('symlink', target, shown, () => this.tree.create(p.dir, p.name, { ...this.spec(p.dir, S_IFLNK, 0o777), mode: S_IFLNK | 0o777, target }));
  }

  /** `link(2)` (the existing path's last symlink not followed). */
  link(fromKey: string, fromShown: string, toKey: string, toShown: string): void {
    const src = resolvePath(this.tree, fromKey, { follow: false, syscall: 'link', display: fromShown });
    const p = this.parent(toKey, 'link', fromShown, toShown);
    if (p.name === '' || p.name === '.' || p.name === '..') throw new FsError('EEXIST', 'link', fromShown, toShown);
    if (fromKey.endsWith('/') && (this.tree.modeOf(src.ino) & S_IFMT) !== S_IFDIR) throw new FsError('ENOTDIR', 'link', fromShown, toShown);
    this.guard('link', fromShown, toShown, () => this.tree.link(src.ino, p.dir, p.name));
  }

  /** `mknod(2)`: a FIFO, a device, or an empty regular file. */
  mknod(key: string, shown: string, mode: number, major: number, minor: number): number {
    const type = mode & S_IFMT || S_IFREG;
    if (![S_IFREG, S_IFIFO, S_IFCHR, S_IFBLK, 0o140000].includes(type)) throw new FsError('EINVAL', 'mknod', shown);
    const p = this.parent(key, 'mknod', shown);
    if (p.name === '' || p.name === '.' || p.name === '..') throw new FsError('EEXIST', 'mknod', shown);
    return this.guard('mknod', shown, undefined, () => this.tree.create(p.dir, p.name, this.spec(p.dir, type, mode, { rdevMajor: major, rdevMinor: minor })));
  }

  /** Makes a regular file for `open(O_CREAT)` where `key` names nothing (through a dangling symlink, its target). */
  createFile(key: string, shown: string, mode: number, depth = 0): number {
    const p = this.parent(key, 'open', shown);
    if (p.name === '' || p.name === '.' || p.name === '..' || p.trailingSlash) throw new FsError('EISDIR', 'open', shown);
    const existing = this.tree.lookup(p.dir, p.name);
    if (existing !== 0 && (this.tree.modeOf(existing) & S_IFMT) === S_IFLNK) {
      if (depth >= 40) throw new FsError('ELOOP', 'open', shown);
      const target = this.tree.readlink(existing);
      const base = dirPath(this.tree, p.dir);
      return this.createFile(target.startsWith('/') ? target : `${base === '/' ? '' : base}/${target}`, shown, mode, depth + 1);
    }
    return this.guard('open', shown, undefined, () => this.tree.create(p.dir, p.name, this.spec(p.dir, S_IFREG, mode)));
  }

  /**
   * `chown(2)`: owner and group (-1 keeps one); on anything but a directory it clears setuid,
   * setgid when group-executable, and `security.capability`, as Linux does even for root (and
   * even when both ids are -1).
   */
  chown(ino: number, uid: number, gid: number, syscall: string, shown: string): void {
    const attrs: SetAttrs = { ...(uid === -1 ? {} : { uid }), ...(gid === -1 ? {} : { gid }) };
    const mode = this.tree.modeOf(ino);
    if ((mode & S_IFMT) !== S_IFDIR) {
      let perm = mode & 0o7777 & ~0o4000;
      if ((mode & 0o2010) === 0o2010) perm &= ~0o2000;
      if (perm !== (mode & 0o7777)) attrs.mode = perm;
      if (this.tree.xattrs(ino).some(([n]) => n === 'security.capability')) this.guard(syscall, shown, undefined, () => this.tree.removexattr(ino, 'security.capability'));
    }
    this.setattr(ino, attrs, syscall, shown);
  }

  /** `setattr` with the call's name in errors. */
  setattr(ino: number, attrs: SetAttrs, syscall: string, shown: string): void {
    this.guard(syscall, shown, undefined, () => this.tree.setattr(ino, attrs));
  }
}

