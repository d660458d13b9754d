import { ImageError } from '../errors/image-fs-error.js';
import { ContentCheck } from './content-check.js';
import type { CacheKey } from './keys.js';
import type { CacheCreateOptions, CacheWriter } from './types.js';

/**
 * A {@link CacheWriter} that verifies the bytes and gathers entries of up to `keepUpTo` bytes in
 * memory; on a verified commit it hands the entry to `publish` (`undefined` when it was larger, so
 * not kept). Used by the memory cache and by the no-op cache (`keepUpTo` 0: verify and discard).
 *
 * @example
 * ```ts
 * const w = new BufferedWriter(validateCacheKey(key), {}, (bytes) => bytes && map.set(key, bytes), 1 << 20);
 * ```
 */
export class BufferedWriter implements CacheWriter {
  private readonly check: ContentCheck;
  private chunks: Uint8Array[] = [];
  /** With a known size, one buffer filled in place: a single copy instead of two. */
  private whole: Uint8Array | undefined;
  private state: 'open' | 'committed' | 'aborted' = 'open';
  private keep: boolean;

  /**
   * @param key - the validated key
   * @param options - the checks to make at commit
   * @param publish - called once with the verified bytes, or `undefined` when they were not kept
   * @param keepUpTo - the largest entry kept, in bytes (0: verify and discard everything)
   * @param onDone - called once when the writer commits or aborts
   */
  constructor(
    key: CacheKey,
    options: CacheCreateOptions,
    private readonly publish: (bytes: Uint8Array | undefined) => void,
    private readonly keepUpTo: number,
    private readonly onDone?: (writer: BufferedWriter) => void,
  ) {
    this.check = new ContentCheck(key, options);
    this.keep = keepUpTo > 0 && (options.expectedSize === undefined || options.expectedSize <= keepUpTo);
    if (this.keep && options.expectedSize !== undefined) this.whole = new Uint8Array(options.expectedSize);
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.assertOpen('write');
    try {
      this.check.update(chunk);
    } catch (error) {
      await this.abort();
      throw error;
    }
    if (!this.keep || chunk.length === 0) return;
    if (this.check.size > this.keepUpTo) {
      this.keep = false;
      this.chunks = [];
      this.whole = undefined;
      return;
    }
    if (this.whole !== undefined) this.whole.set(chunk, this.check.size - chunk.length);
    else this.chunks.push(chunk.slice());
  }

  async commit(): Promise<void> {
    this.assertOpen('commit');
    try {
      this.check.verify();
    } catch (error) {
      await this.abort();
      throw error;
    }
    const bytes = !this.keep ? undefined : (this.whole ?? concat(this.chunks, this.check.size));
    this.chunks = [];
    this.whole = undefined;
    this.state = 'committed';
    this.onDone?.(this);
    this.publish(bytes);
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    this.chunks = [];
    this.whole = undefined;
    this.onDone?.(this);
  }

  private assertOpen(call: string): void {
    if (this.state !== 'open') {
      throw new ImageError('FailedPrecondition', `cannot ${call}: the cache writer was already ${this.state}`, {
        hint: 'create a new writer for another attempt',
      });
    }
  }
}

/** Joins chunks into one array of `size` bytes (no copy for a single chunk). */
export function concat(chunks: readonly Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1 && chunks[0]!.length === size) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
