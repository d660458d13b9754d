import { ImageError } from '../errors/image-fs-error.js';

/**
 * The error every cache method rejects with once the cache is closed (`FailedPrecondition`).
 *
 * @param what - the cache, for the message (for instance `the disk cache /var/cache/imagefs`)
 * @example
 * ```ts
 * if (this.closed) throw cacheClosed('the memory cache');
 * ```
 */
export function cacheClosed(what: string): ImageError {
  return new ImageError('FailedPrecondition', `${what} is closed`, {
    hint: 'open the cache again; a closed cache serves nothing',
  });
}
