import { totalmem } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ESCAPING_KEYS, fixtureBytes } from '../src/testing/cache-conformance.js';
import { sha256Digest } from '../src/testing/builder/digest.js';
import { derivedKeyFileName, getOrFetch, MemoryCache, NoCache, TieredCache, validateCacheKey, type BlobCache } from '../src/cache/index.js';
import { imageStreamingMemoryReservation } from '../src/eligibility/memory-reservation.js';

const hex = 'ab'.repeat(32);

async function put(cache: BlobCache, key: string, bytes: Uint8Array): Promise<void> {
  const w = await cache.create(key);
  await w.write(bytes);
  await w.commit();
}

describe('cache key grammar', () => {
  it('accepts digests and derived keys and says which is which', () => {
    expect(validateCacheKey(`sha256:${hex}`)).toEqual({ kind: 'digest', key: `sha256:${hex}`, digest: { algorithm: 'sha256', hex } });
    expect(validateCacheKey(`sha512:${hex}${hex}`).kind).toBe('digest');
    for (const key of [`span/sha256:${hex}/12`, `layer-tar/sha256:${hex}`, 'index', 'a.b_c-d/X+y=z@1']) {
      expect(validateCacheKey(key).kind).toBe('derived');
    }
  });

  it('rejects keys that escape or break the grammar with InvalidArgument naming the problem', () => {
    for (const key of [...ESCAPING_KEYS, `sha256:${hex}0`, 'x'.repeat(513), 'a/b c', 'a/\u0001']) {
      let caught: { code?: string; message?: string } = {};
      try {
        validateCacheKey(key);
      } catch (e) {
        caught = e as typeof caught;
      }
      expect([key, caught.code]).toEqual([key, 'InvalidArgument']);
      expect(caught.message).toMatch(/^invalid cache key/);
    }
  });

  it('maps derived keys one-to-one onto single safe file names', () => {
    const keys = ['a/b', 'a%2Fb', 'a_2Fb', `span/sha256:${hex}/1`, `span/sha256:${hex}/10`, 'x/' + 'y'.repeat(300), 'x/' + 'y'.repeat(301)];
    const names = keys.map(derivedKeyFileName);
    expect(new Set(names).size).toBe(keys.length);
    for (const name of names) {
      expect(name.includes('/') || name.startsWith('.') || name.length > 200).toBe(false);
    }
    expect(derivedKeyFileName('layer-tar/sha256:ab')).toBe('layer-tar%2Fsha256%3Aab');
    expect(names[5]!).toMatch(/^~[0-9a-f]{64}$/);
  });
});

describe('MemoryCache bound', () => {
  it('defaults to GKE\'s image streaming reservation for this machine', () => {
    expect(new MemoryCache().maxBytes).toBe(imageStreamingMemoryReservation(totalmem()));
  });

  it('drops least recently used entries past maxBytes and does not keep an entry larger than the bound', async () => {
    const cache = new MemoryCache({ maxBytes: 100 });
    const [a, b, c] = [1, 2, 3].map((s) => fixtureBytes(40, s));
    await put(cache, sha256Digest(a!), a!);
    await put(cache, sha256Digest(b!), b!);
    await cache.get(sha256Digest(a!));
    await put(cache, sha256Digest(c!), c!);
    expect([await cache.has(sha256Digest(a!)), await cache.has(sha256Digest(b!)), await cache.has(sha256Digest(c!))]).toEqual([true, false, true]);
    expect(cache.size).toBe(80);
    const big = fixtureBytes(101, 4);
    await put(cache, sha256Digest(big), big);
    expect(await cache.has(sha256Digest(big))).toBe(false);
    const w = await cache.create(sha256Digest(big), { expectedSize: 101 }); // too big to keep, still verified
    await w.write(fixtureBytes(101, 99));
    expect(await w.commit().then(() => 'resolved', (e: { code: string }) => e.code)).toBe('DataLoss');
    await cache.close();
  });

  it('keeps nothing with maxBytes 0 and refuses invalid bounds with a TypeError naming the field', async () => {
    const cache = new MemoryCache({ maxBytes: 0 });
    const bytes = fixtureBytes(10, 5);
    await put(cache, sha256Digest(bytes), bytes);
    expect(await cache.get(sha256Digest(bytes))).toBe(undefined);
    expect(() => new MemoryCache({ maxBytes: 1.5 })).toThrow(/maxBytes/);
    expect(() => new MemoryCache({ maxBytes: -1 })).toThrow(TypeError);
  });
});

describe('getOrFetch when the cache does not keep the entry', () => {
  it('serves the fetched bytes from its bounded copy, and says ResourceExhausted past that bound', async () => {
    const bytes = fixtureBytes(5000, 6);
    const key = sha256Digest(bytes);
    const tiny = new MemoryCache({ maxBytes: 1000 });
    const src = await getOrFetch(tiny, key, async (w) => { await w.write(bytes); });
    expect(Buffer.from(await src.readAt(0, src.size)).equals(Buffer.from(bytes))).toBe(true);
    const error = await getOrFetch(new NoCache(), key, async (w) => { await w.write(bytes); }, { fallbackMaxBytes: 4999 })
      .catch((e: { code: string }) => e);
    expect((error as { code: string }).code).toBe('ResourceExhausted');
  });

  it('lets a fetch that commits or aborts its writer itself behave sensibly', async () => {
    const bytes = fixtureBytes(100, 7);
    const cache = new MemoryCache({ maxBytes: 1 << 20 });
    const src = await getOrFetch(cache, sha256Digest(bytes), async (w) => { await w.write(bytes); await w.commit(); });
    expect(src.size).toBe(100);
    const other = fixtureBytes(100, 8);
    const error = await getOrFetch(cache, sha256Digest(other), async (w) => { await w.abort(); }).catch((e: { code: string }) => e);
    expect((error as { code: string }).code).toBe('Aborted');
    expect(await cache.has(sha256Digest(other))).toBe(false);
  });
});

describe('TieredCache', () => {
  it('writes small entries through to the front, keeps large ones in the back, and copies small ones up on read', async () => {
    const front = new MemoryCache({ maxBytes: 1 << 20 });
    const back = new MemoryCache({ maxBytes: 1 << 20 });
    const cache = new TieredCache(front, back, { promoteMaxBytes: 100 });
    const [small, large] = [fixtureBytes(100, 9), fixtureBytes(101, 10)];
    await put(cache, sha256Digest(small), small);
    await put(cache, sha256Digest(large), large);
    expect([await front.has(sha256Digest(small)), await back.has(sha256Digest(small))]).toEqual([true, true]);
    expect([await front.has(sha256Digest(large)), await back.has(sha256Digest(large))]).toEqual([false, true]);
    const later = fixtureBytes(50, 11);
    await put(back, sha256Digest(later), later);
    const src = await cache.get(sha256Digest(later));
    expect(Buffer.from(await src!.readAt(0, 50)).equals(Buffer.from(later))).toBe(true);
    expect(await front.has(sha256Digest(later))).toBe(true);
    expect(() => new TieredCache(front, back, { promoteMaxBytes: -1 })).toThrow(/promoteMaxBytes/);
    await cache.close();
  });
});
