import { throwIfAborted } from '../errors/image-fs-error.js';

/** Options of every I/O call. */
export interface ReadOptions {
  /** Cancels the call; it then rejects with an `Aborted` error. */
  signal?: AbortSignal;
}

/**
 * The one random-access contract everything in imagefs is built on: a sized sequence of bytes
 * that can be read at any offset. Layout blobs, registry blobs, caches and decompressed layers all
 * implement it.
 *
 * `readAt` resolves to exactly `length` bytes, or rejects: a short read is an error, never a
 * result. Implementations must allow concurrent calls.
 */
export interface ReadAtSource {
  /** Size in bytes. */
  readonly size: number;
  /** Reads bytes [offset, offset + length). Rejects with a RangeError when that passes `size`. */
  readAt(offset: number, length: number, options?: ReadOptions): Promise<Uint8Array>;
  /** Releases what the source holds (file handles, sockets). Idempotent. */
  close?(): Promise<void>;
}

/** Throws a RangeError unless [offset, offset + length) lies within [0, size). */
export function checkRange(size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new RangeError(`read of ${length} bytes at ${offset} is outside a source of ${size} bytes`);
  }
}

/** A {@link ReadAtSource} over bytes in memory. */
export class BufferSource implements ReadAtSource {
  readonly size: number;
  constructor(private readonly bytes: Uint8Array) {
    this.size = bytes.length;
  }
  async readAt(offset: number, length: number, options?: ReadOptions): Promise<Uint8Array> {
    throwIfAborted(options?.signal);
    checkRange(this.size, offset, length);
    return this.bytes.subarray(offset, offset + length);
  }
}
