// The mount-level check of issue 11: an image opened with `background: true` and a disk cache,
// mounted over FUSE once the background download is done, serves every file with no network;
// a second open of the same reference with the same cache directory (a new DiskCache, no
// background download) serves every file again with only the manifest and the config from the
// network (the indexes come from the cache): no layer byte and no range request (with every layer
// whole in the cache, the eligibility analysis does not probe the registry's Range support).
// The image is the fetch fixture (three layers: GNU gzip, plain tar, gzip, ~340 files) pushed to
// the real registry (CNCF distribution) with its indexes as referrers, read through the fault
// proxy, whose counters are the measure. Every read of the mount runs in child processes
// (`find`, `sha256sum`): this process serves the mount. Runs as root; fails, never skips.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskCache } from '../src/cache/disk-cache.js';
import type { FsTree } from '../src/tree/types.js';
import { mount, type FuseMount } from '../src/fuse/mount.js';
import { BlobCacheIndexCache } from '../src/index-store/local-index-cache.js';
import type { BackgroundDownload } from '../src/layer/background-download.js';
import { openImage } from '../src/open/open-image.js';
import type { ImageFsEvent } from '../src/open/events.js';
import type { BuiltImage } from '../src/testing/builder/index.js';
import { startFaultProxy, startRegistry, type FaultProxy, type TestRegistry } from '../src/testing/registry/index.js';
import { layerBytes, oracle, PLATFORM, pushFixture, REPO } from './fetch-fixture.js';
import { forceUnmount, mountCount, requireFuse, sh } from './fuse-fixture.js';
import { tempDir } from './layout-fixtures.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let reg: TestRegistry;
let proxy: FaultProxy;
let image: BuiltImage;
/** Expected sha256 (hex) of every regular file, by absolute path in the image. */
const expected = new Map<string, string>();
const mountpoints: string[] = [];

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  requireFuse();
  for (const tool of ['/usr/bin/docker-registry', '/usr/bin/sha256sum', '/usr/bin/find']) {
    expect(existsSync(tool), `${tool} is missing: run scripts/install-test-deps.sh`).toBe(true);
  }
  tmp = await tempDir('cache-mount');
  reg = await startRegistry();
  ({ image } = await pushFixture(reg, tmp.path));
  for (const [path, bytes] of oracle(image)) expected.set(path, sha256(bytes));
  proxy = await startFaultProxy({ target: reg.url });
}, 90_000);

afterAll(async () => {
  await forceUnmount(mountpoints);
  await proxy?.stop();
  await reg?.stop();
  await tmp?.cleanup();
});

/** Mounts `tree` at a fresh directory; the mount is ready once a child process can stat it. */
async function mountAt(tree: FsTree, name: string): Promise<{ mnt: string; m: FuseMount }> {
  const mnt = join(tmp.path, name);
  await mkdir(mnt);
  mountpoints.push(mnt);
  const m = await mount(tree, mnt, { name: 'imagefs-cache-mount' });
  expect(await mountCount(mnt)).toBe(1);
  return { mnt, m };
}

async function unmount(m: FuseMount): Promise<void> {
  await m.unmount().catch(() => m.unmount({ lazy: true }));
  await m.closed;
  expect(await mountCount(m.mountpoint)).toBe(0);
}

/**
 * Lists the regular files of the mount (`find`) and hashes each (`sha256sum`, in four parallel
 * child processes); every file of the image must be there with its bytes, and nothing else.
 */
async function readEveryFile(mnt: string): Promise<void> {
  const found = await sh('find', [mnt, '-type', 'f', '-print0']);
  expect(found.stderr).toBe('');
  expect(found.code).toBe(0);
  const paths = found.stdout.toString().split('\0').filter((p) => p !== '');
  expect(paths.map((p) => p.slice(mnt.length)).sort()).toEqual([...expected.keys()].sort());
  const batches: string[][] = [[], [], [], []];
  paths.forEach((p, i) => batches[i % batches.length]!.push(p));
  const sums = await Promise.all(batches.map((b) => sh('sha256sum', ['--', ...b], { timeoutMs: 30_000 })));
  const got = new Map<string, string>();
  for (const r of sums) {
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const line of r.stdout.toString().split('\n')) {
      if (line === '') continue;
      const m = /^([0-9a-f]{64})  (.+)$/.exec(line);
      expect(m, line).not.toBeNull();
      got.set(m![2]!.slice(mnt.length), m![1]!);
    }
  }
  expect(got.size).toBe(expected.size);
  for (const [path, hash] of expected) expect(got.get(path), path).toBe(hash);
}

/** Requests for a layer blob (whole or by range) and every request that carried a Range. */
function layerOrRangeRequests(): string[] {
  return proxy.log
    .filter((r) => r.range !== undefined || (r.kind === 'blob' && image.layers.some((l) => r.path.includes(l.descriptor.digest))))
    .map((r) => `${r.method} ${r.path} ${r.range ?? ''}`);
}

describe('a mounted image after its background download, and again with the same cache', () => {
  it('reads every file with no network after the download; a second open with the same cache fetches no layer byte', async () => {
    const cacheDir = join(tmp.path, 'cache');
    const ref = `${proxy.host}/${REPO}:v1`;
    const started = performance.now();

    // 1. Open with background download; wait for it; mount; read everything: nothing on the wire.
    proxy.reset();
    const events: ImageFsEvent[] = [];
    const cache = await DiskCache.open(cacheDir);
    let download: BackgroundDownload | undefined;
    const fs = await openImage(ref, {
      platform: PLATFORM, cache, indexCache: new BlobCacheIndexCache(cache), background: true,
      onBackground: (d) => { download = d; }, onImageEvent: (e) => events.push(e),
    });
    let first: FuseMount | undefined;
    try {
      expect(download, 'background: true with a disk cache starts a download').toBeDefined();
      // every layer read lazily through its stored index, so the download has all of them to fetch
      expect(events.filter((e) => e.type === 'layer').map((e) => e.type === 'layer' && `${e.position} ${e.mode} ${e.how}`).sort()).toEqual(['0 lazy index', '1 lazy index', '2 lazy index']);
      await download!.done;
      expect(events.find((e) => e.type === 'downloaded')).toMatchObject({ bytes: layerBytes(image) });
      const downloadedBytes = proxy.counters.bytesOut;
      ({ m: first } = await mountAt(fs.tree, 'mnt-1'));
      proxy.reset();
      await readEveryFile(first.mountpoint);
      expect(proxy.log.map((r) => `${r.method} ${r.path} ${r.range ?? ''}`), 'requests while reading the mount').toEqual([]);
      expect(proxy.counters.requests).toBe(0);
      expect(proxy.counters.bytesOut).toBe(0);
      console.log(`first open: ${downloadedBytes} bytes fetched (layers ${layerBytes(image)}); reads of ${expected.size} files from the mount: 0 bytes, 0 requests`);
      await unmount(first);
      first = undefined;
    } finally {
      if (first !== undefined) await first.unmount({ lazy: true }).catch(() => {});
      await fs.close();
      await cache.close();
    }

    // 2. A new DiskCache on the same directory, no background download: manifests and referrers only.
    proxy.reset();
    const cache2 = await DiskCache.open(cacheDir);
    let download2: BackgroundDownload | undefined;
    const fs2 = await openImage(ref, {
      platform: PLATFORM, cache: cache2, indexCache: new BlobCacheIndexCache(cache2), background: false,
      onBackground: (d) => { download2 = d; },
    });
    let second: FuseMount | undefined;
    try {
      expect(download2).toBeUndefined();
      ({ m: second } = await mountAt(fs2.tree, 'mnt-2'));
      await readEveryFile(second.mountpoint);
      const log = proxy.log.map((r) => `${r.method} ${r.path} ${r.range ?? ''} ${r.status} ${r.bytesOut}`);
      expect(layerOrRangeRequests(), `no layer blob and no range request; all requests:\n${log.join('\n')}`).toEqual([]);
      expect(proxy.counters.bytesOut, log.join('\n')).toBeLessThanOrEqual(64 * 1024);
      console.log(`second open + reads of ${expected.size} files: ${proxy.counters.bytesOut} bytes in ${proxy.counters.requests} requests:\n${log.join('\n')}`);
      await unmount(second);
      second = undefined;
    } finally {
      if (second !== undefined) await second.unmount({ lazy: true }).catch(() => {});
      await fs2.close();
      await cache2.close();
    }
    console.log(`test body: ${Math.round(performance.now() - started)} ms`);
  }, 60_000);
});
