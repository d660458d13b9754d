// Fetch each byte once within a process (issue 11): reads of every file of a lazily opened image,
// 64 at a time in random order or one after another, cost at most 1.02x the compressed layers,
// measured by the fault proxy's byte counter in front of the real registry; a file across span
// boundaries costs its spans once, in one request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryCache } from '../src/cache/memory-cache.js';
import { openImage } from '../src/open/open-image.js';
import type { ImageFsEvent } from '../src/open/events.js';
import type { FaultProxy } from '../src/testing/registry/index.js';
import type { BuiltImage } from '../src/testing/builder/index.js';
import { layerBytes, PLATFORM, REPO, startFetchFixture, type FetchFixture, sentByLayers } from './fetch-fixture.js';

let fx: FetchFixture;
let proxy: FaultProxy;
let image: BuiltImage;
let files: Map<string, Uint8Array>;

beforeAll(async () => {
  fx = await startFetchFixture('fetch-once');
  ({ proxy, image, files } = fx);
}, 120_000);

afterAll(async () => {
  await fx?.stop();
});

function layerBytesSent(): number {
  return sentByLayers(proxy, image);
}

/** A seeded shuffle (mulberry32), so the order is random but the same on every run. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let a = seed;
  const next = (): number => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function readAll(fs: Awaited<ReturnType<typeof openImage>>, paths: readonly string[], readers: number): Promise<void> {
  const queue = [...paths];
  await Promise.all(Array.from({ length: readers }, async () => {
    for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
      const got = await fs.readFile(p);
      expect(Buffer.compare(got, Buffer.from(files.get(p)!)), p).toBe(0);
    }
  }));
}

describe('fetch once within a process', () => {
  it('64 readers of every file in random order fetch each layer byte at most 1.02x, every byte right', async () => {
    const events: ImageFsEvent[] = [];
    proxy.reset();
    const fs = await openImage(`${proxy.host}/${REPO}:v1`, { platform: PLATFORM, onImageEvent: (e) => events.push(e) });
    expect(events.filter((e) => e.type === 'layer').map((e) => e.type === 'layer' && e.mode)).toEqual(['lazy', 'lazy', 'lazy']);
    const opened = layerBytesSent();
    await readAll(fs, shuffled([...files.keys()], 11), 64);
    const sent = layerBytesSent() - opened;
    expect(sent).toBeGreaterThan(0.9 * layerBytes(image));
    expect(sent).toBeLessThanOrEqual(1.02 * layerBytes(image));
    // read everything again: nothing travels
    const again = proxy.counters.bytesOut;
    await readAll(fs, shuffled([...files.keys()], 12), 64);
    expect(proxy.counters.bytesOut - again).toBe(0);
    await fs.close();
  }, 120_000);

  it('one reader in path order with small memory caches: each span once, in few requests (readahead)', async () => {
    proxy.reset();
    const small = { spanCache: new MemoryCache({ maxBytes: 1 << 20 }), compressedCache: new MemoryCache({ maxBytes: 4 << 20 }) };
    const fs = await openImage(`${proxy.host}/${REPO}:v1`, { platform: PLATFORM, ...small });
    const opened = layerBytesSent();
    const blobRequests = proxy.log.filter((r) => r.kind === 'blob').length;
    await readAll(fs, [...files.keys()].sort(), 1);
    const sent = layerBytesSent() - opened;
    expect(sent).toBeLessThanOrEqual(1.02 * layerBytes(image));
    // ~30 spans of 256 KiB in the big layer; readahead doubles, so far fewer requests than spans
    const requests = proxy.log.filter((r) => r.kind === 'blob').length - blobRequests;
    expect(requests).toBeLessThan(20);
    await fs.close();
    await small.spanCache.close();
    await small.compressedCache.close();
  }, 120_000);

  it('a file across span boundaries costs its spans once, in one request; concurrent readers share it', async () => {
    proxy.reset();
    const fs = await openImage(`${proxy.host}/${REPO}:v1`, { platform: PLATFORM });
    const stat = await fs.stat('/a/zcross.bin');
    expect(stat.size).toBe(700_000);
    const mark = proxy.log.length;
    const reads = await Promise.all(Array.from({ length: 8 }, () => fs.readFile('/a/zcross.bin')));
    for (const r of reads) expect(Buffer.compare(r, Buffer.from(files.get('/a/zcross.bin')!))).toBe(0);
    const requests = proxy.log.slice(mark).filter((r) => r.kind === 'blob');
    expect(requests).toHaveLength(1);
    expect(requests[0]!.status).toBe(206);
    // the request covers the spans holding the file and no more: ~700 KB of random data, < 4 spans
    expect(requests[0]!.bytesOut).toBeGreaterThanOrEqual(700_000);
    expect(requests[0]!.bytesOut).toBeLessThan(700_000 + 2 * 256 * 1024 + 4096);
    // the same file again, then its neighbours inside the same spans: nothing more travels
    const after = proxy.counters.bytesOut;
    await fs.readFile('/a/zcross.bin');
    expect(proxy.counters.bytesOut).toBe(after);
    await fs.close();
  }, 60_000);
});
