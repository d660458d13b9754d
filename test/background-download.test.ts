// Background download (issue 11): an image opened with `background: true` and a disk cache
// downloads its lazily read layers whole into the cache, verified, at lower priority than
// foreground reads; then reads use the local copy and a later open fetches no layer byte.
// A child killed with SIGKILL at seeded random points leaves a consistent cache.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskCache } from '../src/cache/disk-cache.js';
import { BlobCacheIndexCache } from '../src/index-store/local-index-cache.js';
import type { BackgroundDownload } from '../src/layer/background-download.js';
import { openImage } from '../src/open/open-image.js';
import type { ImageFsEvent } from '../src/open/events.js';
import type { FaultProxy } from '../src/testing/registry/index.js';
import type { BuiltImage } from '../src/testing/builder/index.js';
import { layerBytes, PLATFORM, REPO, startFetchFixture, type FetchFixture, sentByLayers } from './fetch-fixture.js';

const root = join(__dirname, '..');
const CRASH_RUNS = Number(process.env.IMAGEFS_CRASH_RUNS ?? 4);
let fx: FetchFixture;
let tmp: FetchFixture['tmp'];
let proxy: FaultProxy;
let image: BuiltImage;
let files: Map<string, Uint8Array>;

beforeAll(async () => {
  fx = await startFetchFixture('background');
  ({ tmp, proxy, image, files } = fx);
}, 120_000);

afterAll(async () => {
  await fx?.stop();
});

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function layerBytesSent(): number {
  return sentByLayers(proxy, image);
}

/** Every committed blob in the cache hashes to its name: nothing partial looks complete. */
async function assertConsistent(cacheDir: string): Promise<string[]> {
  const dir = join(cacheDir, 'blobs', 'sha256');
  const names = await readdir(dir);
  for (const name of names) expect(sha(await readFile(join(dir, name))), name).toBe(name);
  return names;
}

async function openCached(cacheDir: string, events: ImageFsEvent[], background: boolean) {
  const cache = await DiskCache.open(cacheDir);
  let download: BackgroundDownload | undefined;
  const fs = await openImage(`${proxy.host}/${REPO}:v1`, {
    platform: PLATFORM, cache, indexCache: new BlobCacheIndexCache(cache), background,
    onBackground: (d) => { download = d; }, onImageEvent: (e) => events.push(e),
  });
  return { fs, download, close: async () => { await fs.close(); await cache.close(); } };
}

async function readEverything(fs: Awaited<ReturnType<typeof openImage>>): Promise<void> {
  for (const [p, want] of files) expect(sha(await fs.readFile(p)), p).toBe(sha(want));
}

describe('background download into the disk cache', () => {
  it('downloads every lazy layer whole and verified; then reads and later opens fetch nothing', async () => {
    const cacheDir = join(tmp.path, 'bg');
    const events: ImageFsEvent[] = [];
    proxy.reset();
    const opened = await openCached(cacheDir, events, true);
    expect(opened.download).toBeDefined();
    await opened.fs.readFile('/a/f100'); // a foreground read while the download runs
    await opened.download!.done;
    const done = events.find((e) => e.type === 'downloaded');
    expect(done).toMatchObject({ bytes: layerBytes(image) });
    const progress = events.filter((e) => e.type === 'progress');
    expect(progress.length).toBeGreaterThan(3);
    expect(progress.at(-1)).toMatchObject({ bytes: layerBytes(image), total: layerBytes(image) });
    // each layer byte fetched about once, foreground and background together
    expect(layerBytesSent()).toBeLessThanOrEqual(1.02 * layerBytes(image));
    const blobs = await assertConsistent(cacheDir);
    for (const l of image.layers) expect(blobs).toContain(l.descriptor.digest.slice(7));
    expect((await readdir(join(cacheDir, 'other'))).filter((n) => n.startsWith('blob-range'))).toEqual([]);
    proxy.reset();
    await readEverything(opened.fs);
    expect(layerBytesSent()).toBe(0);
    await opened.close();

    const again = await openCached(cacheDir, [], true);
    await again.download!.done;
    await readEverything(again.fs);
    expect(layerBytesSent()).toBe(0);
    await again.close();
  }, 120_000);

  it(`a child killed with SIGKILL at ${CRASH_RUNS} seeded points leaves a consistent cache; the download resumes`, async () => {
    let seed = 20261207;
    const random = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const cacheDir = join(tmp.path, 'crash');
    let killedMidway = 0;
    proxy.setFaults({ bandwidth: { match: 'blob', bytesPerSecond: 6_000_000 } });
    try {
      for (let run = 0; run < CRASH_RUNS; run++) {
        // ~30 progress lines in all (one per span, one per layer): kills land in downloads and in the joins of blobs
        const killAt = Math.floor(random() * 32);
        const child = spawn(join(root, 'node_modules/.bin/tsx'), [join(root, 'test/fetch-child.ts'), `${proxy.host}/${REPO}:v1`, cacheDir, 'background'], { cwd: root });
        const lines = createInterface({ input: child.stdout });
        let seen = 0;
        let finished = false;
        for await (const line of lines) {
          if (line.includes('"done"')) finished = true;
          if (finished || seen++ >= killAt) break;
        }
        child.kill('SIGKILL');
        await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.on('close', resolve)));
        if (!finished) killedMidway++;
        await assertConsistent(cacheDir);
      }
    } finally {
      proxy.setFaults({});
    }
    expect(killedMidway).toBeGreaterThan(0);
    // What the killed children left: whole blobs and span entries (each verified on use).
    let stored = 0;
    for (const l of image.layers) stored += (await stat(join(cacheDir, 'blobs', 'sha256', l.descriptor.digest.slice(7))).catch(() => undefined))?.size ?? 0;
    for (const name of await readdir(join(cacheDir, 'other'))) if (name.startsWith('blob-range')) stored += (await stat(join(cacheDir, 'other', name))).size;
    expect(stored).toBeGreaterThan(0);
    // The next open finds a consistent cache, serves correct bytes and completes the download,
    // fetching only what the killed children had not stored.
    proxy.reset();
    const events: ImageFsEvent[] = [];
    const opened = await openCached(cacheDir, events, true);
    await readEverything(opened.fs);
    await opened.download!.done;
    expect(layerBytesSent()).toBeLessThanOrEqual(layerBytes(image) - stored + 64 * 1024);
    const blobs = await assertConsistent(cacheDir);
    for (const l of image.layers) expect(blobs).toContain(l.descriptor.digest.slice(7));
    await opened.close();
  }, 180_000);
});
