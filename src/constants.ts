/**
 * Constants users pass to imagefs calls, named as Linux names them. The `RENAME_*` flags are
 * those of `renameat2(2)`, for the writable layer's `rename(from, to, flags)`.
 *
 * @example
 * ```ts
 * import { constants } from 'imagefs';
 * constants.RENAME_NOREPLACE; // 1
 * ```
 */
export const constants = Object.freeze({
  /** Fail with EEXIST instead of replacing an existing target. */
  RENAME_NOREPLACE: 1,
  /** Swap source and target atomically; both must exist. */
  RENAME_EXCHANGE: 2,
  /** Leave a whiteout where the source was (overlay filesystems). */
  RENAME_WHITEOUT: 4,
} as const);

/** Every `code` an image or registry error can carry (see docs/errors.md). */
export const IMAGE_ERROR_CODES = Object.freeze([
  'PermissionDenied', 'NotFound', 'ResourceExhausted', 'Unavailable', 'InvalidArgument', 'FailedPrecondition', 'DataLoss', 'Aborted',
] as const);

/** Every Node-style `code` a file system error can carry (see docs/errors.md). */
export const FS_ERROR_CODES = Object.freeze([
  'ENOENT', 'ENOTDIR', 'EISDIR', 'EEXIST', 'ENOTEMPTY', 'EXDEV', 'EROFS', 'EINVAL', 'ELOOP', 'ENODATA', 'EACCES', 'EBADF', 'ENXIO', 'EPERM', 'EIO', 'ERANGE', 'ENOSYS',
  'ENAMETOOLONG', 'EFBIG', 'ENOSPC', 'EBUSY', 'EMLINK',
] as const);
