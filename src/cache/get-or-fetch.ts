import { aborted, ImageError, throwIfAborted } from '../errors/image-fs-error.js';
import { BufferSource, type ReadAtSource } from '../source/read-at.js';
import { concat } from './buffered-writer.js';
import { validateCacheKey } from './keys.js';
import type { BlobCache, CacheCreateOptions, CacheWriter } from './types.js';

/**
 * Fills a cache entry: write the bytes to `writer` (awaiting each write) and resolve; reject to
 * give up. {@link getOrFetch} commits or aborts the writer itself. Stop when `signal` fires (every
 * caller waiting for this fetch has given up).
 */
export type CacheFetch = (writer: CacheWriter, signal: AbortSignal) => Promise<void>;

/** Options of {@link getOrFetch}. */
export interface GetOrFetchOptions extends CacheCreateOptions {
  /** Cancels this caller's wait; the shared fetch stops only when every waiting caller has aborted. */
  signal?: AbortSignal;
  /**
   * Up to this many bytes of a fetch are also kept in memory, so the result can be served when the
   * cache does not keep the entry (a {@link NoCache}, an entry too big for a memory cache).
   * Default 16 MiB. A larger entry that the cache drops rejects with `ResourceExhausted`.
   */
  fallbackMaxBytes?: number;
}

interface Flight {
  /** Resolves with the fallback bytes (undefined when they passed the bound) once committed. */
  done: Promise<Uint8Array | undefined>;
  controller: AbortController;
  waiters: number;
}

const DEFAULT_FALLBACK = 16 * 1024 * 1024;
const flights = new WeakMap<BlobCache, Map<string, Flight>>();

/**
 * Returns the entry `key` from `cache`, fetching it first on a miss. Concurrent calls for the same
 * cache and key share one fetch (single flight; the first caller's options apply to it). A failed
 * fetch is not remembered: the next call fetches again. Each caller's `signal` cancels only its
 * own wait; the shared fetch is cancelled when all its callers have aborted.
 *
 * The entry is verified on commit as {@link BlobCache.create} says (digest key, `expectedDigest`,
 * `expectedSize`). The caller closes the returned source.
 *
 * @example
 * ```ts
 * const src = await getOrFetch(cache, layer.digest, async (w, signal) => {
 *   for await (const chunk of registry.blobStream(layer, { signal })) await w.write(chunk);
 * }, { expectedSize: layer.size });
 * ```
 */
export async function getOrFetch(
  cache: BlobCache,
  key: string,
  fetch: CacheFetch,
  options: GetOrFetchOptions = {},
): Promise<ReadAtSource> {
  const { signal } = options;
  validateCacheKey(key);
  throwIfAborted(signal);
  const hit = await cache.get(key, { signal });
  if (hit !== undefined) return hit;
  let byKey = flights.get(cache);
  if (byKey === undefined) flights.set(cache, (byKey = new Map()));
  let flight = byKey.get(key);
  if (flight === undefined) {
    flight = startFlight(cache, byKey, key, fetch, options);
    byKey.set(key, flight);
  }
  const fallback = await wait(flight, byKey, key, signal);
  const source = await cache.get(key, { signal });
  if (source !== undefined) return source;
  if (fallback !== undefined) return new BufferSource(fallback);
  throw new ImageError('ResourceExhausted', `the cache did not keep ${key} and it is larger than fallbackMaxBytes`, {
    subject: key,
    hint: 'use a disk cache or a larger memory cache, or raise fallbackMaxBytes',
  });
}

function startFlight(cache: BlobCache, byKey: Map<string, Flight>, key: string, fetch: CacheFetch, options: GetOrFetchOptions): Flight {
  const controller = new AbortController();
  const limit = options.fallbackMaxBytes ?? DEFAULT_FALLBACK;
  const flight: Flight = { done: Promise.resolve(undefined), controller, waiters: 0 };
  flight.done = (async () => {
    try {
      const writer = await cache.create(key, { expectedDigest: options.expectedDigest, expectedSize: options.expectedSize });
      const tee = new TeeWriter(writer, limit);
      try {
        await fetch(tee, controller.signal);
        if (tee.abandoned) throw aborted(controller.signal);
        throwIfAborted(controller.signal);
        await writer.commit();
      } catch (error) {
        await writer.abort();
        throw error;
      }
      return tee.bytes();
    } finally {
      if (byKey.get(key) === flight) byKey.delete(key);
    }
  })();
  flight.done.catch(() => {}); // waiters see the error; none may be left
  return flight;
}

async function wait(flight: Flight, byKey: Map<string, Flight>, key: string, signal: AbortSignal | undefined): Promise<Uint8Array | undefined> {
  flight.waiters++;
  if (signal === undefined) return flight.done;
  const leave = (): void => {
    flight.waiters--;
    if (flight.waiters > 0) return;
    if (byKey.get(key) === flight) byKey.delete(key);
    flight.controller.abort(signal.reason);
  };
  if (signal.aborted) {
    leave();
    throw aborted(signal);
  }
  let onAbort: (() => void) | undefined;
  const abortedWait = new Promise<never>((_, reject) => {
    onAbort = () => {
      leave();
      reject(aborted(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([flight.done, abortedWait]);
  } finally {
    signal.removeEventListener('abort', onAbort!);
  }
}

/** Passes writes to the cache's writer and keeps a bounded copy; commit and abort are only noted. */
class TeeWriter implements CacheWriter {
  abandoned = false;
  private chunks: Uint8Array[] | undefined = [];
  private size = 0;

  constructor(private readonly inner: CacheWriter, private readonly limit: number) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (this.abandoned) throw new ImageError('FailedPrecondition', 'cannot write: the fetch already aborted its writer');
    await this.inner.write(chunk);
    this.size += chunk.length;
    if (this.chunks === undefined) return;
    if (this.size > this.limit) this.chunks = undefined;
    else this.chunks.push(chunk.slice());
  }

  /** getOrFetch commits after the fetch resolves; a fetch's own commit is a no-op. */
  async commit(): Promise<void> {}

  async abort(): Promise<void> {
    this.abandoned = true;
  }

  bytes(): Uint8Array | undefined {
    return this.chunks === undefined ? undefined : concat(this.chunks, this.size);
  }
}
