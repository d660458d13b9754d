// The FUSE mount end to end against the real registry (CNCF distribution), as a user runs it: an
// image built by the test bench (busybox + a ~45 MB filler layer) is pushed with its index
// (`imagefs index --push`), then `imagefs mount REF MNT --cache DIR` runs as a child process
// (the server is another process, so this one may touch the mount asynchronously) and:
// - the layers are read by range requests, not whole (the fault proxy counts the bytes);
// - `chroot MNT /bin/busybox sh -c ...` prints the expected bytes;
// - a walk of the mount equals `umoci unpack` of the same image (skopeo copy from the registry);
// - `imagefs run REF -- sh -c 'exit 3'` exits 3;
// - a SIGKILLed server leaves a stale mount that the next `imagefs mount` clears, and reads work;
// - 64 concurrent readers (child processes) on a cold cache get the right bytes.
// CI runs as root: every missing part fails the test, nothing is skipped.
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Cap, buildImage, capabilityXattr, charDevice, contentBytes, dir, fifo, file, hardlink, readDiskTree, runTool, symlink, writeLayout,
  type BuiltImage, type FileContent, type TarRecord,
} from '../src/testing/builder/index.js';
import { pushLayout, startFaultProxy, startRegistry, type FaultProxy, type TestRegistry } from '../src/testing/registry/index.js';
import { buildCliBundle, forceUnmount, mountCount, requireFuse, sh, startMountServer, type MountServer } from './fuse-fixture.js';
import { diffTrees } from './helpers/overlay-trees.js';
import { tempDir } from './layout-fixtures.js';
import { testHome } from './helpers/test-home.js';

const root = join(__dirname, '..');
const bundleDir = join(root, `.test-build-fuse-registry-${process.pid}`);
const REPO = 'fuse/registry';
const TAG = 'v1';
/** Nanosecond mtimes (not representable as a double's microseconds). */
const NS = (s: number, ns: number): bigint => BigInt(s) * 1_000_000_000n + BigInt(ns);

let bundle: string;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let reg: TestRegistry;
let proxy: FaultProxy;
let image: BuiltImage;
/** Through the proxy (counted), and straight to the registry. */
let proxiedRef: string;
let directRef: string;
const mountpoints: string[] = [];
const servers: ChildProcess[] = [];
/** Expected sha256 (hex) of every regular file, by absolute path in the image. */
const hashes = new Map<string, string>();

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function fileWith(path: string, content: FileContent, opts?: Parameters<typeof file>[2]): TarRecord {
  hashes.set(`/${path}`, sha256(contentBytes(content)));
  return file(path, content, opts);
}

/** Layer 0 (GNU gzip): the host's static busybox with applet links, and a bit of every kind of entry. */
function busyboxLayer(): TarRecord[] {
  const busybox = readFileSync('/bin/busybox');
  return [
    dir('bin'),
    fileWith('bin/busybox', busybox, { mode: 0o755, mtimeNs: NS(1_700_000_100, 123_456_789) }),
    ...['sh', 'ls', 'cat', 'sha256sum', 'find', 'stat'].map((name) => symlink(`bin/${name}`, 'busybox', { mtimeNs: NS(1_700_000_101, 1) })),
    dir('etc'),
    fileWith('etc/hostname', 'fuse-registry\n', { mtimeNs: NS(1_600_000_000, 999_999_999) }),
    fileWith('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n'),
    fileWith('etc/group', 'root:x:0:\nalice:x:1000:\n'),
    dir('dev'),
    charDevice('dev/null', 1, 3, { mode: 0o666 }),
    charDevice('dev/wide', 300, 70000, { mode: 0o600 }),
    fifo('dev/initctl', { mode: 0o600 }),
    dir('usr/sbin'),
    fileWith('usr/sbin/ping', '#!/bin/sh\necho ping\n', { mode: 0o4755, xattrs: { 'security.capability': capabilityXattr([Cap.NET_RAW]) }, mtimeNs: NS(1_650_000_000, 42) }),
    hardlink('usr/sbin/ping6', 'usr/sbin/ping'),
    symlink('abs', '/etc/hostname'),
    dir('home/alice', { uid: 1000, gid: 1000, mode: 0o750 }),
  ];
}

const RANDOM_FILES = 12;
const TEXT_FILES = 160;

/** Layer 1 (node:zlib gzip): ~45 MB of files, about half incompressible, plus links into both layers. */
function fillerLayer(): TarRecord[] {
  const out: TarRecord[] = [dir('data'), dir('data/text', { mtimeNs: NS(1_700_000_200, 5) })];
  for (let i = 0; i < RANDOM_FILES; i++) {
    out.push(fileWith(`data/rand-${String(i).padStart(2, '0')}.bin`, { seed: 100 + i, size: 2 * 1024 * 1024 + i * 1237 }, { mtimeNs: NS(1_700_000_300 + i, 1000 * i + 7) }));
  }
  for (let i = 0; i < TEXT_FILES; i++) {
    out.push(fileWith(`data/text/t-${String(i).padStart(3, '0')}.txt`, { seed: 500 + i, size: 120_000 + i * 31, kind: 'text' }, { uid: 1000, gid: 1000, mode: 0o640 }));
  }
  out.push(
    hardlink('data/rand-00-link', 'data/rand-00.bin'),
    hardlink('usr/sbin/ping-again', 'usr/sbin/ping'), // a hardlink to a lower layer's file
    symlink('data/latest', 'rand-03.bin'),
    fileWith('data/note', 'hello\n', { xattrs: { 'user.comment': 'a note' }, mtimeNs: NS(1_234_567_890, 123) }),
  );
  return out;
}

const cli = (...argv: string[]): ReturnType<typeof sh> => sh(bundle, argv, { env: testHome(), timeoutMs: 40_000 });

/** `imagefs --cache CACHE mount REF MNT` in a child process; resolves once `until` holds. */
async function startServer(ref: string, mountpoint: string, cache: string, until: (output: string) => Promise<boolean> | boolean): Promise<MountServer & { output: () => string }> {
  // --no-background: these tests measure what lazy reads fetch (the background download, on by
  // default with a cache, is checked in cache-mount.test.ts and would add ranges of its own).
  const server = await startMountServer(bundle, ['mount', ref, mountpoint, '--cache', cache, '--no-background'], testHome(), servers, until);
  return { ...server, output: () => server.stdout() + server.stderr() };
}

beforeAll(async () => {
  requireFuse();
  for (const tool of ['/usr/bin/docker-registry', '/usr/bin/umoci', '/usr/bin/skopeo', '/usr/bin/getfattr', '/usr/bin/unshare', '/usr/sbin/chroot', '/usr/bin/gzip']) {
    expect(existsSync(tool), `${tool} is missing: run scripts/install-test-deps.sh`).toBe(true);
  }
  tmp = await tempDir('fuse-registry');
  const built = buildCliBundle(bundleDir);
  image = await buildImage({
    config: { Env: ['PATH=/bin:/usr/sbin', 'GREETING=hi'], WorkingDir: '/home/alice' },
    layers: [{ entries: busyboxLayer(), compression: 'gnu-gzip' }, { entries: fillerLayer(), compression: 'gzip' }],
  });
  await writeLayout(join(tmp.path, 'layout'), [{ image, tag: TAG }]);
  reg = await startRegistry();
  proxy = await startFaultProxy({ target: reg.url });
  await pushLayout(reg, { layoutDir: join(tmp.path, 'layout'), tag: TAG, repo: REPO, destTag: TAG });
  directRef = `${reg.host}/${REPO}:${TAG}`;
  proxiedRef = `${proxy.host}/${REPO}:${TAG}`;
  bundle = await built;
  const indexed = await cli('--no-cache', 'index', directRef, '--push');
  expect(indexed.stderr).toBe('');
  expect(indexed.code).toBe(0);
  expect(indexed.stdout.toString()).toMatch(/pushed sha256:[0-9a-f]{64} .* as a referrer of /);
}, 90_000);

afterAll(async () => {
  for (const s of servers.splice(0)) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
  await forceUnmount(mountpoints);
  await proxy?.stop();
  await reg?.stop();
  await tmp?.cleanup();
  await rm(bundleDir, { recursive: true, force: true });
});

describe('imagefs mount over the real registry, lazily', () => {
  let mnt: string;
  let server: MountServer & { output: () => string };

  it('mounts with a cold cache, reads a small file by range requests only, and runs busybox chrooted', async () => {
    const imageBytes = image.layers.reduce((n, l) => n + l.descriptor.size, 0);
    expect(imageBytes).toBeGreaterThan(25e6);
    mnt = join(tmp.path, 'mnt');
    await mkdir(mnt);
    mountpoints.push(mnt);
    proxy.reset();
    server = await startServer(proxiedRef, mnt, join(tmp.path, 'cache-1'), async (out) => out.includes('imagefs: mounted at') && (await mountCount(mnt)) === 1);
    const opened = proxy.counters.bytesOut;

    const small = await sh('cat', [join(mnt, 'data/text/t-077.txt')]);
    expect(small.stderr).toBe('');
    expect(sha256(small.stdout)).toBe(hashes.get('/data/text/t-077.txt'));
    const layerGets = proxy.log.filter((r) => r.method === 'GET' && image.layers.some((l) => r.path.endsWith(`/blobs/${l.descriptor.digest}`)));
    expect(layerGets.length).toBeGreaterThan(0);
    for (const r of layerGets) {
      expect(r.range, `${r.path} was fetched without Range`).toMatch(/^bytes=\d+-\d+$/);
      expect(r.status).toBe(206);
    }
    const filler = image.layers[1]!.descriptor;
    const fromFiller = layerGets.filter((r) => r.path.endsWith(filler.digest)).reduce((n, r) => n + r.bytesOut, 0);
    expect(fromFiller).toBeGreaterThan(0);
    expect(fromFiller).toBeLessThan(filler.size / 4);
    expect(proxy.counters.bytesOut, `fetched ${proxy.counters.bytesOut} of ${imageBytes} (opening: ${opened})`).toBeLessThan(imageBytes * 0.25);

    const expectedLs = [/^total \d+$/, /^lrwxrwxrwx +1 root +root +13 .* abs -> \/etc\/hostname$/, /^drwxr-xr-x +2 root +root .* bin$/,
      /^drwxr-xr-x +3 root +root .* data$/, /^drwxr-xr-x +2 root +root .* dev$/, /^drwxr-xr-x +2 root +root .* etc$/,
      /^drwxr-xr-x +3 root +root .* home$/, /^drwxr-xr-x +3 root +root .* usr$/];
    const r = await sh('/usr/sbin/chroot', [mnt, '/bin/busybox', 'sh', '-c', 'ls -l /; cat /etc/hostname; sha256sum /data/rand-05.bin /bin/busybox; stat -c "%A %U %h %s" /usr/sbin/ping6'], { env: { PATH: '/bin' } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.toString().split('\n');
    expectedLs.forEach((re, i) => expect(lines[i]).toMatch(re));
    expect(lines.slice(expectedLs.length)).toEqual([
      'fuse-registry',
      `${hashes.get('/data/rand-05.bin')}  /data/rand-05.bin`,
      `${hashes.get('/bin/busybox')}  /bin/busybox`,
      '-rwsr-xr-x root 3 20',
      '',
    ]);
  });

  it('a walk of the mount equals umoci unpack of the same image: modes, owners, bytes, links, devices, xattrs, ns mtimes, hardlinks', async () => {
    const layout = join(tmp.path, 'skopeo');
    await runTool('skopeo', ['copy', '--quiet', '--insecure-policy', '--src-tls-verify=false', `docker://${directRef}`, `oci:${layout}:t`]);
    await runTool('umoci', ['unpack', '--image', `${layout}:t`, join(tmp.path, 'bundle')]);
    const [expected, actual] = await Promise.all([readDiskTree(join(tmp.path, 'bundle', 'rootfs')), readDiskTree(mnt)]);
    expect(expected.size).toBeGreaterThan(RANDOM_FILES + TEXT_FILES + 20);
    expect(diffTrees(expected, actual, { links: true, mtime: true })).toEqual([]);
    // the parts umoci must have kept for the comparison to mean something
    expect(Buffer.from(actual.get('usr/sbin/ping')!.xattrs['security.capability']!)).toEqual(Buffer.from(capabilityXattr([Cap.NET_RAW])));
    expect(actual.get('etc/hostname')!.mtimeNs).toBe(NS(1_600_000_000, 999_999_999));
    expect(actual.get('usr/sbin/ping-again')!.ino).toBe(actual.get('usr/sbin/ping')!.ino);
    expect(actual.get('usr/sbin/ping')!.nlink).toBe(3);
    expect([actual.get('dev/wide')!.type, actual.get('dev/wide')!.devMajor, actual.get('dev/wide')!.devMinor]).toEqual(['char', 300, 70000]);
    const alias: Record<string, string> = { 'data/rand-00-link': '/data/rand-00.bin', 'usr/sbin/ping6': '/usr/sbin/ping', 'usr/sbin/ping-again': '/usr/sbin/ping' };
    const files = [...actual].filter(([, node]) => node.type === 'file');
    expect(files.length).toBe(hashes.size + Object.keys(alias).length);
    for (const [path, node] of files) expect(node.sha256, path).toBe(`sha256:${hashes.get(alias[path] ?? `/${path}`)}`);
  });

  it('imagefs run exits with the status of the command', async () => {
    const r = await cli('--no-cache', 'run', directRef, '--', '/bin/busybox', 'sh', '-c', 'echo "$GREETING $(pwd)"; exit 3');
    expect(r.stderr).toBe('');
    expect(r.stdout.toString()).toBe('hi /home/alice\n');
    expect(r.code).toBe(3);
  });

  it('after SIGKILL of the server the mount is stale; imagefs mount on it again recovers, and 64 concurrent readers get the right bytes', async () => {
    server.child.kill('SIGKILL');
    await server.exited;
    expect(await mountCount(mnt)).toBe(1);
    // What the kernel has cached (attributes, listings, pages: after the walk above, all of it)
    // stays readable; anything that asks the server, statfs always, fails.
    expect((await sh('stat', ['-f', mnt])).stderr).toContain('Transport endpoint is not connected');

    proxy.reset();
    // a fresh cache: the readers below go to the registry
    server = await startServer(proxiedRef, mnt, join(tmp.path, 'cache-2'), (out) => out.includes('imagefs: mounted at'));
    expect(server.output()).toMatch(/(^|\n)imagefs: cleared a stale mount at .*\n[\s\S]*imagefs: mounted at /);
    // the image is streamed from the registry, and says so as GKE does
    expect(server.output()).toMatch(/\nimagefs: image \S+ is streamed: \d+ of \d+ layers read lazily\n/);
    expect(server.output()).toMatch(/\nimagefs: Successfully pulled image \S+ in \d+\.\ds \(streaming\)\n/);
    expect(await mountCount(mnt)).toBe(1);
    expect((await sh('cat', [join(mnt, 'etc/hostname')])).stdout.toString()).toBe('fuse-registry\n');

    const paths = Array.from({ length: 64 }, (_, i) => (i % 2 === 0
      ? `/data/rand-${String((i / 2) % RANDOM_FILES).padStart(2, '0')}.bin`
      : `/data/text/t-${String((i * 7) % TEXT_FILES).padStart(3, '0')}.txt`));
    const results = await Promise.all(paths.map((p) => sh('sha256sum', [join(mnt, p)], { timeoutMs: 40_000 })));
    results.forEach((res, i) => {
      expect(res.stderr, paths[i]).toBe('');
      expect(res.stdout.toString()).toBe(`${hashes.get(paths[i]!)}  ${join(mnt, paths[i]!)}\n`);
    });
    expect(proxy.counters.byKind.blob).toBeGreaterThan(1);
    expect((await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(` ${mnt} `)).length).toBe(1);

    expect(await server.stop('SIGTERM', 10_000)).toBe(0);
    expect(await mountCount(mnt)).toBe(0);
  });
});
