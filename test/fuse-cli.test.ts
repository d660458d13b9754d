// `imagefs mount`, `imagefs umount` and `imagefs run`, as the bundled executable in child
// processes (the server is another process, as users run it).
import type { ChildProcess } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { randomBytes } from '../src/testing/builder/index.js';
import { pushLayout, startRegistry } from '../src/testing/registry/index.js';
import { BIG_SIZE, buildCliBundle, forceUnmount, fuseImage, fuseLayout, mountCount, mountDir, requireFuse, sh, startMountServer, type MountServer } from './fuse-fixture.js';
import { tempDir } from './layout-fixtures.js';
import { testHome } from './helpers/test-home.js';

const root = join(__dirname, '..');
const bundleDir = join(root, `.test-build-fuse-${process.pid}`);
let bundle: string;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let ref: string;
const mountpoints: string[] = [];
const servers: ChildProcess[] = [];

const cli = (...argv: string[]): ReturnType<typeof sh> => sh(bundle, ['--no-cache', ...argv], { env: testHome() });

/** A foreground `imagefs mount`: resolves once it printed its `mounted` line. */
function startServer(mountpoint: string): Promise<MountServer> {
  return startMountServer(bundle, ['--no-cache', 'mount', ref, mountpoint], testHome(), servers);
}

beforeAll(async () => {
  requireFuse();
  tmp = await tempDir('fuse-cli');
  [bundle, ref] = await Promise.all([buildCliBundle(bundleDir), fuseImage().then((image) => fuseLayout(tmp.path, image))]);
});

afterEach(async () => {
  for (const s of servers.splice(0)) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
  await forceUnmount(mountpoints);
});

afterAll(async () => {
  await forceUnmount(mountpoints);
  await tmp?.cleanup();
  await rm(bundleDir, { recursive: true, force: true });
});

describe('imagefs mount / umount', () => {
  it('serves in the foreground until SIGTERM, then unmounts and exits 0', async () => {
    const mnt = await mountDir(tmp.path, 'fg');
    mountpoints.push(mnt);
    const server = await startServer(mnt);
    expect(await mountCount(mnt)).toBe(1);
    expect((await sh('cat', [join(mnt, 'etc/hostname')])).stdout.toString()).toBe('box\n');
    expect((await sh('getcap', [join(mnt, 'bin/ping')])).stdout.toString()).toContain('cap_net_raw=ep');
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(await mountCount(mnt)).toBe(0);
    // the image's events (opening runs alongside the mount, so the two interleave) and the mount's
    const lines = server.stdout().split('\n');
    expect(lines[0]).toMatch(/^imagefs: pulling image oci:/);
    expect(lines).toContainEqual(expect.stringMatching(/^imagefs: Successfully pulled image oci:\S+ in \d+\.\ds$/));
    expect(lines).toContainEqual(expect.stringMatching(/^imagefs: mounted at .* \(FUSE 7\.\d+, kernel 7\.\d+, .*\)$/));
    expect(lines.slice(-2)).toEqual([expect.stringMatching(/^imagefs: unmounted /), '']);
  });

  it('SIGUSR2 prints the requests so far; opens and warm reads send none', async () => {
    const mnt = await mountDir(tmp.path, 'usr2');
    mountpoints.push(mnt);
    const server = await startServer(mnt);
    const counts = async (): Promise<Record<string, number>> => {
      const seen = server.stderr().split('imagefs: requests ').length;
      const line = new Promise<void>((done) => {
        const onData = (): void => {
          if (server.stderr().split('imagefs: requests ').length > seen && server.stderr().endsWith('\n')) { server.child.stderr!.off('data', onData); done(); }
        };
        server.child.stderr!.on('data', onData);
      });
      server.child.kill('SIGUSR2');
      await line;
      const parts = server.stderr().split('imagefs: requests ');
      return JSON.parse(parts[parts.length - 1]!.split('\n')[0]!) as Record<string, number>;
    };
    expect((await sh('cat', [join(mnt, 'etc/hostname'), join(mnt, 'bin/busybox')])).code).toBe(0);
    const first = await counts();
    expect(first['READ']).toBeGreaterThanOrEqual(2);
    expect(first['OPEN']).toBe(1); // answered ENOSYS: zero-message opens from then on
    expect((await sh('cat', [join(mnt, 'etc/hostname'), join(mnt, 'bin/busybox')])).code).toBe(0);
    expect(await counts()).toEqual(first);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('imagefs umount ends a running mount in one line; the server exits 0', async () => {
    const mnt = await mountDir(tmp.path, 'um');
    mountpoints.push(mnt);
    const server = await startServer(mnt);
    const r = await cli('umount', mnt);
    expect(r.stdout.toString()).toBe(`imagefs: unmounted ${mnt}\n`);
    expect(r.code).toBe(0);
    expect(await server.exited).toBe(0);
    expect(await mountCount(mnt)).toBe(0);
    const again = await cli('umount', mnt);
    expect([again.code, again.stderr]).toEqual([1, `imagefs: FailedPrecondition: nothing is mounted at ${mnt}\n`]);
  });

  it('a killed server leaves a stale mount that imagefs umount, and a new mount, clear', async () => {
    const mnt = await mountDir(tmp.path, 'stale');
    mountpoints.push(mnt);
    const first = await startServer(mnt);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(await mountCount(mnt)).toBe(1);
    expect((await sh('ls', [mnt])).stderr).toContain('Transport endpoint is not connected');
    const r = await cli('umount', mnt);
    expect(r.stdout.toString()).toBe(`imagefs: cleared a stale mount at ${mnt} (its server had exited)\n`);
    expect(r.code).toBe(0);
    expect(await mountCount(mnt)).toBe(0);

    const second = await startServer(mnt);
    second.child.kill('SIGKILL');
    await second.exited;
    const third = await startServer(mnt);
    expect(third.stdout()).toMatch(/(^|\n)imagefs: cleared a stale mount at .*\n[\s\S]*imagefs: mounted at /);
    expect(await mountCount(mnt)).toBe(1);
    expect((await sh('ls', [mnt])).stdout.toString()).toContain('etc');
    third.child.kill('SIGINT');
    expect(await third.exited).toBe(0);
    expect(await mountCount(mnt)).toBe(0);
  });

  it('--upper without --writable is a usage error', async () => {
    const r = await cli('mount', ref, tmp.path, '--upper', `${tmp.path}/upper`);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^imagefs: usage: --upper DIR needs --writable/);
  });
});

describe('imagefs run', () => {
  it("runs CMD chrooted with the config's Env and WorkingDir and exits with its status", async () => {
    const before = (await readdir(tmpdir())).filter((n) => n.startsWith('imagefs-run-'));
    const r = await cli('run', ref, '--', '/bin/busybox', 'sh', '-c', 'echo $FOO; pwd; busybox cat /etc/hostname; exit 7');
    expect(r.stderr).toBe('');
    expect(r.stdout.toString()).toBe('bar baz\n/work/dir\nbox\n');
    expect(r.code).toBe(7);
    expect((await readdir(tmpdir())).filter((n) => n.startsWith('imagefs-run-'))).toEqual(before);
    const table = await sh('grep', ['-c', 'imagefs-run-', '/proc/self/mountinfo']);
    expect(table.stdout.toString().trim()).toBe('0');
  });

  it('reports a command killed by a signal as 128 + N, and a missing one as the exec error', async () => {
    expect((await cli('run', ref, '--', '/bin/busybox', 'sh', '-c', 'kill -TERM $$')).code).toBe(143);
    const missing = await cli('run', ref, '--', '/nope');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/nope/);
  });

  it('serves an image straight from a registry (the real one), lazily fetched bytes included', async () => {
    const reg = await startRegistry();
    try {
      await pushLayout(reg, { layoutDir: join(tmp.path, 'layout'), tag: 'fuse', repo: 'fuse/app', destTag: 'v1' });
      const r = await cli('run', `${reg.host}/fuse/app:v1`, '--', '/bin/busybox', 'sha256sum', '/data/big.bin');
      expect(r.stderr).toBe('');
      expect(r.stdout.toString()).toBe(`${createHash('sha256').update(randomBytes(11, BIG_SIZE)).digest('hex')}  /data/big.bin\n`);
      expect(r.code).toBe(0);
    } finally {
      await reg.stop();
    }
  });

  it('needs CMD', async () => {
    const r = await cli('run', ref);
    expect(r.code).toBe(2);
  });
});
