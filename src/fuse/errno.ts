/**
 * Which errno a failure is answered with. The kernel passes it to the program that made the
 * system call, so it has to be the one that program would get from a local file system.
 */
import { ImageFsError } from '../errors/image-fs-error.js';
import { Errno } from './protocol.js';

/**
 * The positive errno for an error thrown while answering a request: an `FsError`'s own errno
 * (`ENOENT`, `EISDIR`, ...); `EINTR` for an abort; `ENOENT` for an inode number the tree does not
 * know (a `RangeError`: a node id from before, which cannot happen with an immutable tree);
 * `EIO` for everything else, notably an `ImageError` from a layer fetch that failed.
 *
 * @example
 * ```ts
 * errnoOf(new FsError('ENOENT', 'open', '/x')); // 2
 * errnoOf(new ImageError('Unavailable', 'registry down')); // 5 (EIO)
 * ```
 */
export function errnoOf(error: unknown): number {
  if (error instanceof RangeError) return Errno.ENOENT;
  if (error instanceof Error && error.name === 'AbortError') return Errno.EINTR;
  if (ImageFsError.is(error)) {
    const errno = (error as { errno?: unknown }).errno;
    if (typeof errno === 'number' && errno !== 0) return Math.abs(errno);
    return Errno.EIO;
  }
  return Errno.EIO;
}
