import { constants as fsConstants } from 'node:fs';
import { join as joinPath } from 'node:path/posix';
import type { Readable } from 'node:stream';
import { FsError } from '../errors/fs-error.js';
import type { LayerContent } from '../layer/types.js';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../overlay/file-type.js';
import { ImageTree } from '../overlay/image-tree.js';
import { mergeLayers, type MergeOptions } from '../overlay/merge.js';
import type { MergeWarning } from '../overlay/warnings.js';
import type { ReadAtSource, ReadOptions } from '../source/read-at.js';
import { isWritableTree, type FileContent, type FsTree, type WritableFsTree } from '../tree/types.js';
import { ImageDir } from './dir.js';
import { ImageFileHandle, type OpenedFile } from './file-handle.js';
import { copyFileCall, cpCall, mkdtempCall, rmCall, type CpOptions, type RmOptions } from './write-calls.js';
import { dataArg, toTimespec, type TimeLike } from './write-args.js';
import { WriteOps } from './write-ops.js';
import { encodeName, encodingOf, parseOpenFlags, pathArg, type NameEncoding, type PathArg, type PathLike } from './fs-args.js';
import { createFileReadStream, type ReadStreamOptions } from './read-stream.js';
import { dirPath, displayPath, resolvePath, type Resolved } from './resolve.js';
import { ImageBigIntStats, ImageDirent, ImageStats } from './stats.js';

/** Options of {@link ImageFs.fromLayers}. */
export interface ImageFsOptions extends MergeOptions {
  /** The `dev` every {@link ImageStats} reports (default: a hash of the layer digests, or 1). */
  dev?: number;
}

/** What {@link ImageFs.walk} yields for each path. */
export interface WalkEntry {
  /** Absolute path in the image. */
  path: string;
  /** Its `lstat`. */
  stats: ImageStats;
}

/** Options of the calls that may follow a final symlink or not. */
export interface XattrOptions {
  /** Do not follow a symlink in the last component (as `lgetxattr`/`llistxattr`). */
  nofollow?: boolean;
}

/** Options of {@link ImageFs.stat} and {@link ImageFs.lstat}. */
export interface StatOptions {
  /** Return {@link ImageBigIntStats} (nanosecond times). */
  bigint?: boolean;
}

/** Options of {@link ImageFs.readdir}. */
export interface ReaddirOptions {
  /** Names as strings in this encoding, or Buffers with `'buffer'` (default `'utf8'`). */
  encoding?: NameEncoding | null;
  /** Return {@link ImageDirent}s. */
  withFileTypes?: boolean;
  /** List subdirectories too, as `node:fs` does (names are paths relative to `path`). */
  recursive?: boolean;
}

/** Options of {@link ImageFs.opendir}. */
export interface OpendirOptions {
  /** Names as strings in this encoding, or Buffers with `'buffer'`. */
  encoding?: NameEncoding | null;
  /** Accepted for compatibility (the listing is in memory). */
  bufferSize?: number;
  /** Include the entries of subdirectories. */
  recursive?: boolean;
}

/** The file system statistics {@link ImageFs.statfs} returns, shaped like `fs.StatFs`. */
export interface ImageStatFs<T extends number | bigint = number> {
  /** File system type (FUSE's magic number, as the image shows when mounted). */
  type: T;
  /** Block size. */
  bsize: T;
  /** Blocks the files' data would take. */
  blocks: T;
  /** Free blocks (0: read-only). */
  bfree: T;
  /** Blocks available to unprivileged users (0). */
  bavail: T;
  /** Inodes. */
  files: T;
  /** Free inodes (0). */
  ffree: T;
}

/** Something {@link ImageFs.close} closes. */
export interface Closer {
  /** Releases what it holds. */
  close(): Promise<void>;
}

/** What the {@link ImageFs} constructor takes besides the tree. */
export interface ImageFsInit {
  /** The `dev` every stats object reports (default 1). */
  dev?: number;
  /** Closed by {@link ImageFs.close} (layers, sources, the upper). */
  closers?: readonly Closer[];
  /** Owner of new inodes (writable trees; default 0). */
  uid?: number;
  /** Group of new inodes (default 0; a setgid directory gives its own). */
  gid?: number;
  /** Taken from the mode of new inodes (default 0o022). */
  umask?: number;
}

/** Options of {@link ImageFs.writeFile} and {@link ImageFs.appendFile}. */
export interface WriteFileOptions {
  /** Encoding of string data (default utf8). */
  encoding?: BufferEncoding | null;
  /** Mode of a new file (default 0o666, less the umask). */
  mode?: number;
  /** Open flags (default `'w'`, `'a'` for appendFile). */
  flag?: string | number;
  /** Cancels the write. */
  signal?: AbortSignal;
}

/** Options of {@link ImageFs.mkdir}. */
export interface MkdirOptions {
  /** Make missing parents too; no error when the directory exists. */
  recursive?: boolean;
  /** Mode (default 0o777, less the umask). */
  mode?: number;
}

/** Options of {@link ImageFs.setxattr}. */
export interface SetXattrOptions extends XattrOptions {
  /** 1 = `XATTR_CREATE` (fail with `EEXIST` when set), 2 = `XATTR_REPLACE` (fail with `ENODATA` when not). */
  flags?: number;
}

export type { CpOptions, RmOptions } from './write-calls.js';

/** `FUSE_SUPER_MAGIC`, the `f_type` of a FUSE mount. */
const FUSE_SUPER_MAGIC = 0x65735546;

/**
 * The merged, read-only file system of an image, with the `node:fs/promises` shape. Paths are
 * image paths (`/etc/passwd`; relative ones start at the image root) resolved as inside a chroot;
 * they may be strings, Buffers (exact name bytes, for names that are not UTF-8) or `file:` URLs.
 * Errors are {@link FsError}s with Node's `code`, `errno`, `syscall` and `path`; a read whose bytes
 * cannot be fetched or verified fails with `EIO` (its `cause` is the `ImageError`); a fired
 * `AbortSignal` gives the `Aborted` `ImageError`. Devices and FIFOs can be opened, but reading
 * one fails with `EINVAL`; writing calls fail with `EROFS`.
 *
 * It serves any {@link FsTree}: {@link openImage} and {@link ImageFs.fromLayers} give it the
 * merged image; a writable upper tree plugs in the same way.
 *
 * @example
 * ```ts
 * await using fs = await openImage('oci:./layout:app');
 * console.log(await fs.readFile('/etc/os-release', 'utf8'));
 * for await (const { path, stats } of fs.walk('/usr/bin')) console.log(path, stats.size);
 * ```
 */
export class ImageFs {
  /** The tree the file system reads. */
  readonly tree: FsTree;
  private readonly dev: number;
  private readonly closers: readonly { close(): Promise<void> }[];
  private readonly writes: WriteOps | undefined;

  /**
   * Serves `tree`; `closers` are closed by {@link ImageFs.close}. A {@link WritableFsTree} (an
   * `UpperTree`) makes the file system writable; new inodes are owned by `uid`:`gid` (default
   * 0:0) with `umask` (default 0o022) taken from their modes.
   */
  constructor(tree: FsTree, options: ImageFsInit = {}) {
    this.tree = tree;
    this.dev = options.dev ?? 1;
    this.closers = options.closers ?? [];
    this.writes = isWritableTree(tree) ? new WriteOps(tree, { uid: options.uid ?? 0, gid: options.gid ?? 0, umask: options.umask ?? 0o022 }) : undefined;
  }

  /** True when the tree can change (an upper layer); else every write fails with `EROFS`. */
  get writable(): boolean {
    return this.writes !== undefined;
  }

  /** Merges `layers` (base first) and serves the result; {@link ImageFs.close} closes the layers. */
  static async fromLayers(layers: readonly LayerContent[], options: ImageFsOptions = {}): Promise<ImageFs> {
    const merged = await mergeLayers(layers, options);
    return new ImageFs(new ImageTree(merged, layers.map((l): ReadAtSource => l.data)), { dev: options.dev ?? devOf(layers), closers: layers });
  }

  /** What the merge skipped or changed (see {@link MergeWarning}); empty for trees that are not a merge. */
  get warnings(): readonly MergeWarning[] {
    return this.tree instanceof ImageTree ? this.tree.merged.warnings : [];
  }

  /** Status of `path`, following symlinks. */
  async stat(path: PathLike, options: StatOptions & { bigint: true }): Promise<ImageBigIntStats>;
  async stat(path: PathLike, options?: StatOptions & { bigint?: false }): Promise<ImageStats>;
  async stat(path: PathLike, options?: StatOptions): Promise<ImageStats | ImageBigIntStats>;
  async stat(path: PathLike, options?: StatOptions): Promise<ImageStats | ImageBigIntStats> {
    return this.statsOf(this.resolveArg(pathArg(path), true, 'stat').ino, options?.bigint === true);
  }

  /** Status of `path`, not following a final symlink. */
  async lstat(path: PathLike, options: StatOptions & { bigint: true }): Promise<ImageBigIntStats>;
  async lstat(path: PathLike, options?: StatOptions & { bigint?: false }): Promise<ImageStats>;
  async lstat(path: PathLike, options?: StatOptions): Promise<ImageStats | ImageBigIntStats>;
  async lstat(path: PathLike, options?: StatOptions): Promise<ImageStats | ImageBigIntStats> {
    return this.statsOf(this.resolveArg(pathArg(path), false, 'lstat').ino, options?.bigint === true);
  }

  /**
   * The names in a directory (sorted by their bytes): strings, Buffers with `encoding: 'buffer'`,
   * or {@link ImageDirent}s with `withFileTypes`. With `recursive`, every entry below too, in the
   * order `node:fs` lists them (its string form descends into symlinks to directories, its
   * `withFileTypes` form does not).
   */
  async readdir(path: PathLike, options: ReaddirOptions & { withFileTypes: true; encoding: 'buffer' }): Promise<ImageDirent<Buffer>[]>;
  async readdir(path: PathLike, options: ReaddirOptions & { withFileTypes: true }): Promise<ImageDirent[]>;
  async readdir(path: PathLike, options: (ReaddirOptions & { withFileTypes?: false; encoding: 'buffer' }) | 'buffer'): Promise<Buffer[]>;
  async readdir(path: PathLike, options?: (ReaddirOptions & { withFileTypes?: false }) | BufferEncoding | null): Promise<string[]>;
  async readdir(path: PathLike, options?: ReaddirOptions | NameEncoding | null): Promise<(string | Buffer)[] | ImageDirent<string | Buffer>[]>;
  async readdir(path: PathLike, options?: ReaddirOptions | NameEncoding | null): Promise<(string | Buffer)[] | ImageDirent<string | Buffer>[]> {
    const arg = pathArg(path);
    const opts = typeof options === 'object' && options !== null ? options : {};
    const encoding = encodingOf(options);
    const dir = this.directory(arg, 'scandir');
    // node:fs lists recursively only from string paths: with a Buffer path or encoding, it fails as
    // soon as it joins a name to the path (so not for a missing or empty directory).
    if (opts.recursive === true && (encoding === 'buffer' || typeof path !== 'string') && this.tree.childCount(dir) > 0) {
      throw argType('path', 'of type string', encoding === 'buffer' ? Buffer.alloc(0) : path);
    }
    if (opts.withFileTypes === true) return [...this.dirents(dir, arg.shown, opts.recursive === true, encoding)];
    if (opts.recursive !== true) return [...this.tree.children(dir)].map((e) => encodeName(e.name, encoding));
    return this.recursiveNames(dir, encoding);
  }

  /** Opens a directory for reading its entries one by one (see {@link ImageDir}). */
  async opendir(path: PathLike, options: OpendirOptions & { encoding: 'buffer' }): Promise<ImageDir<Buffer>>;
  async opendir(path: PathLike, options?: OpendirOptions): Promise<ImageDir>;
  async opendir(path: PathLike, options: OpendirOptions = {}): Promise<ImageDir<string | Buffer>> {
    const arg = pathArg(path);
    const dir = this.directory(arg, 'opendir');
    return new ImageDir(arg.shown, this.dirents(dir, arg.shown, options.recursive === true, options.encoding ?? undefined));
  }

  /** The bytes of a file, or a string when an encoding is given. */
  async readFile(path: PathLike | ImageFileHandle, options: { encoding: BufferEncoding; flag?: string | number; signal?: AbortSignal } | BufferEncoding): Promise<string>;
  async readFile(path: PathLike | ImageFileHandle, options?: { encoding?: null; flag?: string | number; signal?: AbortSignal } | null): Promise<Buffer>;
  async readFile(path: PathLike | ImageFileHandle, options?: { encoding?: BufferEncoding | null; flag?: string | number; signal?: AbortSignal } | BufferEncoding | null): Promise<Buffer | string>;
  async readFile(path: PathLike | ImageFileHandle, options?: { encoding?: BufferEncoding | null; flag?: string | number; signal?: AbortSignal } | BufferEncoding | null): Promise<Buffer | string> {
    const opts = typeof options === 'string' ? { encoding: options } : options ?? {};
    if (path instanceof ImageFileHandle) return path.readFile(opts);
    const fh = await this.open(path, opts.flag ?? 'r');
    try {
      return await fh.readFile(opts);
    } finally {
      await fh.close();
    }
  }

  /** The target of a symlink (`EINVAL` for anything else); a Buffer with `encoding: 'buffer'`. */
  async readlink(path: PathLike, options: { encoding: 'buffer' } | 'buffer'): Promise<Buffer>;
  async readlink(path: PathLike, options?: { encoding?: BufferEncoding | null } | BufferEncoding | null): Promise<string>;
  async readlink(path: PathLike, options?: { encoding?: NameEncoding | null } | NameEncoding | null): Promise<string | Buffer> {
    const arg = pathArg(path);
    const { ino } = this.resolveArg(arg, false, 'readlink');
    if ((this.tree.modeOf(ino) & S_IFMT) !== S_IFLNK) throw new FsError('EINVAL', 'readlink', arg.shown);
    return encodeName(this.tree.readlink(ino), encodingOf(options));
  }

  /** The canonical absolute path of `path`, every symlink resolved (inside the image root). */
  async realpath(path: PathLike, options: { encoding: 'buffer' } | 'buffer'): Promise<Buffer>;
  async realpath(path: PathLike, options?: { encoding?: BufferEncoding | null } | BufferEncoding | null): Promise<string>;
  async realpath(path: PathLike, options?: { encoding?: NameEncoding | null } | NameEncoding | null): Promise<string | Buffer> {
    const r = this.resolveArg(pathArg(path), true, 'realpath');
    const parent = dirPath(this.tree, r.parent);
    const full = r.name === '' ? parent : parent === '/' ? `/${r.name}` : `${parent}/${r.name}`;
    return encodeName(full, encodingOf(options));
  }

  /**
   * Checks `mode` (`F_OK`, or `R_OK | W_OK | X_OK`) as the kernel does for root: `W_OK` fails with
   * `EROFS` (read-only), `X_OK` needs an execute bit (directories always pass).
   */
  async access(path: PathLike, mode: number = fsConstants.F_OK): Promise<void> {
    const arg = pathArg(path);
    const { ino } = this.resolveArg(arg, true, 'access');
    if (mode & fsConstants.W_OK && this.writes === undefined) throw new FsError('EROFS', 'access', arg.shown);
    const m = this.tree.modeOf(ino);
    if (mode & fsConstants.X_OK && (m & S_IFMT) !== S_IFDIR && (m & 0o111) === 0) throw new FsError('EACCES', 'access', arg.shown);
  }

  /**
   * Opens a file (or directory) for reading, with Node's string or numeric flags. Flags that
   * write, create or truncate fail with `EROFS` (`ENOENT` first when the file is missing and not
   * created; `EISDIR` for a directory opened to write); `O_NOFOLLOW` on a symlink gives `ELOOP`
   * and `O_DIRECTORY` on anything else `ENOTDIR`, as Linux.
   */
  async open(path: PathLike, flags: string | number = 'r', mode?: number): Promise<ImageFileHandle> {
    const arg = pathArg(path);
    const { flags: f, writes } = parseOpenFlags(flags);
    if (writes && this.writes !== undefined) return this.openForWriting(arg, f, mode ?? 0o666);
    const nofollow = (f & fsConstants.O_NOFOLLOW) !== 0;
    let r: Resolved;
    try {
      r = this.resolveArg(arg, !nofollow, 'open');
    } catch (e) {
      if (e instanceof FsError && e.code === 'ENOENT' && (f & fsConstants.O_CREAT) !== 0) throw new FsError('EROFS', 'open', arg.shown);
      throw e;
    }
    const type = this.tree.modeOf(r.ino) & S_IFMT;
    if (nofollow && type === S_IFLNK) throw new FsError('ELOOP', 'open', arg.shown);
    if ((f & fsConstants.O_CREAT) !== 0 && (f & fsConstants.O_EXCL) !== 0) throw new FsError('EEXIST', 'open', arg.shown);
    if ((f & fsConstants.O_DIRECTORY) !== 0 && type !== S_IFDIR) throw new FsError('ENOTDIR', 'open', arg.shown);
    if (type === S_IFDIR && writes) throw new FsError('EISDIR', 'open', arg.shown);
    if (writes) throw new FsError('EROFS', 'open', arg.shown);
    // Devices and FIFOs open (as on Linux), but their bytes are not the image's to serve: reads give EINVAL.
    const data = type === S_IFDIR ? null : type === S_IFREG ? this.tree.content(r.ino) : specialContent(arg.shown);
    const file: OpenedFile = { path: arg.shown, data, stat: (bigint) => this.statsOf(r.ino, bigint) };
    if (this.writes !== undefined) {
      // The bytes may change under the handle (a write through another handle copies the file up).
      const tree = this.writes.tree;
      const ino = r.ino;
      if (type === S_IFREG) Object.defineProperty(file, 'data', { get: () => tree.content(ino) });
      file.setattr = this.setattrOf(ino, arg.shown);
      tree.retain(ino);
      file.onClose = () => tree.release(ino);
    }
    return new ImageFileHandle(file);
  }

  /** `open` with flags that write, create or truncate, on a writable tree. */
  private async openForWriting(arg: PathArg, f: number, mode: number): Promise<ImageFileHandle> {
    const ops = this.writes!;
    const tree = ops.tree;
    const nofollow = (f & fsConstants.O_NOFOLLOW) !== 0;
    const creat = (f & fsConstants.O_CREAT) !== 0;
    const excl = creat && (f & fsConstants.O_EXCL) !== 0;
    let ino = 0;
    try {
      ino = this.resolveArg(arg, !nofollow && !excl, 'open').ino;
    } catch (e) {
      if (!(e instanceof FsError) || e.code !== 'ENOENT' || !creat) throw e;
    }
    if (ino === 0) ino = excl ? ops.guard('open', arg.shown, undefined, () => this.createExclusive(arg, mode)) : ops.createFile(arg.key, arg.shown, mode);
    else if (excl) throw new FsError('EEXIST', 'open', arg.shown);
    const type = tree.modeOf(ino) & S_IFMT;
    if (nofollow && type === S_IFLNK) throw new FsError('ELOOP', 'open', arg.shown);
    if ((f & fsConstants.O_DIRECTORY) !== 0 && type !== S_IFDIR) throw new FsError('ENOTDIR', 'open', arg.shown);
    const access = f & 3;
    if (type === S_IFDIR && (access !== fsConstants.O_RDONLY || (f & fsConstants.O_TRUNC) !== 0 || creat)) throw new FsError('EISDIR', 'open', arg.shown);
    if (type === S_IFREG && (f & fsConstants.O_TRUNC) !== 0) ops.setattr(ino, { size: 0 }, 'open', arg.shown); // Linux truncates with O_RDONLY too
    tree.retain(ino);
    const statsOf = (bigint: boolean): ReturnType<ImageFs['statsOf']> => this.statsOf(ino, bigint);
    const special = specialContent(arg.shown);
    const file: OpenedFile = {
      path: arg.shown,
      get data(): FileContent | null { return type === S_IFDIR ? null : type === S_IFREG ? tree.content(ino) : special; },
      stat: statsOf,
      readable: access !== fsConstants.O_WRONLY,
      setattr: this.setattrOf(ino, arg.shown),
      onClose: () => tree.release(ino),
    };
    if (access !== fsConstants.O_RDONLY) {
      file.writer = {
        append: (f & fsConstants.O_APPEND) !== 0,
        write: async (position, bytes) => {
          if (type !== S_IFREG) throw new FsError('EINVAL', 'write', arg.shown);
          try {
            return await tree.write(ino, position, bytes);
          } catch (e) {
            if (e instanceof FsError) throw new FsError(e.code, 'write', arg.shown, undefined, e.cause);
            throw e;
          }
        },
        size: () => tree.attrs(ino).size,
        sync: () => tree.sync(),
      };
    }
    return new ImageFileHandle(file);
  }

  /** `O_CREAT | O_EXCL`: a new file, or `EEXIST` for anything there (a symlink too). */
  private createExclusive(arg: PathArg, mode: number): number {
    const ops = this.writes!;
    const p = ops.parent(arg.key, 'open', arg.shown);
    if (p.name === '' || p.name === '.' || p.name === '..' || ops.tree.lookup(p.dir, p.name) !== 0) throw new FsError('EEXIST', 'open', arg.shown);
    if (p.trailingSlash) throw new FsError('EISDIR', 'open', arg.shown);
    return ops.tree.create(p.dir, p.name, ops.spec(p.dir, S_IFREG, mode));
  }

  private setattrOf(ino: number, shown: string): (attrs: Parameters<WritableFsTree['setattr']>[1], syscall: string) => void {
    return (attrs, syscall) => {
      if (syscall === 'fchown') this.writeOps(syscall, shown).chown(ino, attrs.uid ?? -1, attrs.gid ?? -1, syscall, shown);
      else this.writeOps(syscall, shown).setattr(ino, attrs, syscall, shown);
    };
  }

  /** A Node `Readable` of the bytes `[start, end]` (inclusive) of a file. */
  createReadStream(path: PathLike, options: ReadStreamOptions = {}): Readable {
    const arg = pathArg(path);
    return createFileReadStream(async () => this.content(this.resolveArg(arg, true, 'open').ino, arg.shown, 'read'), arg.shown, options);
  }

  /** Statistics of the file system (`statfs(2)`), as `fs.statfs` gives them. */
  async statfs(path: PathLike, options: { bigint: true }): Promise<ImageStatFs<bigint>>;
  async statfs(path: PathLike, options?: { bigint?: false }): Promise<ImageStatFs>;
  async statfs(path: PathLike, options?: { bigint?: boolean }): Promise<ImageStatFs<number> | ImageStatFs<bigint>> {
    this.resolveArg(pathArg(path), true, 'statfs');
    const bsize = 4096;
    const s: ImageStatFs = {
      type: FUSE_SUPER_MAGIC, bsize, blocks: Math.ceil(this.tree.totalBytes / bsize), bfree: this.writable ? 1 << 30 : 0, bavail: this.writable ? 1 << 30 : 0, files: this.tree.inodeCount, ffree: this.writable ? 1 << 30 : 0,
    };
    if (options?.bigint !== true) return s;
    return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, BigInt(v)])) as unknown as ImageStatFs<bigint>;
  }

  /** The value of the extended attribute `name`; `ENODATA` when the file has none of that name. */
  async getxattr(path: PathLike, name: string, options: XattrOptions = {}): Promise<Buffer> {
    const arg = pathArg(path);
    const { ino } = this.resolveArg(arg, !options.nofollow, 'getxattr');
    const found = this.tree.xattrs(ino).find(([n]) => n === name);
    if (found === undefined) throw new FsError('ENODATA', 'getxattr', arg.shown);
    return Buffer.from(found[1]);
  }

  /** The names of a file's extended attributes, sorted. */
  async listxattr(path: PathLike, options: XattrOptions = {}): Promise<string[]> {
    const { ino } = this.resolveArg(pathArg(path), !options.nofollow, 'listxattr');
    return this.tree.xattrs(ino).map(([n]) => n);
  }

  /**
   * Every path under `path` (itself first), depth-first with names sorted by their bytes, each
   * with its `lstat`. A symlink given as `path` is followed; symlinks below it are not. Paths are
   * raw-name strings (see {@link encodeRawName} for their bytes).
   */
  async *walk(path: PathLike = '/', options: ReadOptions = {}): AsyncGenerator<WalkEntry> {
    const arg = pathArg(path);
    const start = this.resolveArg(arg, true, 'scandir').ino;
    const stack: [number, string][] = [[start, displayPath(arg.key)]];
    while (stack.length > 0) {
      options.signal?.throwIfAborted();
      const [ino, p] = stack.pop()!;
      yield { path: p, stats: this.statsOf(ino, false) };
      if ((this.tree.modeOf(ino) & S_IFMT) !== S_IFDIR) continue;
      const kids = [...this.tree.children(ino)];
      const prefix = p === '/' ? '/' : p + '/';
      for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i]!.ino, prefix + kids[i]!.name]);
    }
  }

  // ---- Writing (a writable tree; EROFS otherwise) ----

  /** Writes `data` to a file, replacing it (or as `flag` says); made with `mode` (default 0o666) when missing. */
  async writeFile(path: PathLike | ImageFileHandle, data: string | NodeJS.ArrayBufferView | Iterable<string | NodeJS.ArrayBufferView> | AsyncIterable<string | NodeJS.ArrayBufferView>, options?: WriteFileOptions | BufferEncoding | null): Promise<void> {
    const opts = typeof options === 'string' ? { encoding: options } : options ?? {};
    const fh = path instanceof ImageFileHandle ? path : await this.open(path, opts.flag ?? 'w', opts.mode ?? 0o666);
    try {
      opts.signal?.throwIfAborted();
      const encoding = opts.encoding ?? undefined;
      if (typeof data === 'string' || ArrayBuffer.isView(data)) await fh.writeFile(dataArg(data, encoding));
      else for await (const chunk of data as AsyncIterable<string | NodeJS.ArrayBufferView>) await fh.writeFile(dataArg(chunk, encoding));
    } finally {
      if (!(path instanceof ImageFileHandle)) await fh.close();
    }
  }

  /** Appends `data` to a file, made when missing. */
  async appendFile(path: PathLike | ImageFileHandle, data: string | NodeJS.ArrayBufferView, options?: WriteFileOptions | BufferEncoding | null): Promise<void> {
    const opts = typeof options === 'string' ? { encoding: options } : options ?? {};
    await this.writeFile(path, data, { ...opts, flag: opts.flag ?? 'a' });
  }

  /** `truncate(2)`: the file (symlinks followed) becomes `len` bytes; a lower file's data is not copied. */
  async truncate(path: PathLike, len = 0): Promise<void> {
    const arg = pathArg(path);
    const ops = this.writeOps('open', arg.shown);
    const { ino } = this.resolveArg(arg, true, 'open');
    const type = this.tree.modeOf(ino) & S_IFMT;
    if (type === S_IFDIR) throw new FsError('EISDIR', 'open', arg.shown);
    if (type !== S_IFREG) throw new FsError('EINVAL', 'truncate', arg.shown);
    ops.setattr(ino, { size: len }, 'ftruncate', arg.shown);
  }

  /** Changes permission bits (symlinks followed). */
  async chmod(path: PathLike, mode: number | string): Promise<void> {
    this.setattrAt(path, true, 'chmod', { mode: typeof mode === 'string' ? parseInt(mode, 8) : mode });
  }

  /** Changes the permission bits of a symlink itself (Linux: `EOPNOTSUPP`; here as Node on Linux: not supported). */
  async lchmod(path: PathLike, mode: number): Promise<void> {
    this.setattrAt(path, false, 'lchmod', { mode });
  }

  /** Changes owner and group (symlinks followed); -1 keeps one. */
  async chown(path: PathLike, uid: number, gid: number): Promise<void> {
    this.chownAt(path, true, 'chown', uid, gid);
  }

  /** Changes owner and group of a symlink itself. */
  async lchown(path: PathLike, uid: number, gid: number): Promise<void> {
    this.chownAt(path, false, 'lchown', uid, gid);
  }

  /** Sets access and modification times (symlinks followed), to the nanosecond with `bigint` nanoseconds. */
  async utimes(path: PathLike, atime: TimeLike, mtime: TimeLike): Promise<void> {
    this.setattrAt(path, true, 'utime', { atime: toTimespec(atime, 'atime'), mtime: toTimespec(mtime, 'mtime') });
  }

  /** Sets the times of a symlink itself. */
  async lutimes(path: PathLike, atime: TimeLike, mtime: TimeLike): Promise<void> {
    this.setattrAt(path, false, 'lutime', { atime: toTimespec(atime, 'atime'), mtime: toTimespec(mtime, 'mtime') });
  }

  /** Makes a directory (`recursive`: with its parents; resolves to the first one made). */
  async mkdir(path: PathLike, options?: MkdirOptions | number | string | null): Promise<string | undefined> {
    const arg = pathArg(path);
    const opts: { recursive?: boolean; mode?: number | string } = typeof options === 'object' && options !== null ? options : { mode: options ?? undefined };
    const mode = typeof opts.mode === 'string' ? parseInt(opts.mode, 8) : opts.mode ?? 0o777;
    const ops = this.writeOps('mkdir', arg.shown);
    if (opts.recursive) return ops.mkdirRecursive(arg.key, arg.shown, mode);
    ops.mkdir(arg.key, arg.shown, mode);
    return undefined;
  }

  /** Removes an empty directory. */
  async rmdir(path: PathLike): Promise<void> {
    const arg = pathArg(path);
    this.writeOps('rmdir', arg.shown).rmdir(arg.key, arg.shown);
  }

  /** Removes a file or (with `recursive`) a directory tree; `force` ignores a missing path. */
  async rm(path: PathLike, options: RmOptions = {}): Promise<void> {
    rmCall(this.writeOps('rm', pathArg(path).shown), path, options);
  }

  /** Removes a name that is not a directory; a name of the image leaves a whiteout. */
  async unlink(path: PathLike): Promise<void> {
    const arg = pathArg(path);
    this.writeOps('unlink', arg.shown).unlink(arg.key, arg.shown);
  }

  /** Makes a symlink at `path` to `target` (kept verbatim). `type` is accepted for Node's shape. */
  async symlink(target: PathLike, path: PathLike, type?: string | null): Promise<void> {
    void type;
    const t = pathArg(target);
    const arg = pathArg(path);
    this.writeOps('symlink', t.shown).symlink(t.key, arg.key, arg.shown);
  }

  /** Gives the inode at `existingPath` (a final symlink not followed) the name `newPath`. */
  async link(existingPath: PathLike, newPath: PathLike): Promise<void> {
    const a = pathArg(existingPath);
    const b = pathArg(newPath);
    this.writeOps('link', a.shown, b.shown).link(a.key, a.shown, b.key, b.shown);
  }

  /**
   * `renameat2(2)`: moves `oldPath` to `newPath`, replacing what is there (a directory only by a
   * directory, and an empty one). `flags`: `constants.RENAME_NOREPLACE` (`EEXIST` when the target
   * exists), `RENAME_EXCHANGE` (swaps the two; both must exist), `RENAME_WHITEOUT` (leaves a
   * whiteout at the source). Symlinks are moved as links; directories of the image move without
   * copying. Another `ImageFs` as target is `EXDEV` (see {@link ImageFs.renameTo}).
   */
  async rename(oldPath: PathLike, newPath: PathLike, flags = 0): Promise<void> {
    const a = pathArg(oldPath);
    const b = pathArg(newPath);
    this.writeOps('rename', a.shown, b.shown).rename(a.key, a.shown, b.key, b.shown, flags);
  }

  /** `rename` into another `ImageFs`: `EXDEV` unless it is this one (as across mounts). */
  async renameTo(oldPath: PathLike, target: ImageFs, newPath: PathLike, flags = 0): Promise<void> {
    if (target !== this) throw new FsError('EXDEV', 'rename', pathArg(oldPath).shown, pathArg(newPath).shown);
    await this.rename(oldPath, newPath, flags);
  }

  /** Copies a file's bytes and permission bits; `mode` `COPYFILE_EXCL` fails with `EEXIST` when `dest` exists. */
  async copyFile(src: PathLike, dest: PathLike, mode = 0): Promise<void> {
    await copyFileCall(this.writeOps('copyfile', pathArg(src).shown, pathArg(dest).shown), src, dest, mode);
  }

  /** Copies files, symlinks, devices and (with `recursive`) directories, inside this file system. */
  async cp(src: PathLike, dest: PathLike, options: CpOptions = {}): Promise<void> {
    await cpCall(this.writeOps('cp', pathArg(src).shown, pathArg(dest).shown), src, dest, options);
  }

  /** Makes a unique directory `prefix` + six characters (mode 0700) and resolves to its path. */
  async mkdtemp(prefix: string): Promise<string> {
    return mkdtempCall(this.writeOps('mkdtemp', prefix), prefix);
  }

  /** Makes a FIFO, a device (`mode` with `S_IFCHR`/`S_IFBLK`, `rdev` as `makedev` or `{ major, minor }`) or an empty file. */
  async mknod(path: PathLike, mode: number, rdev: number | bigint | { major: number; minor: number } = 0): Promise<void> {
    const arg = pathArg(path);
    const dev = typeof rdev === 'object' ? rdev : splitRdev(BigInt(rdev));
    this.writeOps('mknod', arg.shown).mknod(arg.key, arg.shown, mode, dev.major, dev.minor);
  }

  /** Makes a FIFO (`mkfifo(3)`). */
  async mkfifo(path: PathLike, mode = 0o666): Promise<void> {
    await this.mknod(path, 0o010000 | (mode & 0o7777));
  }

  /** Sets an extended attribute (`flags`: 1 create only, 2 replace only). */
  async setxattr(path: PathLike, name: string, value: string | Uint8Array, options: SetXattrOptions = {}): Promise<void> {
    const arg = pathArg(path);
    const ops = this.writeOps('setxattr', arg.shown);
    const { ino } = this.resolveArg(arg, !options.nofollow, 'setxattr');
    ops.guard('setxattr', arg.shown, undefined, () => ops.tree.setxattr(ino, name, typeof value === 'string' ? Buffer.from(value) : value, options.flags ?? 0));
  }

  /** Removes an extended attribute (`ENODATA` when the file has none of that name). */
  async removexattr(path: PathLike, name: string, options: XattrOptions = {}): Promise<void> {
    const arg = pathArg(path);
    const ops = this.writeOps('removexattr', arg.shown);
    const { ino } = this.resolveArg(arg, !options.nofollow, 'removexattr');
    ops.guard('removexattr', arg.shown, undefined, () => ops.tree.removexattr(ino, name));
  }

  /** Makes every change so far durable (`syncfs`): fsync of the upper's journal. */
  async sync(): Promise<void> {
    if (this.writes !== undefined) await this.writes.tree.sync();
  }

  /** The write side, or `EROFS` for a read-only tree. */
  private writeOps(syscall: string, path: string, dest?: string): WriteOps {
    if (this.writes === undefined) throw new FsError('EROFS', syscall, path, dest);
    return this.writes;
  }

  private chownAt(path: PathLike, follow: boolean, syscall: string, uid: number, gid: number): void {
    const arg = pathArg(path);
    const ops = this.writeOps(syscall, arg.shown);
    const { ino } = this.resolveArg(arg, follow, syscall);
    ops.chown(ino, uid, gid, syscall, arg.shown);
  }

  private setattrAt(path: PathLike, follow: boolean, syscall: string, attrs: Parameters<WritableFsTree['setattr']>[1]): void {
    const arg = pathArg(path);
    const ops = this.writeOps(syscall, arg.shown);
    const { ino } = this.resolveArg(arg, follow, syscall);
    ops.setattr(ino, attrs, syscall, arg.shown);
  }

  /** Closes the layers the file system was made from. */
  async close(): Promise<void> {
    await Promise.all(this.closers.map((c) => c.close()));
  }

  /** Same as {@link ImageFs.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The `lstat` of an inode of {@link ImageFs.tree}. */
  statsOf(ino: number, bigint: true): ImageBigIntStats;
  statsOf(ino: number, bigint?: false): ImageStats;
  statsOf(ino: number, bigint?: boolean): ImageStats | ImageBigIntStats;
  statsOf(ino: number, bigint = false): ImageStats | ImageBigIntStats {
    const init = { ...this.tree.attrs(ino), dev: this.dev };
    return bigint ? new ImageBigIntStats(init) : new ImageStats(init);
  }

  /** Resolves `path` (an image path; see {@link resolvePath}) in {@link ImageFs.tree}. */
  resolve(path: PathLike, follow: boolean, syscall: string): Resolved {
    return this.resolveArg(pathArg(path), follow, syscall);
  }

  /** The bytes of a regular file's inode; `EISDIR` for directories, `EINVAL` for devices and FIFOs. */
  content(ino: number, path: string, syscall: string): FileContent {
    const type = this.tree.modeOf(ino) & S_IFMT;
    if (type === S_IFDIR) throw new FsError('EISDIR', syscall, path);
    if (type !== S_IFREG) throw new FsError('EINVAL', syscall, path);
    return this.tree.content(ino);
  }

  private resolveArg(arg: PathArg, follow: boolean, syscall: string): Resolved {
    return resolvePath(this.tree, arg.key, { follow, syscall, display: arg.shown });
  }

  private directory(arg: PathArg, syscall: string): number {
    const { ino } = this.resolveArg(arg, true, syscall);
    if ((this.tree.modeOf(ino) & S_IFMT) !== S_IFDIR) throw new FsError('ENOTDIR', syscall, arg.shown);
    return ino;
  }

  /** Dirents of `dir` (and, recursively, of its subdirectories, not through symlinks), as Node orders them. */
  private *dirents(dir: number, shown: string, recursive: boolean, encoding: NameEncoding | undefined): Generator<ImageDirent<string | Buffer>> {
    const queue: [number, string][] = [[dir, shown]];
    while (queue.length > 0) {
      const [d, parentPath] = queue.pop()!;
      for (const e of this.tree.children(d)) {
        const mode = this.tree.modeOf(e.ino);
        yield new ImageDirent(encodeName(e.name, encoding), parentPath, mode);
        if (recursive && (mode & S_IFMT) === S_IFDIR) queue.push([e.ino, joinPath(parentPath, encodeName(e.name, encoding).toString())]);
      }
    }
  }

  /**
   * Relative paths of everything below `dir`, as `node:fs`'s recursive `readdir` lists them: a
   * stack of directories, and symlinks to directories descended into (resolved inside the image).
   * A symlink that leads back to a directory being listed is listed but not entered again.
   */
  private recursiveNames(dir: number, encoding: NameEncoding | undefined): string[] {
    const out: string[] = [];
    const queue: [number, string, ReadonlySet<number>][] = [[dir, '', new Set([dir])]];
    while (queue.length > 0) {
      const [d, rel, ancestors] = queue.pop()!;
      for (const e of this.tree.children(d)) {
        const name = encodeName(e.name, encoding) as string;
        const path = rel === '' ? name : `${rel}/${name}`;
        out.push(path);
        let target = e.ino;
        if ((this.tree.modeOf(e.ino) & S_IFMT) === S_IFLNK) {
          try {
            target = resolvePath(this.tree, `${dirPath(this.tree, d)}/${e.name}`, { follow: true, syscall: 'stat' }).ino;
          } catch {
            continue;
          }
        }
        if ((this.tree.modeOf(target) & S_IFMT) === S_IFDIR && !ancestors.has(target)) queue.push([target, path, new Set([...ancestors, target])]);
      }
    }
    return out;
  }
}

/** Node's `ERR_INVALID_ARG_TYPE` `TypeError`. */
function argType(name: string, expected: string, value: unknown): TypeError {
  const what = value instanceof Uint8Array ? 'an instance of Buffer' : value instanceof URL ? 'an instance of URL' : `type ${typeof value}`;
  const err = new TypeError(`The "${name}" argument must be ${expected}. Received ${what}`) as TypeError & { code: string };
  err.code = 'ERR_INVALID_ARG_TYPE';
  return err;
}

/** glibc's `major`/`minor` of a device number. */
function splitRdev(dev: bigint): { major: number; minor: number } {
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return { major, minor };
}

/** The content of a device or FIFO opened through the image: every read fails with `EINVAL`. */
function specialContent(path: string): FileContent {
  const fail = async (): Promise<never> => { throw new FsError('EINVAL', 'read', path); };
  return { size: 0, readInto: fail, read: fail };
}

/** A stable `dev` from the layer digests (FNV-1a, 31 bits, never 0). */
export function devOf(layers: readonly LayerContent[]): number {
  let h = 0x811c9dc5;
  for (const l of layers) {
    const d = l.descriptor?.digest ?? '';
    for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d.charCodeAt(i), 0x01000193);
  }
  return (h >>> 1) || 1;
}
