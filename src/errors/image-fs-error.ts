/**
 * The codes an {@link ImageFsError} about an image or a registry carries. They follow GKE image
 * streaming's troubleshooting vocabulary so that users can look them up in one place
 * (docs/errors.md).
 */
export type ImageErrorCode =
  | 'PermissionDenied'
  | 'NotFound'
  | 'ResourceExhausted'
  | 'Unavailable'
  | 'InvalidArgument'
  | 'FailedPrecondition'
  | 'DataLoss'
  | 'Aborted';

const BRAND = Symbol.for('imagefs.error');

/** Options shared by every imagefs error. */
export interface ImageFsErrorOptions {
  /** The error this one wraps; kept so nothing is lost. */
  cause?: unknown;
  /** What the user can do about it, one sentence. Printed by the CLI after the message. */
  hint?: string;
}

/**
 * The base class of every error imagefs throws on purpose. Match on `code`, not on the class:
 * `instanceof` works across copies of the package through a `Symbol.for` brand, but codes are the
 * stable contract.
 *
 * @example
 * ```ts
 * try { await fs.readFile('/etc/passwd'); }
 * catch (e) { if (ImageFsError.is(e) && e.code === 'NotFound') ... }
 * ```
 */
export class ImageFsError extends Error {
  /** A stable code: one of {@link ImageErrorCode} or a Node fs code such as `ENOENT`. */
  readonly code: string;
  /** What to do about it (may be empty). */
  readonly hint: string;

  constructor(code: string, message: string, options: ImageFsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ImageFsError';
    this.code = code;
    this.hint = options.hint ?? '';
  }

  /** True for any imagefs error, from this copy of the package or another. */
  static is(value: unknown): value is ImageFsError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  /** Makes `instanceof ImageFsError` (and subclasses) true for any imagefs error, via the brand. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return ImageFsError.is(value);
  }

  /** @internal */
  get [BRAND](): boolean {
    return true;
  }
}

/**
 * An error about an image: its reference, manifest, config, layers or blobs, wherever they come
 * from (a registry or a local layout).
 */
export class ImageError extends ImageFsError {
  declare readonly code: ImageErrorCode;
  /** The file, blob digest or URL (redacted) the error is about, when there is one. */
  readonly subject: string | undefined;

  constructor(code: ImageErrorCode, message: string, options: ImageFsErrorOptions & { subject?: string } = {}) {
    super(code, message, options);
    this.name = 'ImageError';
    this.subject = options.subject;
  }
}

/** The image or a blob is not where the reference says (`NotFound`). */
export function notFound(message: string, options?: ImageFsErrorOptions & { subject?: string }): ImageError {
  return new ImageError('NotFound', message, options);
}

/** Bytes do not match their digest, or are truncated or corrupt (`DataLoss`). */
export function dataLoss(message: string, options?: ImageFsErrorOptions & { subject?: string }): ImageError {
  return new ImageError('DataLoss', message, options);
}

/** The input is malformed or unsupported (`InvalidArgument`). */
export function invalidArgument(message: string, options?: ImageFsErrorOptions & { subject?: string }): ImageError {
  return new ImageError('InvalidArgument', message, options);
}

/** The operation was cancelled through its AbortSignal (`Aborted`). */
export function aborted(signal?: AbortSignal): ImageError {
  return new ImageError('Aborted', 'the operation was aborted', { cause: signal?.reason });
}

/** Throws an `Aborted` error when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw aborted(signal);
}
