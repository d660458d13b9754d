import { throwIfAborted } from '../errors/image-fs-error.js';
import type { ReadAtSource, ReadOptions } from '../source/read-at.js';
import { BufferedWriter } from './buffered-writer.js';
import { cacheClosed } from './closed.js';
import { validateCacheKey } from './keys.js';
import type { BlobCache, CacheCreateOptions, CacheWriter } from './types.js';

/**
 * A {@link BlobCache} that stores nothing (`--no-cache`). It still keeps the contract: keys are
 * validated, writers verify digests and sizes (a mismatch rejects with `DataLoss`), and `get`
 * always misses. With {@link getOrFetch} every read fetches again.
 *
 * @example
 * ```ts
 * const cache = new NoCache();
 * await cache.get('sha256:' + 'a'.repeat(64)); // undefined
 * ```
 */
export class NoCache implements BlobCache {
  private closed = false;
  private readonly writers = new Set<BufferedWriter>();

  async get(key: string, options?: ReadOptions): Promise<ReadAtSource | undefined> {
    this.assertOpen();
    validateCacheKey(key);
    throwIfAborted(options?.signal);
    return undefined;
  }

  async has(key: string): Promise<boolean> {
    this.assertOpen();
    validateCacheKey(key);
    return false;
  }

  async create(key: string, options: CacheCreateOptions = {}): Promise<CacheWriter> {
    this.assertOpen();
    const writer = new BufferedWriter(validateCacheKey(key), options, () => {}, 0, (w) => this.writers.delete(w));
    this.writers.add(writer);
    return writer;
  }

  async delete(key: string): Promise<void> {
    this.assertOpen();
    validateCacheKey(key);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.writers].map((w) => w.abort()));
  }

  private assertOpen(): void {
    if (this.closed) throw cacheClosed('the no-op cache');
  }
}
