import { constants as fsConstants } from 'node:fs';
import type { Readable } from 'node:stream';
import { FsError } from '../errors/fs-error.js';
import type { LayerContent } from '../layer/types.js';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../overlay/file-type.js';
import { mergeLayers, type MergeOptions } from '../overlay/merge.js';
import type { MergedTree } from '../overlay/merged-tree.js';
import type { MergeWarning } from '../overlay/warnings.js';
import type { ReadAtSource, ReadOptions } from '../source/read-at.js';
import { FileData } from './file-data.js';
import { ImageFileHandle } from './file-handle.js';
import { createFileReadStream, type ReadStreamOptions } from './read-stream.js';
import { displayPath, resolvePath } from './resolve.js';
import { ImageDirent, ImageStats } from './stats.js';

/** Options of {@link ImageFs}'s constructor and {@link ImageFs.fromLayers}. */
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

/**
 * The merged, read-only file system of an image, with the `node:fs/promises` shape. Paths are
 * image paths (`/etc/passwd`; relative ones start at the image root) resolved as inside a chroot.
 * Errors are {@link FsError}s with Node's `code`, `errno`, `syscall` and `path`. Reading a device,
 * FIFO or socket fails with `EINVAL` (they are reported by `stat`, never opened); writing calls do
 * not exist, and `access(W_OK)` fails with `EROFS`.
 *
 * Build one with {@link ImageFs.fromLayers} (or from an already merged tree with the constructor);
 * image references are opened by a static factory added next to these (`ImageFs.open(ref)`),
 * which resolves the image into `LayerContent`s and calls `fromLayers`.
 *
 * @example
 * ```ts
 * const fs = await ImageFs.fromLayers(layers);
 * console.log(await fs.readFile('/etc/os-release', 'utf8'));
 * for await (const { path, stats } of fs.walk('/usr/bin')) console.log(path, stats.size);
 * ```
 */
export class ImageFs {
  /** The merged tree the file system reads. */
  readonly tree: MergedTree;
  private readonly sources: readonly ReadAtSource[];
  private readonly dev: number;
  private readonly closers: readonly { close(): Promise<void> }[];

  /**
   * Wraps a merged tree; `sources[i]` is the uncompressed tar of layer `i` (base = 0). `closers`
   * are closed by {@link ImageFs.close}.
   */
  constructor(tree: MergedTree, sources: readonly ReadAtSource[], options: { dev?: number; closers?: readonly { close(): Promise<void> }[] } = {}) {
    if (sources.length < tree.layerCount) throw new TypeError(`the tree has ${tree.layerCount} layers but ${sources.length} sources were given`);
    this.tree = tree;
    this.sources = sources;
    this.dev = options.dev ?? 1;
    this.closers = options.closers ?? [];
  }

  /** Merges `layers` (base first) and serves the result; {@link ImageFs.close} closes the layers. */
  static async fromLayers(layers: readonly LayerContent[], options: ImageFsOptions = {}): Promise<ImageFs> {
    const tree = await mergeLayers(layers, options);
    return new ImageFs(tree, layers.map((l) => l.data), { dev: options.dev ?? devOf(layers), closers: layers });
  }

  /** What the merge skipped or changed (see {@link MergeWarning}). */
  get warnings(): readonly MergeWarning[] {
    return this.tree.warnings;
  }

  /** Status of `path`, following symlinks. */
  async stat(path: string): Promise<ImageStats> {
    return this.statsOf(this.resolve(path, true, 'stat'));
  }

  /** Status of `path`, not following a final symlink. */
  async lstat(path: string): Promise<ImageStats> {
    return this.statsOf(this.resolve(path, false, 'lstat'));
  }

  /** The names in a directory (sorted by their bytes), or {@link ImageDirent}s with `withFileTypes`. */
  async readdir(path: string, options: { withFileTypes: true }): Promise<ImageDirent[]>;
  async readdir(path: string, options?: { withFileTypes?: false; encoding?: BufferEncoding } | BufferEncoding): Promise<string[]>;
  async readdir(path: string, options?: { withFileTypes?: boolean; encoding?: BufferEncoding } | BufferEncoding): Promise<string[] | ImageDirent[]> {
    const dir = this.resolve(path, true, 'scandir');
    if (!this.tree.isDir(dir)) throw new FsError('ENOTDIR', 'scandir', path);
    const names: string[] = [];
    const dirents: ImageDirent[] = [];
    const withTypes = typeof options === 'object' && options.withFileTypes === true;
    for (const c of this.tree.children(dir)) {
      const name = this.tree.nameOf(c);
      if (withTypes) dirents.push(new ImageDirent(name, path, this.tree.inodes.mode[this.tree.inodeOf(c)]!));
      else names.push(name);
    }
    return withTypes ? dirents : names;
  }

  /** The bytes of a file, or a string when an encoding is given. */
  async readFile(path: string, options: { encoding: BufferEncoding; signal?: AbortSignal } | BufferEncoding): Promise<string>;
  async readFile(path: string, options?: { encoding?: null; signal?: AbortSignal } | null): Promise<Buffer>;
  async readFile(path: string, options?: { encoding?: BufferEncoding | null; signal?: AbortSignal } | BufferEncoding | null): Promise<Buffer | string> {
    const opts = typeof options === 'string' ? { encoding: options } : options ?? {};
    const node = this.resolve(path, true, 'open');
    const data = this.fileData(node, path, 'read');
    const bytes = await data.read(0, data.size, { signal: opts.signal });
    return opts.encoding ? bytes.toString(opts.encoding) : bytes;
  }

  /** The target of a symlink (`EINVAL` for anything else). */
  async readlink(path: string): Promise<string> {
    const node = this.resolve(path, false, 'readlink');
    const ino = this.tree.inodeOf(node);
    if ((this.tree.inodes.mode[ino]! & S_IFMT) !== S_IFLNK) throw new FsError('EINVAL', 'readlink', path);
    return this.tree.linkTarget(ino);
  }

  /** The canonical absolute path of `path`, every symlink resolved. */
  async realpath(path: string): Promise<string> {
    return this.tree.pathOf(this.resolve(path, true, 'realpath'));
  }

  /**
   * Checks `mode` (`F_OK`, or `R_OK | W_OK | X_OK`) as the kernel does for root: `W_OK` fails with
   * `EROFS` (read-only), `X_OK` needs an execute bit (directories always pass).
   */
  async access(path: string, mode: number = fsConstants.F_OK): Promise<void> {
    const node = this.resolve(path, true, 'access');
    if (mode & fsConstants.W_OK) throw new FsError('EROFS', 'access', path);
    if (mode & fsConstants.X_OK && !this.tree.isDir(node) && (this.tree.inodes.mode[this.tree.inodeOf(node)]! & 0o111) === 0) {
      throw new FsError('EACCES', 'access', path);
    }
  }

  /** Opens a file (or directory) for reading. Flags other than `'r'` fail with `EROFS`. */
  async open(path: string, flags: string | number = 'r'): Promise<ImageFileHandle> {
    if (flags !== 'r' && flags !== fsConstants.O_RDONLY) throw new FsError('EROFS', 'open', path);
    const node = this.resolve(path, true, 'open');
    const data = this.tree.isDir(node) ? null : this.fileData(node, path, 'open');
    return new ImageFileHandle(path, data, this.statsOf(node));
  }

  /** A Node `Readable` of the bytes `[start, end]` (inclusive) of a file. */
  createReadStream(path: string, options: ReadStreamOptions = {}): Readable {
    return createFileReadStream(async () => this.fileData(this.resolve(path, true, 'open'), path, 'read'), options);
  }

  /** The value of the extended attribute `name`; `ENODATA` when the file has none of that name. */
  async getxattr(path: string, name: string, options: XattrOptions = {}): Promise<Buffer> {
    const node = this.resolve(path, !options.nofollow, 'getxattr');
    const found = this.tree.xattrs(this.tree.inodeOf(node)).find(([n]) => n === name);
    if (found === undefined) throw new FsError('ENODATA', 'getxattr', path);
    return Buffer.from(found[1]);
  }

  /** The names of a file's extended attributes, sorted. */
  async listxattr(path: string, options: XattrOptions = {}): Promise<string[]> {
    const node = this.resolve(path, !options.nofollow, 'listxattr');
    return this.tree.xattrs(this.tree.inodeOf(node)).map(([n]) => n);
  }

  /**
   * Every path under `path` (itself first), depth-first with names sorted by their bytes, each
   * with its `lstat`. A symlink given as `path` is followed; symlinks below it are not.
   */
  async *walk(path = '/', options: ReadOptions = {}): AsyncGenerator<WalkEntry> {
    const start = this.resolve(path, true, 'scandir');
    const stack: [number, string][] = [[start, displayPath(path)]];
    while (stack.length > 0) {
      options.signal?.throwIfAborted();
      const [node, p] = stack.pop()!;
      yield { path: p, stats: this.statsOf(node) };
      if (!this.tree.isDir(node)) continue;
      const kids = [...this.tree.children(node)];
      const prefix = p === '/' ? '/' : p + '/';
      for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i]!, prefix + this.tree.nameOf(kids[i]!)]);
    }
  }

  /** Closes the layers the file system was made from. */
  async close(): Promise<void> {
    await Promise.all(this.closers.map((c) => c.close()));
  }

  /** The `lstat` of a node of {@link ImageFs.tree}. */
  statsOf(node: number): ImageStats {
    const t = this.tree.inodes;
    const ino = this.tree.inodeOf(node);
    const mode = t.mode[ino]!;
    const type = mode & S_IFMT;
    const isDev = type === 0o020000 || type === 0o060000;
    return new ImageStats({
      dev: this.dev, ino: ino + 1, mode, nlink: t.nlink[ino]!, uid: t.uid[ino]!, gid: t.gid[ino]!,
      rdev: isDev ? t.aux[ino]! : 0, size: type === S_IFDIR ? 4096 : t.size[ino]!, mtime: t.mtime[ino]!,
    });
  }

  /** Resolves `path` to a node of {@link ImageFs.tree} (see {@link resolvePath}). */
  resolve(path: string, follow: boolean, syscall: string): number {
    return resolvePath(this.tree, path, { follow, syscall });
  }

  /** The bytes of a regular file's node; `EISDIR` for directories, `EINVAL` for devices and FIFOs. */
  fileData(node: number, path: string, syscall: string): FileData {
    const t = this.tree.inodes;
    const ino = this.tree.inodeOf(node);
    const type = t.mode[ino]! & S_IFMT;
    if (type === S_IFDIR) throw new FsError('EISDIR', syscall, path);
    if (type !== S_IFREG) throw new FsError('EINVAL', syscall, path);
    const size = t.size[ino]!;
    return new FileData(size === 0 ? EMPTY_SOURCE : this.sources[t.layer[ino]!]!, t.aux[ino]!, size);
  }
}

const EMPTY_SOURCE: ReadAtSource = { size: 0, readAt: async () => new Uint8Array(0) };

/** A stable `dev` from the layer digests (FNV-1a, 31 bits, never 0). */
function devOf(layers: readonly LayerContent[]): number {
  let h = 0x811c9dc5;
  for (const l of layers) {
    const d = l.descriptor?.digest ?? '';
    for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d.charCodeAt(i), 0x01000193);
  }
  return (h >>> 1) || 1;
}
