import { constants as fsc } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { FsError } from '../errors/fs-error.js';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../overlay/file-type.js';
import type { WritableFsTree } from '../tree/types.js';
import { pathArg, type PathArg, type PathLike } from './fs-args.js';
import { resolvePath } from './resolve.js';
import type { WriteOps } from './write-ops.js';

/** Options of `ImageFs.rm`. */
export interface RmOptions {
  /** Remove directories and their contents. */
  recursive?: boolean;
  /** No error when the path does not exist. */
  force?: boolean;
}

/** Options of `ImageFs.cp`. */
export interface CpOptions {
  /** Copy directories and their contents (required for a directory). */
  recursive?: boolean;
  /** Overwrite existing files (default true). */
  force?: boolean;
  /** With `force: false`, fail with `EEXIST` when a destination exists. */
  errorOnExist?: boolean;
  /** Keep the source's times. */
  preserveTimestamps?: boolean;
  /** Copy what symlinks point at instead of the links. */
  dereference?: boolean;
}

/**
 * Copies the data of regular file `src` into `dst` (already created, empty), a megabyte at a time.
 *
 * @example
 * ```ts
 * await copyData(upper, srcIno, upper.create(ROOT_INO, 'copy', { mode: 0o100644 }));
 * ```
 */
export async function copyData(tree: WritableFsTree, src: number, dst: number): Promise<void> {
  const content = tree.content(src);
  const chunk = 1 << 20;
  for (let pos = 0; pos < content.size; pos += chunk) {
    const bytes = await content.read(pos, chunk);
    if (bytes.length > 0) await tree.write(dst, pos, bytes);
  }
}

/**
 * `copyFile(src, dest, mode)`: `COPYFILE_EXCL` gives `EEXIST` when `dest` exists.
 *
 * @example
 * ```ts
 * await copyFileCall(ops, '/etc/passwd', '/tmp/passwd', 0);
 * ```
 */
export async function copyFileCall(ops: WriteOps, src: PathLike, dest: PathLike, mode: number): Promise<void> {
  const a = pathArg(src);
  const b = pathArg(dest);
  const tree = ops.tree;
  const from = resolvePath(tree, a.key, { follow: true, syscall: 'copyfile', display: a.shown });
  const type = tree.modeOf(from.ino) & S_IFMT;
  if (type === S_IFDIR) throw new FsError('EISDIR', 'copyfile', a.shown, b.shown);
  const p = ops.parent(b.key, 'copyfile', a.shown, b.shown);
  let to = tree.lookup(p.dir, p.name);
  if (to !== 0 && (mode & fsc.COPYFILE_EXCL) !== 0) throw new FsError('EEXIST', 'copyfile', a.shown, b.shown);
  if (to !== 0) {
    to = resolvePath(tree, b.key, { follow: true, syscall: 'copyfile', display: b.shown }).ino;
    if ((tree.modeOf(to) & S_IFMT) === S_IFDIR) throw new FsError('EISDIR', 'copyfile', a.shown, b.shown);
    if (to === from.ino) return;
    ops.guard('copyfile', a.shown, b.shown, () => tree.setattr(to, { size: 0 }));
  } else {
    to = ops.guard('copyfile', a.shown, b.shown, () => tree.create(p.dir, p.name, ops.spec(p.dir, S_IFREG, tree.modeOf(from.ino) & 0o7777)));
  }
  if (type === S_IFREG) await guardData('copyfile', a.shown, b.shown, () => copyData(tree, from.ino, to));
}

/**
 * `rm(path, { recursive, force })`.
 *
 * @example
 * ```ts
 * rmCall(ops, '/var/cache', { recursive: true, force: true });
 * ```
 */
export function rmCall(ops: WriteOps, path: PathLike, options: RmOptions): void {
  const arg = pathArg(path);
  const tree = ops.tree;
  let p;
  try {
    p = ops.parent(arg.key, 'rm', arg.shown);
  } catch (e) {
    if (options.force && e instanceof FsError && e.code === 'ENOENT') return;
    throw e;
  }
  if (p.name === '' || p.name === '.' || p.name === '..') throw new FsError('EINVAL', 'rm', arg.shown);
  const ino = tree.lookup(p.dir, p.name);
  if (ino === 0) {
    if (options.force) return;
    throw new FsError('ENOENT', 'rm', arg.shown);
  }
  if ((tree.modeOf(ino) & S_IFMT) === S_IFDIR) {
    if (!options.recursive) throw new FsError('EISDIR', 'rm', arg.shown);
    ops.removeTree(p.dir, p.name, arg.shown);
    return;
  }
  ops.guard('rm', arg.shown, undefined, () => tree.unlink(p.dir, p.name));
}

/**
 * `cp(src, dest, options)` inside one file system: files, directories (recursive), symlinks, devices.
 *
 * @example
 * ```ts
 * await cpCall(ops, '/etc', '/etc.bak', { recursive: true });
 * ```
 */
export async function cpCall(ops: WriteOps, src: PathLike, dest: PathLike, options: CpOptions): Promise<void> {
  const a = pathArg(src);
  const b = pathArg(dest);
  const from = resolvePath(ops.tree, a.key, { follow: options.dereference === true, syscall: 'cp', display: a.shown });
  if ((ops.tree.modeOf(from.ino) & S_IFMT) === S_IFDIR && !options.recursive) throw new FsError('EISDIR', 'cp', a.shown, b.shown);
  await copyNode(ops, from.ino, b, a.shown, options);
}

async function copyNode(ops: WriteOps, src: number, dest: PathArg, srcShown: string, options: CpOptions): Promise<void> {
  const tree = ops.tree;
  const p = ops.parent(dest.key, 'cp', srcShown, dest.shown);
  const attrs = tree.attrs(src);
  const type = attrs.mode & S_IFMT;
  let to = tree.lookup(p.dir, p.name);
  if (to !== 0 && type !== S_IFDIR) {
    if (options.force === false) {
      if (options.errorOnExist) throw new FsError('EEXIST', 'cp', srcShown, dest.shown);
      return;
    }
    if ((tree.modeOf(to) & S_IFMT) === S_IFDIR) throw new FsError('EISDIR', 'cp', srcShown, dest.shown);
    ops.guard('cp', srcShown, dest.shown, () => tree.unlink(p.dir, p.name));
    to = 0;
  }
  if (type === S_IFDIR) {
    if (to === 0) to = ops.guard('cp', srcShown, dest.shown, () => tree.create(p.dir, p.name, { mode: attrs.mode, uid: attrs.uid, gid: attrs.gid }));
    else if ((tree.modeOf(to) & S_IFMT) !== S_IFDIR) throw new FsError('ENOTDIR', 'cp', srcShown, dest.shown);
    for (const child of [...tree.children(src)]) {
      const key = `${dest.key.replace(/\/+$/, '')}/${child.name}`;
      await copyNode(ops, child.ino, { key, shown: `${dest.shown.replace(/\/+$/, '')}/${child.name}` }, srcShown, options);
    }
  } else {
    const spec = { mode: attrs.mode, uid: attrs.uid, gid: attrs.gid, rdevMajor: attrs.rdevMajor, rdevMinor: attrs.rdevMinor, ...(type === S_IFLNK ? { target: tree.readlink(src) } : {}) };
    to = ops.guard('cp', srcShown, dest.shown, () => tree.create(p.dir, p.name, spec));
    if (type === S_IFREG) await guardData('cp', srcShown, dest.shown, () => copyData(tree, src, to));
  }
  if (options.preserveTimestamps) tree.setattr(to, { atime: attrs.atime, mtime: attrs.mtime });
}

/**
 * `mkdtemp(prefix)`: `prefix` plus six random characters, made 0700.
 *
 * @example
 * ```ts
 * mkdtempCall(ops, '/tmp/run-'); // '/tmp/run-a8Zq0c'
 * ```
 */
export function mkdtempCall(ops: WriteOps, prefix: string): string {
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  for (let attempt = 0; attempt < 100; attempt++) {
    const suffix = [...randomBytes(6)].map((x) => chars[x % chars.length]).join('');
    const path = prefix + suffix;
    try {
      ops.mkdir(pathArg(path).key, path, 0o700);
      return path;
    } catch (e) {
      if (!(e instanceof FsError) || e.code !== 'EEXIST') throw e;
    }
  }
  throw new FsError('EEXIST', 'mkdtemp', `${prefix}XXXXXX`);
}

/** Runs a data copy, its `FsError`s named with the call's paths, anything else as `EIO`. */
async function guardData(syscall: string, path: string, dest: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof FsError) throw new FsError(e.code, syscall, path, dest, e.cause);
    throw new FsError('EIO', syscall, path, dest, e);
  }
}
