import type { ReadAtSource, ReadOptions } from '../source/read-at.js';

/**
 * The contract every imagefs cache implements: a small key → bytes store whose entries are
 * immutable once committed. Modelled on stargz-snapshotter's cache (Add/Get/Close with a writer
 * that commits or aborts).
 *
 * Rules every implementation keeps (checked by `runCacheConformance`):
 * - Keys follow the grammar of {@link validateCacheKey}; any other key rejects with
 *   `InvalidArgument` on every method, before touching storage.
 * - An entry becomes visible only when its writer's {@link CacheWriter.commit} resolves; a `get`
 *   sees either nothing or the whole entry, never part of it.
 * - `commit()` verifies the bytes: a digest key (`sha256:<hex>`) must hash to itself, and
 *   `expectedDigest` / `expectedSize` when given must match. A mismatch rejects with `DataLoss` and
 *   leaves nothing in the cache.
 * - The first committed entry of a key wins: a later commit of the same key succeeds and keeps
 *   the existing entry (keys name immutable content).
 * - A cache may drop entries at any time (eviction), so a `get` after `commit` can miss.
 * - After {@link BlobCache.close} every method rejects with `FailedPrecondition`; sources already
 *   returned by `get` keep working until closed.
 *
 * @example
 * ```ts
 * const w = await cache.create('sha256:2c26b4...', { expectedSize: 3 });
 * await w.write(new TextEncoder().encode('foo'));
 * await w.commit();
 * const src = await cache.get('sha256:2c26b4...'); // ReadAtSource of 3 bytes
 * await src?.close?.();
 * ```
 */
export interface BlobCache {
  /**
   * The entry stored under `key`, as a sized random-access source, or `undefined` on a miss.
   * Close the source when done (a disk cache's source holds a file handle).
   */
  get(key: string, options?: ReadOptions): Promise<ReadAtSource | undefined>;
  /** Whether `key` is stored right now (a later `get` can still miss after an eviction). */
  has(key: string): Promise<boolean>;
  /** Starts writing the entry `key`. Nothing is visible until the writer commits. */
  create(key: string, options?: CacheCreateOptions): Promise<CacheWriter>;
  /** Removes the entry `key`; removing a missing key succeeds. */
  delete(key: string): Promise<void>;
  /** Releases what the cache holds and aborts writers still open. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link BlobCache.create}. */
export interface CacheCreateOptions {
  /**
   * The digest the bytes must hash to, `sha256:<64 hex>` or `sha512:<128 hex>`. A digest key is
   * always checked against itself; this adds a check (for derived keys, typically).
   */
  expectedDigest?: string;
  /** The exact number of bytes the entry must have. Writing more fails at once with `DataLoss`. */
  expectedSize?: number;
}

/**
 * Receives the bytes of one entry, then either {@link CacheWriter.commit}s them (atomically) or
 * {@link CacheWriter.abort}s (nothing remains). Calls must not overlap: await each `write`.
 */
export interface CacheWriter {
  /** Appends a chunk. The writer copies or consumes it before resolving; the caller may reuse it. */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Verifies the bytes (digest key, `expectedDigest`, `expectedSize`) and publishes the entry in one
   * atomic step. On a mismatch it rejects with `DataLoss` and removes everything it wrote.
   */
  commit(): Promise<void>;
  /** Drops what was written. Idempotent; harmless after `commit`. */
  abort(): Promise<void>;
}
