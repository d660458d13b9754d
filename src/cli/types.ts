import type { UpperOptions } from '../upper/upper-tree.js';
import type { Platform, ResolvedImage } from '../image/types.js';
import type { ReadOptions } from '../source/read-at.js';
import type { ImageFs } from '../fs/image-fs.js';
import type { ImageFsEventListener } from '../open/events.js';

/** The kinds of file the CLI prints (the contract's `stat` JSON `type`). */
export type CliFileType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo' | 'socket';

/**
 * What the CLI needs to know about one path (an `lstat` or `stat` result). Units: `size` in
 * bytes, `mtime` in seconds since the epoch, `mode` the permission and special bits only
 * (`0o7777` mask, no file type bits).
 */
export interface CliStats {
  type: CliFileType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (fractional). */
  mtime: number;
  /** Nanoseconds since the epoch, exact. */
  mtimeNs: bigint;
  nlink: number;
  /** The symlink's target (symlinks only). */
  linkTarget?: string;
  /** Extended attributes, raw values (`security.capability` included). */
  xattrs: Record<string, Uint8Array>;
  /** Device numbers (char and block devices only). */
  devMajor?: number;
  devMinor?: number;
}

/**
 * The narrow view of the merged filesystem the CLI commands use. Paths are absolute inside the
 * image (`/etc/passwd`). Errors are `FsError`s (`ENOENT`, `ENOTDIR`, `EISDIR`, `ELOOP`, ...).
 * `ImageFsView` (image-fs-view.ts) offers it over an ImageFs.
 */
export interface CliFs {
  /** Metadata of `path` itself (symlinks are not followed). */
  lstat(path: string, options?: ReadOptions): Promise<CliStats>;
  /** Metadata of what `path` leads to (symlinks followed within the image). */
  stat(path: string, options?: ReadOptions): Promise<CliStats>;
  /** The names in a directory (symlinks to directories followed), in any order. */
  readdir(path: string, options?: ReadOptions): Promise<string[]>;
  /**
   * The bytes of a regular file (symlinks followed), in chunks. Rejects with `EISDIR` for a
   * directory. A Node `Readable` satisfies this.
   */
  createReadStream(path: string, options?: ReadOptions): AsyncIterable<Uint8Array>;
}

/** Parsed `USER:PASS` of `--creds`. */
export interface CliCredentials {
  username: string;
  password: string;
}

/** The global options every command accepts (see `imagefs --help`). */
export interface GlobalOptions {
  /** `--platform OS/ARCH[/VARIANT]`; undefined means the host's platform. */
  platform?: Platform;
  /** `--creds USER:PASS`. */
  creds?: CliCredentials;
  /** `--auth-file PATH`, else `$REGISTRY_AUTH_FILE`, else undefined (the registry module looks further). */
  authFile?: string;
  /** The cache directory: `--cache DIR`, else the default; undefined with `--no-cache`. */
  cacheDir?: string;
  /** `--insecure`: plain HTTP / unverified TLS for non-loopback registries. */
  insecure: boolean;
  /** `--mirror HOST[:PORT]`, in order: mirrors of every registry, tried before it. */
  mirrors?: string[];
  /** Mirrors by registry host, read from containers-registries.conf (filled in before a command runs). */
  confMirrors?: Record<string, string[]>;
  /** `--json`: print one JSON document. */
  json: boolean;
  /** `--quiet`: print only the requested data, no progress or notes. */
  quiet: boolean;
  /** `--debug`: print stack traces with errors. */
  debug: boolean;
}

/** How a command opens the full filesystem ({@link CliImage.openImageFs}). */
export interface CliImageFsOptions extends ReadOptions {
  /** `--writable [--upper DIR]`: an upper layer, in memory or in a directory. */
  upper?: string | UpperOptions;
  /** Download the layers whole into the cache in the background (mount, run; needs a cache). */
  background?: boolean;
  /** Receives the image's events (pulled, streaming, fallback, downloaded, cache warnings...). */
  onImageEvent?: ImageFsEventListener;
}

/** An image opened for a CLI command: resolved eagerly, its filesystem opened on demand. */
export interface CliImage {
  /** The platform manifest, config and layers. */
  readonly resolved: ResolvedImage;
  /** Opens the merged filesystem (may download layers). Called at most once per command. */
  openFs(options?: ReadOptions): Promise<CliFs>;
  /** The same filesystem as the full {@link ImageFs} (for `export`). */
  openImageFs(options?: CliImageFsOptions): Promise<ImageFs>;
  /** Releases everything (sources, layers, caches). */
  close(): Promise<void>;
}

/** Opens an image reference for the CLI. `src/cli/open.ts` provides the default. */
export type OpenForCli = (ref: string, options: GlobalOptions, readOptions?: ReadOptions) => Promise<CliImage>;
