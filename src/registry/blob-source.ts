import { ImageError, throwIfAborted } from '../errors/image-fs-error.js';
import type { Descriptor } from '../image/types.js';
import { checkRange, type ReadAtSource, type ReadOptions } from '../source/read-at.js';
import { fetchRangeFrom } from './blob-fetch.js';
import { RangeCoalescer } from './coalescer.js';
import { withPullEndpoints, type RegistryContext } from './context.js';
import type { ImageReference } from './reference.js';

/**
 * Random access to one registry blob through HTTP Range requests. `size` is the descriptor's.
 * Concurrent reads of the same or overlapping bytes share requests and adjacent reads merge;
 * mirrors are tried first and the endpoint that last answered is kept.
 * Bytes are not verified here: whole-blob readers use `readBlobVerified`, lazy readers verify
 * spans against a trusted index.
 *
 * @example
 * ```ts
 * const blob = await source.openBlob(layer);
 * const head = await blob.readAt(0, 512);
 * ```
 */
export class RegistryBlob implements ReadAtSource {
  /** Size in bytes, from the descriptor. */
  readonly size: number;
  /** The blob's descriptor. */
  readonly descriptor: Descriptor;
  private readonly coalescer: RangeCoalescer;
  private endpointIndex = 0;
  private closed = false;

  /** @internal Made by `RegistryClient.openBlob` / `RegistrySource.openBlob`. */
  constructor(ctx: RegistryContext, ref: ImageReference, descriptor: Descriptor) {
    this.descriptor = descriptor;
    this.size = descriptor.size;
    this.coalescer = new RangeCoalescer(
      (start, end, signal) => withPullEndpoints(ctx, ref, async (endpoint, index) => {
        const bytes = await fetchRangeFrom(ctx, endpoint, ref, descriptor, start, end, signal);
        this.endpointIndex = index;
        return bytes;
      }, this.endpointIndex),
      { mergeGapBytes: ctx.options.mergeGapBytes, maxMergedBytes: ctx.options.maxMergedBytes },
    );
  }

  /** Reads exactly `length` bytes at `offset`, or rejects (RangeError outside the blob). */
  async readAt(offset: number, length: number, options: ReadOptions = {}): Promise<Uint8Array> {
    throwIfAborted(options.signal);
    checkRange(this.size, offset, length);
    if (this.closed) throw new ImageError('FailedPrecondition', `blob ${this.descriptor.digest} was read after close()`, { hint: 'open the blob again' });
    return this.coalescer.read(offset, length, options.signal);
  }

  /** Marks the blob closed (the connection pools belong to the client). Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
  }
}
