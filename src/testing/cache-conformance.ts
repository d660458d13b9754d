import { getOrFetch } from '../cache/get-or-fetch.js';
import type { BlobCache } from '../cache/types.js';
import { sha256Digest } from './builder/digest.js';
import { computeDigest } from '../image/digest.js';

/** The `expect` subset the suite uses; vitest's and jest's `expect` fit. */
export type ConformanceExpect = (actual: unknown) => {
  /** Asserts `Object.is` equality. */
  toBe(expected: unknown): void;
  /** Asserts deep equality. */
  toEqual(expected: unknown): void;
};

/** What {@link runCacheConformance} needs from the test runner, and what the cache can do. */
export interface ConformanceOptions {
  /** The runner's `describe`. */
  describe: (name: string, body: () => void) => void;
  /** The runner's `it` (or `test`). */
  it: (name: string, body: () => Promise<void>) => void;
  /** The runner's `expect`. */
  expect: ConformanceExpect;
  /** False for caches that keep nothing (`NoCache`): every `get` misses. Default true. */
  stores?: boolean;
}

/** Deterministic bytes (xorshift32) for fixtures. */
export function fixtureBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}


/** Keys that try to leave the cache or break the grammar; every method must reject them. */
export const ESCAPING_KEYS: readonly string[] = [
  '', '../x', 'a/../../b', '/etc/passwd', 'span/..', 'a\0b', 'span//x', 'span/x/', 'a\\..\\b',
  'sha256:abc', 'SHA256:' + 'a'.repeat(64), 'sha256:' + 'A'.repeat(64), 'span/ x', '.hidden', 'a/./b',
];

interface Deferred { promise: Promise<void>; resolve(): void; reject(e: unknown): void }
function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/**
 * Wraps `cache` so that `joined` resolves once `n` calls of `get` have returned and the callers'
 * synchronous continuations (getOrFetch joining its flight) have run.
 */
function afterGets(cache: BlobCache, n: number): { cache: BlobCache; joined: Promise<void> } {
  const done = deferred();
  let count = 0;
  const wrapped: BlobCache = {
    get: async (key, options) => {
      const result = await cache.get(key, options);
      if (++count === n) setImmediate(done.resolve);
      return result;
    },
    has: (key) => cache.has(key),
    create: (key, options) => cache.create(key, options),
    delete: (key) => cache.delete(key),
    close: () => cache.close(),
  };
  return { cache: wrapped, joined: done.promise };
}

/**
 * Registers the cache contract's test suite for one implementation: every rule of
 * {@link BlobCache} (round trips, ranges, verification, atomic commit, abort, concurrent writers,
 * delete, key grammar, {@link getOrFetch} single flight and cancellation, close). `makeCache` must
 * return a fresh, empty cache each time; the suite closes it. It imports no test runner: pass yours.
 *
 * @example
 * ```ts
 * import { describe, it, expect } from 'vitest';
 * runCacheConformance('MemoryCache', async () => new MemoryCache({ maxBytes: 1 << 24 }), { describe, it, expect });
 * ```
 */
export function runCacheConformance(name: string, makeCache: () => Promise<BlobCache>, options: ConformanceOptions): void {
  const { describe, it, expect } = options;
  const stores = options.stores ?? true;

  async function codeOf(promise: Promise<unknown>): Promise<unknown> {
    try {
      await promise;
      return 'resolved';
    } catch (error) {
      return (error as { code?: unknown }).code ?? (error as Error).name;
    }
  }
  async function put(cache: BlobCache, key: string, bytes: Uint8Array, chunk = 321): Promise<void> {
    const w = await cache.create(key);
    for (let at = 0; at < bytes.length; at += chunk) await w.write(bytes.subarray(at, at + chunk));
    await w.commit();
  }
  async function read(cache: BlobCache, key: string): Promise<Uint8Array | undefined> {
    const src = await cache.get(key);
    if (src === undefined) return undefined;
    try {
      return Uint8Array.from(await src.readAt(0, src.size));
    } finally {
      await src.close?.();
    }
  }
  async function withCache(body: (cache: BlobCache) => Promise<void>): Promise<void> {
    const cache = await makeCache();
    try {
      await body(cache);
    } finally {
      await cache.close();
    }
  }
  const test = (title: string, body: (cache: BlobCache) => Promise<void>): void => it(title, () => withCache(body));
  const expectStored = async (cache: BlobCache, key: string, bytes: Uint8Array): Promise<void> => {
    expect(await cache.has(key)).toBe(stores);
    const got = await read(cache, key);
    expect(got === undefined ? undefined : Buffer.from(got).equals(Buffer.from(bytes))).toBe(stores ? true : undefined);
  };
  const expectAbsent = async (cache: BlobCache, key: string): Promise<void> => {
    expect(await cache.has(key)).toBe(false);
    expect(await cache.get(key)).toBe(undefined);
  };

  describe(`${name} (BlobCache conformance)`, () => {
    test('round trip of a digest key: exact bytes and size', async (cache) => {
      const bytes = fixtureBytes(10_000, 7);
      const key = sha256Digest(bytes);
      await expectAbsent(cache, key);
      await put(cache, key, bytes);
      await expectStored(cache, key, bytes);
    });

    test('round trips of an empty entry, a sha512 key and a derived key with checks', async (cache) => {
      const empty = new Uint8Array(0);
      await put(cache, sha256Digest(empty), empty);
      await expectStored(cache, sha256Digest(empty), empty);
      const bytes = fixtureBytes(3000, 9);
      const key512 = computeDigest(bytes, 'sha512');
      await put(cache, key512, bytes, 1000);
      await expectStored(cache, key512, bytes);
      const derived = `span/${sha256Digest(fixtureBytes(10, 1))}/3`;
      const w = await cache.create(derived, { expectedDigest: sha256Digest(bytes), expectedSize: bytes.length });
      await w.write(bytes);
      await w.commit();
      await expectStored(cache, derived, bytes);
    });

    test('readAt serves any range and refuses reads past the end', async (cache) => {
      const bytes = fixtureBytes(50_000, 3);
      const key = sha256Digest(bytes);
      await put(cache, key, bytes, 4096);
      const src = await cache.get(key);
      expect(src === undefined).toBe(!stores);
      if (src === undefined) return;
      try {
        expect(src.size).toBe(bytes.length);
        for (const [offset, length] of [[0, 1], [bytes.length - 1, 1], [1234, 40_000], [bytes.length, 0], [4095, 2]] as const) {
          const got = await src.readAt(offset, length);
          expect(Buffer.from(got).equals(Buffer.from(bytes.subarray(offset, offset + length)))).toBe(true);
        }
        expect(await codeOf(src.readAt(bytes.length - 10, 11))).toBe('RangeError');
        expect(await codeOf(src.readAt(-1, 1))).toBe('RangeError');
      } finally {
        await src.close?.();
      }
    });

    test('commit rejects wrong bytes for a digest key with DataLoss and caches nothing', async (cache) => {
      const key = sha256Digest(fixtureBytes(100, 1));
      const w = await cache.create(key);
      await w.write(fixtureBytes(100, 2));
      expect(await codeOf(w.commit())).toBe('DataLoss');
      await expectAbsent(cache, key);
    });

    test('commit rejects an expectedDigest or expectedSize mismatch with DataLoss and caches nothing', async (cache) => {
      const bytes = fixtureBytes(500, 4);
      const w1 = await cache.create('layer-tar/a', { expectedDigest: sha256Digest(fixtureBytes(500, 5)) });
      await w1.write(bytes);
      expect(await codeOf(w1.commit())).toBe('DataLoss');
      await expectAbsent(cache, 'layer-tar/a');
      const w2 = await cache.create('layer-tar/b', { expectedSize: 501 });
      await w2.write(bytes);
      expect(await codeOf(w2.commit())).toBe('DataLoss');
      await expectAbsent(cache, 'layer-tar/b');
      const w3 = await cache.create('layer-tar/c', { expectedSize: 499 });
      expect(await codeOf(w3.write(bytes))).toBe('DataLoss');
      expect(await codeOf(w3.commit())).toBe('FailedPrecondition');
      await expectAbsent(cache, 'layer-tar/c');
    });

    test('create refuses malformed options with InvalidArgument', async (cache) => {
      expect(await codeOf(cache.create('x/1', { expectedDigest: 'md5:abc' }))).toBe('InvalidArgument');
      expect(await codeOf(cache.create('x/1', { expectedSize: -1 }))).toBe('InvalidArgument');
      const key = sha256Digest(fixtureBytes(8, 1));
      expect(await codeOf(cache.create(key, { expectedDigest: sha256Digest(fixtureBytes(8, 2)) }))).toBe('InvalidArgument');
    });

    test('abort leaves nothing and is idempotent; the writer is then closed', async (cache) => {
      const bytes = fixtureBytes(2000, 6);
      const key = sha256Digest(bytes);
      const w = await cache.create(key);
      await w.write(bytes);
      await w.abort();
      await w.abort();
      expect(await codeOf(w.commit())).toBe('FailedPrecondition');
      await expectAbsent(cache, key);
      await put(cache, key, bytes); // the key is still free
      await expectStored(cache, key, bytes);
    });

    test('a get during a write sees nothing, then the whole entry', async (cache) => {
      const bytes = fixtureBytes(8000, 8);
      const key = sha256Digest(bytes);
      const w = await cache.create(key);
      await w.write(bytes.subarray(0, 4000));
      await expectAbsent(cache, key);
      await w.write(bytes.subarray(4000));
      await expectAbsent(cache, key);
      await w.commit();
      await expectStored(cache, key, bytes);
    });

    test('concurrent writers of one key both commit; the first commit wins', async (cache) => {
      const bytes = fixtureBytes(6000, 10);
      const key = sha256Digest(bytes);
      const [a, b] = await Promise.all([cache.create(key), cache.create(key)]);
      await Promise.all([a.write(bytes.subarray(0, 3000)), b.write(bytes.subarray(0, 1000))]);
      await Promise.all([a.write(bytes.subarray(3000)), b.write(bytes.subarray(1000))]);
      await Promise.all([a.commit(), b.commit()]);
      await expectStored(cache, key, bytes);
      const first = fixtureBytes(100, 11);
      const [c, d] = await Promise.all([cache.create('other/k'), cache.create('other/k')]);
      await c.write(first);
      await d.write(fixtureBytes(200, 12));
      await c.commit();
      await d.commit();
      await expectStored(cache, 'other/k', first);
    });

    test('delete removes an entry; deleting a missing key succeeds', async (cache) => {
      const bytes = fixtureBytes(300, 13);
      const key = sha256Digest(bytes);
      await put(cache, key, bytes);
      await cache.delete(key);
      await expectAbsent(cache, key);
      await cache.delete(key);
      await cache.delete('span/never/0');
    });

    test('keys that try to escape or break the grammar are rejected by every method', async (cache) => {
      for (const key of ESCAPING_KEYS) {
        expect([key, await codeOf(cache.get(key))]).toEqual([key, 'InvalidArgument']);
        expect([key, await codeOf(cache.has(key))]).toEqual([key, 'InvalidArgument']);
        expect([key, await codeOf(cache.create(key))]).toEqual([key, 'InvalidArgument']);
        expect([key, await codeOf(cache.delete(key))]).toEqual([key, 'InvalidArgument']);
      }
    });

    test('getOrFetch: concurrent callers share one fetch; a later call hits the cache', async (cache) => {
      const bytes = fixtureBytes(20_000, 14);
      const key = sha256Digest(bytes);
      let calls = 0;
      const gate = deferred();
      const fetch = async (w: { write(c: Uint8Array): Promise<void> }): Promise<void> => {
        calls++;
        await gate.promise;
        await w.write(bytes);
      };
      const all = Promise.all(Array.from({ length: 5 }, () => getOrFetch(cache, key, fetch)));
      gate.resolve();
      const sources = await all;
      expect(calls).toBe(1);
      for (const src of sources) {
        expect(Buffer.from(await src.readAt(0, src.size)).equals(Buffer.from(bytes))).toBe(true);
        await src.close?.();
      }
      const again = await getOrFetch(cache, key, fetch);
      await again.close?.();
      expect(calls).toBe(stores ? 1 : 2);
    });

    test('getOrFetch: a failure reaches every waiter and is not cached', async (cache) => {
      const bytes = fixtureBytes(1000, 15);
      const key = sha256Digest(bytes);
      let calls = 0;
      const gate = deferred();
      const failing = async (): Promise<void> => {
        calls++;
        await gate.promise;
        throw Object.assign(new Error('boom'), { code: 'Unavailable' });
      };
      const both = Promise.all([codeOf(getOrFetch(cache, key, failing)), codeOf(getOrFetch(cache, key, failing))]);
      gate.resolve();
      expect(await both).toEqual(['Unavailable', 'Unavailable']);
      expect(calls).toBe(1);
      await expectAbsent(cache, key);
      const wrong = await codeOf(getOrFetch(cache, key, async (w) => { calls++; await w.write(fixtureBytes(1000, 16)); }));
      expect(wrong).toBe('DataLoss');
      await expectAbsent(cache, key);
      const src = await getOrFetch(cache, key, async (w) => { calls++; await w.write(bytes); });
      expect(src.size).toBe(1000);
      await src.close?.();
      expect(calls).toBe(3);
    });

    test('getOrFetch: one caller aborting does not cancel the shared fetch; all aborting does', async (cache) => {
      const bytes = fixtureBytes(4000, 17);
      const key = sha256Digest(bytes);
      const gate = deferred();
      const started = deferred();
      const seen: AbortSignal[] = [];
      const fetch = async (w: { write(c: Uint8Array): Promise<void> }, signal: AbortSignal): Promise<void> => {
        seen.push(signal);
        started.resolve();
        await gate.promise;
        if (signal.aborted) throw Object.assign(new Error('stopped'), { code: 'Aborted' });
        await w.write(bytes);
      };
      const quitter = new AbortController();
      const one = afterGets(cache, 2);
      const first = codeOf(getOrFetch(one.cache, key, fetch, { signal: quitter.signal }));
      const second = getOrFetch(one.cache, key, fetch);
      await one.joined;
      await started.promise;
      quitter.abort();
      expect(await first).toBe('Aborted');
      gate.resolve();
      const src = await second;
      expect(Buffer.from(await src.readAt(0, src.size)).equals(Buffer.from(bytes))).toBe(true);
      await src.close?.();
      expect(seen.length).toBe(1);
      expect(seen[0]!.aborted).toBe(false);

      const key2 = sha256Digest(fixtureBytes(10, 18));
      const gate2 = deferred();
      const started2 = deferred();
      let signal2: AbortSignal | undefined;
      const a = new AbortController();
      const b = new AbortController();
      const slow = async (_w: unknown, signal: AbortSignal): Promise<void> => {
        signal2 = signal;
        started2.resolve();
        await gate2.promise;
      };
      const two = afterGets(cache, 2);
      const pa = codeOf(getOrFetch(two.cache, key2, slow, { signal: a.signal }));
      const pb = codeOf(getOrFetch(two.cache, key2, slow, { signal: b.signal }));
      await two.joined;
      await started2.promise;
      a.abort();
      expect(await pa).toBe('Aborted');
      expect(signal2?.aborted).toBe(false);
      b.abort();
      expect(await pb).toBe('Aborted');
      expect(signal2?.aborted).toBe(true);
      gate2.resolve();
      await expectAbsent(cache, key2);
    });

    it('close: every method then rejects with FailedPrecondition; open writers are aborted; close is idempotent', async () => {
      const cache = await makeCache();
      const bytes = fixtureBytes(100, 19);
      const key = sha256Digest(bytes);
      const w = await cache.create(key);
      await w.write(bytes);
      await cache.close();
      await cache.close();
      expect(await codeOf(w.commit())).toBe('FailedPrecondition');
      expect(await codeOf(cache.get(key))).toBe('FailedPrecondition');
      expect(await codeOf(cache.has(key))).toBe('FailedPrecondition');
      expect(await codeOf(cache.create(key))).toBe('FailedPrecondition');
      expect(await codeOf(cache.delete(key))).toBe('FailedPrecondition');
    });
  });
}
