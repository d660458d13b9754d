// Keep it (issue 11): with a disk cache, verified compressed spans persist across processes; a
// second process reading the same files fetches no layer byte (<= 64 KiB of manifests). A corrupt
// or foreign cache file, a read-only cache directory and a full disk keep reads correct.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskCache } from '../src/cache/disk-cache.js';
import { BlobCacheIndexCache } from '../src/index-store/local-index-cache.js';
import { openImage } from '../src/open/open-image.js';
import type { ImageFsEvent } from '../src/open/events.js';
import type { FaultProxy } from '../src/testing/registry/index.js';
import type { BuiltImage } from '../src/testing/builder/index.js';
import { PLATFORM, REPO, startFetchFixture, type FetchFixture, sentByLayers } from './fetch-fixture.js';

const root = join(__dirname, '..');
const PATHS = ['/a/zcross.bin', '/a/f010', '/a/f200', '/p/g03', '/s/h07'];
let fx: FetchFixture;
let tmp: FetchFixture['tmp'];
let proxy: FaultProxy;
let image: BuiltImage;
let files: Map<string, Uint8Array>;

beforeAll(async () => {
  fx = await startFetchFixture('fetch-persist');
  ({ tmp, proxy, image, files } = fx);
}, 120_000);

afterAll(async () => {
  await fx?.stop();
});

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function layerBytesSent(): number {
  return sentByLayers(proxy, image);
}

/** Runs test/fetch-child.ts in another process and returns its JSON line. */
async function child(cacheDir: string, ...args: string[]): Promise<{ files: Record<string, string> }> {
  const proc = spawn(join(root, 'node_modules/.bin/tsx'), [join(root, 'test/fetch-child.ts'), `${proxy.host}/${REPO}:v1`, cacheDir, ...args], { cwd: root });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  proc.stdout.on('data', (c: Buffer) => out.push(c));
  proc.stderr.on('data', (c: Buffer) => err.push(c));
  const code = await new Promise((resolve) => proc.on('close', resolve));
  expect(Buffer.concat(err).toString()).toBe('');
  expect(code).toBe(0);
  return JSON.parse(Buffer.concat(out).toString().trim().split('\n').at(-1)!) as { files: Record<string, string> };
}

async function readWith(cacheDir: string, events: ImageFsEvent[] = []): Promise<void> {
  const cache = await DiskCache.open(cacheDir);
  const fs = await openImage(`${proxy.host}/${REPO}:v1`, { platform: PLATFORM, cache, indexCache: new BlobCacheIndexCache(cache), onImageEvent: (e) => events.push(e) });
  for (const p of PATHS) expect(sha(await fs.readFile(p)), p).toBe(sha(files.get(p)!));
  await fs.close();
  await cache.close();
}

describe('a disk cache keeps verified spans across processes', () => {
  const cacheDir = (): string => join(tmp.path, 'cache');

  it('a second process reading the same files fetches no layer byte and <= 64 KiB in all', async () => {
    proxy.reset();
    const first = await child(cacheDir(), 'read', ...PATHS);
    for (const p of PATHS) expect(first.files[p]).toBe(sha(files.get(p)!));
    expect(layerBytesSent()).toBeGreaterThan(700_000);
    const names = await readdir(join(cacheDir(), 'other'));
    expect(names.some((n) => n.startsWith('blob-range%2F'))).toBe(true);
    proxy.reset();
    const second = await child(cacheDir(), 'read', ...PATHS);
    expect(second.files).toEqual(first.files);
    expect(layerBytesSent()).toBe(0);
    expect(proxy.counters.bytesOut).toBeLessThanOrEqual(64 * 1024);
  }, 120_000);

  it('a corrupted span entry is detected by its digest, fetched again and replaced', async () => {
    const dir = join(cacheDir(), 'other');
    const spans = (await readdir(dir)).filter((n) => n.startsWith('blob-range%2F'));
    for (const name of spans) {
      const bytes = await readFile(join(dir, name));
      bytes[bytes.length >> 1] ^= 0x55;
      await writeFile(join(dir, name), bytes);
    }
    proxy.reset();
    const first: ImageFsEvent[] = [];
    await readWith(cacheDir(), first);
    const refetched = layerBytesSent();
    expect(refetched).toBeGreaterThan(0);
    // every span a read needed was a miss (its entry failed its digest), counted in compressed bytes
    const misses = first.filter((e) => e.type === 'cache-miss');
    expect(misses.length).toBeGreaterThan(0);
    expect(first.filter((e) => e.type === 'cache-hit' && e.from === 'disk')).toEqual([]);
    expect(misses.reduce((n, e) => n + (e.type === 'cache-miss' ? e.bytes : 0), 0)).toBe(refetched);
    expect(first.find((e) => e.type === 'streaming')).toMatchObject({ lazy: 3, layers: 3 });
    proxy.reset();
    const second: ImageFsEvent[] = [];
    await readWith(cacheDir(), second);
    expect(layerBytesSent()).toBe(0);
    // ... and now each is a hit on disk, the same spans
    expect(second.filter((e) => e.type === 'cache-miss')).toEqual([]);
    const key = (e: ImageFsEvent): string => ('span' in e && 'layer' in e ? `${e.layer}/${e.span}` : '');
    expect(second.filter((e) => e.type === 'cache-hit' && e.from === 'disk').map(key).sort()).toEqual(misses.map(key).sort());
  }, 60_000);

  it('foreign files in the cache directories are ignored; reads stay correct', async () => {
    await writeFile(join(cacheDir(), 'other', 'not-ours'), 'junk');
    await writeFile(join(cacheDir(), 'blobs', 'sha256', 'f'.repeat(64)), 'junk');
    await writeFile(join(cacheDir(), 'tmp', 'x.part'), 'junk');
    proxy.reset();
    await readWith(cacheDir());
    expect(layerBytesSent()).toBe(0);
  }, 60_000);

  it('a read-only cache directory: reads stay correct, from the network, with one warning', async () => {
    const ro = join(tmp.path, 'ro-cache');
    await (await DiskCache.open(ro)).close();
    execFileSync('mount', ['--bind', ro, ro]);
    try {
      execFileSync('mount', ['-o', 'remount,bind,ro', ro]);
      const events: ImageFsEvent[] = [];
      proxy.reset();
      await readWith(ro, events);
      expect(layerBytesSent()).toBeGreaterThan(700_000);
      const warnings = events.filter((e) => e.type === 'cache-warning');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.type === 'cache-warning' && warnings[0]!.message).toMatch(/EROFS|read-only/);
    } finally {
      execFileSync('umount', [ro]);
    }
  }, 60_000);

  it('a full disk (ENOSPC): reads stay correct, from the network, with one warning', async () => {
    const full = join(tmp.path, 'full-cache');
    await mkdir(full);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=128k', 'tmpfs', full]);
    try {
      const events: ImageFsEvent[] = [];
      proxy.reset();
      await readWith(full, events);
      expect(layerBytesSent()).toBeGreaterThan(700_000);
      const warnings = events.filter((e) => e.type === 'cache-warning');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.type === 'cache-warning' && warnings[0]!.message).toMatch(/ENOSPC|space/);
    } finally {
      execFileSync('umount', [full]);
    }
  }, 60_000);
});
