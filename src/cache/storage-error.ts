import { ImageError } from '../errors/image-fs-error.js';

/** Errno codes that mean the cache directory cannot take writes now (full, read-only, not ours). */
const CODES: Record<string, { code: 'ResourceExhausted' | 'FailedPrecondition'; hint: string }> = {
  ENOSPC: { code: 'ResourceExhausted', hint: 'free space on the cache file system, or lower the cache size bound (imagefs cache prune --max BYTES)' },
  EDQUOT: { code: 'ResourceExhausted', hint: 'raise the disk quota, or lower the cache size bound (imagefs cache prune --max BYTES)' },
  EROFS: { code: 'FailedPrecondition', hint: 'the cache directory is on a read-only file system: pass a writable --cache DIR, or --no-cache' },
  EACCES: { code: 'FailedPrecondition', hint: 'pass a cache directory you may write to (--cache DIR), or --no-cache' },
  EPERM: { code: 'FailedPrecondition', hint: 'pass a cache directory you may write to (--cache DIR), or --no-cache' },
};

/**
 * A failed write to a disk cache as an `ImageError` the layers above can handle alike: full disk
 * or quota (`ResourceExhausted`), read-only or forbidden directory (`FailedPrecondition`), with
 * the original errno error as `cause` (its `code` says which). Other errors are returned as they are.
 *
 * @example
 * ```ts
 * try { await handle.write(chunk); } catch (e) { throw storageError(e, '/var/cache/imagefs'); }
 * ```
 */
export function storageError(error: unknown, dir: string): unknown {
  const errno = (error as NodeJS.ErrnoException | undefined)?.code;
  const known = errno === undefined ? undefined : CODES[errno];
  if (known === undefined) return error;
  return new ImageError(known.code, `the cache ${dir} cannot keep more data (${errno}: ${(error as Error).message})`, { subject: dir, hint: known.hint, cause: error });
}

/** The errno code behind a cache write failure (`ENOSPC`, `EROFS`...), looking through `storageError`. */
export function storageErrno(error: unknown): string | undefined {
  const e = error as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = typeof e?.cause?.code === 'string' ? e.cause.code : e?.code;
  return typeof code === 'string' ? code : undefined;
}
