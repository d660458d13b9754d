import { constants, Stats } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FsError } from '../src/errors/index.js';
import type { ImageFs } from '../src/fs/image-fs.js';
import { dir, file, symlink, type TarRecord } from '../src/testing/builder/index.js';
import { fsOf } from './helpers/overlay-layers.js';

const BIG = { seed: 3, size: 200_000 };

async function image(): Promise<ImageFs> {
  return fsOf([
    [
      dir('etc'), file('etc/hostname', 'box\n', { mtime: 1_600_000_000.5 }), file('etc/shadow', 'x', { mode: 0o600, xattrs: { 'user.a': 'A', 'security.capability': new Uint8Array([1, 0, 0, 2]) } }),
      dir('usr'), dir('usr/bin'), file('usr/bin/tool', BIG, { mode: 0o755 }), symlink('bin', 'usr/bin'), symlink('abs', '/etc/hostname'),
      symlink('up', '../../../../../etc/hostname'), symlink('self', 'self'), symlink('dangling', '/nowhere'),
      dir('a'), dir('a/b'), symlink('a/b/back', '../..'), file('empty', ''),
    ],
  ]);
}

/** A chain l0 -> l1 -> ... -> l{n-1} -> target. */
function chain(n: number): TarRecord[] {
  const out: TarRecord[] = [file('target', 'end')];
  for (let i = 0; i < n; i++) out.push(symlink(`l${i}`, i === n - 1 ? 'target' : `l${i + 1}`));
  return out;
}

async function expectFsError(p: Promise<unknown>, code: string, syscall: string, path: string): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(FsError);
  const e = err as FsError;
  expect({ code: e.code, syscall: e.syscall, path: e.path, errno: e.errno }).toEqual({ code, syscall, path, errno: -(constants as unknown as Record<string, number>)[code]! || e.errno });
  expect(e.errno).toBeLessThan(0);
  expect(e.message).toContain(`${code}:`);
}

describe('ImageFs: stat and friends', () => {
  it('stat follows symlinks, lstat does not; the fields are those of fs.Stats', async () => {
    const fs = await image();
    const st = await fs.stat('/abs');
    expect(st.isFile()).toBe(true);
    expect([st.mode, st.size, st.nlink, st.uid, st.mtimeMs, st.blksize, st.blocks]).toEqual([0o100644, 4, 1, 0, 1_600_000_000_500, 4096, 8]);
    expect(st.mtime.getTime()).toBe(st.mtimeMs);
    expect(st.atimeMs).toBe(st.mtimeMs);
    const ls = await fs.lstat('/abs');
    expect([ls.isSymbolicLink(), ls.mode, ls.size]).toEqual([true, 0o120777, '/etc/hostname'.length]);
    expect(ls.ino).not.toBe(st.ino);
    // Every method and field of node's Stats exists on ours.
    const names = Object.getOwnPropertyNames(Stats.prototype).filter((n) => n.startsWith('is'));
    for (const n of names) expect(typeof (st as unknown as Record<string, unknown>)[n]).toBe('function');
    const usr = await fs.stat('/usr');
    expect([usr.isDirectory(), usr.nlink]).toEqual([true, 3]);
    expect((await fs.stat('/')).nlink).toBe(5);
  });

  it('ENOENT, ENOTDIR, ELOOP carry Node code, errno, syscall and path', async () => {
    const fs = await image();
    await expectFsError(fs.stat('/nope'), 'ENOENT', 'stat', '/nope');
    await expectFsError(fs.lstat('/etc/hostname/x'), 'ENOTDIR', 'lstat', '/etc/hostname/x');
    await expectFsError(fs.stat('/etc/hostname/'), 'ENOTDIR', 'stat', '/etc/hostname/');
    await expectFsError(fs.stat('/self'), 'ELOOP', 'stat', '/self');
    await expectFsError(fs.stat('/dangling'), 'ENOENT', 'stat', '/dangling');
    expect((await fs.lstat('/self')).isSymbolicLink()).toBe(true);
  });

  it('40 symlinks resolve, 41 give ELOOP', async () => {
    const fs = await fsOf([chain(41)]);
    expect(await fs.readFile('/l1', 'utf8')).toBe('end');
    await expectFsError(fs.readFile('/l0'), 'ELOOP', 'open', '/l0');
  });

  it('resolves like a chroot: absolute targets start at the image root, ".." stops at the root', async () => {
    const fs = await image();
    expect(await fs.readFile('/up', 'utf8')).toBe('box\n');
    expect(await fs.realpath('/../../../etc/../bin/tool')).toBe('/usr/bin/tool');
    expect(await fs.realpath('bin')).toBe('/usr/bin');
    expect(await fs.realpath('/a/b/back/a/b/back/etc')).toBe('/etc');
    expect(await fs.realpath('/bin/')).toBe('/usr/bin');
    await expectFsError(fs.realpath('/nope/x'), 'ENOENT', 'realpath', '/nope/x');
  });

  it('readlink returns targets, EINVAL for anything but a symlink', async () => {
    const fs = await image();
    expect(await fs.readlink('/up')).toBe('../../../../../etc/hostname');
    expect(await fs.readlink('/bin')).toBe('usr/bin');
    await expectFsError(fs.readlink('/etc/hostname'), 'EINVAL', 'readlink', '/etc/hostname');
  });

  it('access: F_OK and R_OK pass, W_OK is EROFS, X_OK needs an execute bit', async () => {
    const fs = await image();
    await fs.access('/etc/shadow');
    await fs.access('/etc/shadow', constants.R_OK);
    await fs.access('/bin/tool', constants.X_OK);
    await expectFsError(fs.access('/etc/hostname', constants.W_OK), 'EROFS', 'access', '/etc/hostname');
    await expectFsError(fs.access('/etc/hostname', constants.X_OK), 'EACCES', 'access', '/etc/hostname');
    await expectFsError(fs.access('/missing'), 'ENOENT', 'access', '/missing');
  });
});

describe('ImageFs: directories, files, xattrs', () => {
  it('readdir lists sorted names, or Dirents with types', async () => {
    const fs = await image();
    expect(await fs.readdir('/')).toEqual(['a', 'abs', 'bin', 'dangling', 'empty', 'etc', 'self', 'up', 'usr']);
    const d = await fs.readdir('/bin', { withFileTypes: true });
    expect(d.map((e) => [e.name, e.isFile(), e.parentPath])).toEqual([['tool', true, '/bin']]);
    const root = await fs.readdir('/', { withFileTypes: true });
    expect(root.find((e) => e.name === 'bin')!.isSymbolicLink()).toBe(true);
    await expectFsError(fs.readdir('/etc/hostname'), 'ENOTDIR', 'scandir', '/etc/hostname');
  });

  it('readFile returns bytes or strings; EISDIR on a directory', async () => {
    const fs = await image();
    const tool = await fs.readFile('/usr/bin/tool');
    expect(tool.length).toBe(BIG.size);
    expect((await fs.readFile('/empty')).length).toBe(0);
    expect(await fs.readFile('/etc/hostname', { encoding: 'utf8' })).toBe('box\n');
    await expectFsError(fs.readFile('/etc'), 'EISDIR', 'read', '/etc');
    await expectFsError(fs.readFile('/etc/nope'), 'ENOENT', 'open', '/etc/nope');
  });

  it('open gives a FileHandle: positional and sequential reads, readFile, iteration, stat, close', async () => {
    const fs = await image();
    const whole = await fs.readFile('/bin/tool');
    const fh = await fs.open('/bin/tool');
    const buf = Buffer.alloc(10);
    expect((await fh.read(buf, 0, 10, 1000)).bytesRead).toBe(10);
    expect(buf).toEqual(whole.subarray(1000, 1010));
    await fh.read(buf, 2, 4, null);
    expect(buf.subarray(2, 6)).toEqual(whole.subarray(0, 4));
    const { bytesRead } = await fh.read({ buffer: Buffer.alloc(8), position: BIG.size - 3 });
    expect(bytesRead).toBe(3);
    expect((await fh.readFile() as Buffer).equals(whole.subarray(4))).toBe(true);
    expect((await fh.stat()).size).toBe(BIG.size);
    await fh.close();
    await expectFsError(fh.read(buf, 0, 1, 0), 'EBADF', 'read', '/bin/tool');

    const fh2 = await fs.open('/usr/bin/tool');
    const chunks: Buffer[] = [];
    for await (const c of fh2) chunks.push(c);
    expect(chunks.length).toBe(Math.ceil(BIG.size / 65536));
    expect(Buffer.concat(chunks).equals(whole)).toBe(true);

    const dirHandle = await fs.open('/etc');
    await expectFsError(dirHandle.read(buf, 0, 1, 0), 'EISDIR', 'read', '/etc');
    await expectFsError(fs.open('/etc/hostname', 'w'), 'EROFS', 'open', '/etc/hostname');
  });

  it('createReadStream honours start and end (inclusive) and emits errors', async () => {
    const fs = await image();
    const whole = await fs.readFile('/bin/tool');
    const chunks: Buffer[] = [];
    for await (const c of fs.createReadStream('/bin/tool', { start: 5, end: 150_004, highWaterMark: 4096 })) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(whole.subarray(5, 150_005))).toBe(true);
    const err = await new Promise<unknown>((resolve) => fs.createReadStream('/nope').on('error', resolve).resume());
    expect(err).toMatchObject({ code: 'ENOENT', syscall: 'open', path: '/nope' });
  });

  it('getxattr and listxattr; ENODATA for a missing name', async () => {
    const fs = await image();
    expect(await fs.listxattr('/etc/shadow')).toEqual(['security.capability', 'user.a']);
    expect(await fs.getxattr('/etc/shadow', 'security.capability')).toEqual(Buffer.from([1, 0, 0, 2]));
    expect(await fs.listxattr('/etc')).toEqual([]);
    await expectFsError(fs.getxattr('/etc/shadow', 'user.none'), 'ENODATA', 'getxattr', '/etc/shadow');
  });

  it('walk yields every path depth-first with sorted names and lstat', async () => {
    const fs = await image();
    const seen: string[] = [];
    for await (const { path, stats } of fs.walk('/')) seen.push(`${path}:${stats.isSymbolicLink() ? 'l' : stats.isDirectory() ? 'd' : 'f'}`);
    expect(seen).toEqual([
      '/:d', '/a:d', '/a/b:d', '/a/b/back:l', '/abs:l', '/bin:l', '/dangling:l', '/empty:f', '/etc:d', '/etc/hostname:f', '/etc/shadow:f',
      '/self:l', '/up:l', '/usr:d', '/usr/bin:d', '/usr/bin/tool:f',
    ]);
    const sub: string[] = [];
    for await (const { path } of fs.walk('/bin')) sub.push(path);
    expect(sub).toEqual(['/bin', '/bin/tool']);
  });
});
