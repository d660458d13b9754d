import { constants as osConstants } from 'node:os';
import { ImageFsError } from './image-fs-error.js';

/** The Node-style file system error codes imagefs raises. */
export type FsErrorCode =
  | 'ENOENT' | 'ENOTDIR' | 'EISDIR' | 'EEXIST' | 'ENOTEMPTY' | 'EXDEV' | 'EROFS' | 'EINVAL'
  | 'ELOOP' | 'ENODATA' | 'EACCES' | 'EBADF' | 'ENXIO' | 'EPERM' | 'EIO' | 'ERANGE' | 'ENOSYS'
  | 'ENAMETOOLONG' | 'EFBIG' | 'ENOSPC' | 'EBUSY' | 'EMLINK';

const MESSAGES: Record<FsErrorCode, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'illegal operation on a directory',
  EEXIST: 'file already exists',
  ENOTEMPTY: 'directory not empty',
  EXDEV: 'cross-device link not permitted',
  EROFS: 'read-only file system',
  EINVAL: 'invalid argument',
  ELOOP: 'too many symbolic links encountered',
  ENODATA: 'no data available',
  EACCES: 'permission denied',
  EBADF: 'bad file descriptor',
  ENXIO: 'no such device or address',
  EPERM: 'operation not permitted',
  EIO: 'i/o error',
  ERANGE: 'result too large',
  ENOSYS: 'function not implemented',
  ENAMETOOLONG: 'name too long',
  EFBIG: 'file too large',
  ENOSPC: 'no space left on device',
  EBUSY: 'resource busy or locked',
  EMLINK: 'too many links',
};

/**
 * A file system error shaped like Node's own (`code`, `errno`, `syscall`, `path`, `dest`), so
 * code written against `node:fs/promises` handles it unchanged.
 *
 * @example
 * ```ts
 * await fs.stat('/nope').catch((e) => e.code); // 'ENOENT'
 * ```
 */
export class FsError extends ImageFsError {
  declare readonly code: FsErrorCode;
  /** The negative errno, as Node reports it. */
  readonly errno: number;
  /** The call that failed, for instance `open` or `rename`. */
  readonly syscall: string;
  /** The path the call was given. */
  readonly path: string;
  /** The second path of a two-path call (rename, link). */
  readonly dest: string | undefined;

  constructor(code: FsErrorCode, syscall: string, path: string, dest?: string, cause?: unknown) {
    const where = dest === undefined ? `'${path}'` : `'${path}' -> '${dest}'`;
    super(code, `${code}: ${MESSAGES[code]}, ${syscall} ${where}`, { cause });
    this.name = 'FsError';
    this.errno = -((osConstants.errno as Record<string, number>)[code] ?? 0);
    this.syscall = syscall;
    this.path = path;
    this.dest = dest;
  }

  /** True for a file system error of any copy of the package (an imagefs error with an errno and a syscall). */
  static override is(value: unknown): value is FsError {
    return ImageFsError.is(value) && typeof (value as FsError).errno === 'number' && typeof (value as FsError).syscall === 'string';
  }

  /** Makes `instanceof FsError` true for file system errors only (not for every imagefs error). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return FsError.is(value);
  }
}
