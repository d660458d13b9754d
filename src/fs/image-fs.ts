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
import type { FileContent, FsTree } from '../tree/types.js';
import { ImageDir } from './dir.js';
import { ImageFileHandle } from './file-handle.js';
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

  /** Serves `tree`; `closers` are closed by {@link ImageFs.close}. */
  constructor(tree: FsTree, options: { dev?: number; closers?: readonly { close(): Promise<void> }[] } = {}) {
    this.tree = tree;
    this.dev = options.dev ?? 1;
    this.closers = options.closers ?? [];
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
    if (mode & fsConstants.W_OK) throw new FsError('EROFS', 'access', arg.shown);
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
    void mode;
    const arg = pathArg(path);
    const { flags: f, writes } = parseOpenFlags(flags);
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
    return new ImageFileHandle({ path: arg.shown, data, stat: (bigint) => this.statsOf(r.ino, bigint) });
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
      type: FUSE_SUPER_MAGIC, bsize, blocks: Math.ceil(this.tree.totalBytes / bsize), bfree: 0, bavail: 0, files: this.tree.inodeCount, ffree: 0,
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
