import { ImageError, throwIfAborted } from '../errors/image-fs-error.js';
import type { Descriptor } from '../image/types.js';
import { checkRange, type ReadAtSource, type ReadOptions } from '../source/read-at.js';
import { fetchRangeFrom, MirrorFillingError } from './blob-fetch.js';

/** First wait before a mirror that answered a range with the whole blob is tried again. */
const MIRROR_BACKOFF_MS = 1000;
const MIRROR_BACKOFF_MAX_MS = 30_000;
const FILLING = new WeakMap<RegistryContext, Map<string, { retryAt: number; backoffMs: number; next: number }>>();
import { RangeCoalescer } from './coalescer.js';
import { withPullEndpoints, type RegistryContext } from './context.js';
import type { ImageReference } from './reference.js';

/**
 * Random access to one registry blob through HTTP Range requests. `size` is the descriptor's.
 * Concurrent reads of the same or overlapping bytes share requests and adjacent reads merge;
 * mirrors are tried first and the endpoint that last answered is kept. A mirror that answers a
 * range with 200 and the whole blob (a pull-through mirror filling its cache) is closed at once and
 * the range read from the next endpoint, at most `maxMergedBytes` per request meanwhile; the mirror
 * is tried again after a backoff (1 s, doubling to 30 s).
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
  /** Blobs whose mirror is filling its cache, shared by every blob of the client. */
  private readonly filling: Map<string, { retryAt: number; backoffMs: number; next: number }>;
  private closed = false;

  /** @internal Made by `RegistryClient.openBlob` / `RegistrySource.openBlob`. */
  constructor(ctx: RegistryContext, ref: ImageReference, descriptor: Descriptor) {
    this.descriptor = descriptor;
    this.size = descriptor.size;
    let filling = FILLING.get(ctx);
    if (filling === undefined) FILLING.set(ctx, (filling = new Map()));
    this.filling = filling;
    this.coalescer = new RangeCoalescer(
      async (start, end, signal) => {
        const parts: Uint8Array[] = [];
        for (let at = start; at < end;) {
          const part = await withPullEndpoints(ctx, ref, async (endpoint, index) => {
            // While a mirror fills its cache, the endpoints after it are asked for at most
            // maxMergedBytes at a time: the rest of a long read (a readahead) comes from the mirror
            // once the backoff is over, not from the upstream for seconds after the mirror has it.
            const filling = this.filling.get(descriptor.digest);
            const stop = filling !== undefined && index >= filling.next ? Math.min(end, at + ctx.options.maxMergedBytes) : end;
            let bytes: Uint8Array;
            try {
              bytes = await fetchRangeFrom(ctx, endpoint, ref, descriptor, at, stop, signal);
            } catch (error) {
              if (error instanceof MirrorFillingError) this.mirrorFilling(index);
              throw error;
            }
            this.endpointIndex = index;
            if (index === 0) this.filling.delete(descriptor.digest);
            return bytes;
          }, this.firstEndpoint());
          parts.push(part);
          at += part.length;
        }
        if (parts.length === 1) return parts[0]!;
        const out = new Uint8Array(end - start);
        let filled = 0;
        for (const p of parts) {
          out.set(p, filled);
          filled += p.length;
        }
        return out;
      },
      { mergeGapBytes: ctx.options.mergeGapBytes, maxMergedBytes: ctx.options.maxMergedBytes },
    );
  }

  /**
   * Where the next read starts: the endpoint that answered last, but back at the first mirror once
   * the backoff after a mirror that was filling its cache has passed.
   */
  private firstEndpoint(): number {
    const filling = this.filling.get(this.descriptor.digest);
    if (filling !== undefined && Date.now() < filling.retryAt) return Math.max(this.endpointIndex, filling.next);
    return filling !== undefined ? 0 : this.endpointIndex;
  }

  /**
   * A mirror answered 200 to a range: every reader of this blob through this client reads
   * elsewhere for a while, then tries the mirror again (1 s, doubling to 30 s).
   */
  private mirrorFilling(index: number): void {
    const current = this.filling.get(this.descriptor.digest);
    // Concurrent reads sent together each get a 200: the backoff doubles once per return to the
    // mirror, not once per read (five at once made it 16 s, all of it spent reading the upstream).
    if (current !== undefined && Date.now() < current.retryAt) return;
    const backoff = Math.min((current?.backoffMs ?? MIRROR_BACKOFF_MS / 2) * 2, MIRROR_BACKOFF_MAX_MS);
    this.filling.set(this.descriptor.digest, { retryAt: Date.now() + backoff, backoffMs: backoff, next: index + 1 });
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
