// The writable FUSE mount (issue 12): an image opened over an upper directory, mounted read-write,
// changed by ordinary programs run as async child processes (never synchronously from this
// process), checked through the mount and through the library; then the CLI's
// `mount --writable --upper DIR` over the same directory shows the changes kept.
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageFs } from '../src/fs/image-fs.js';
import { mount, type FuseMount } from '../src/fuse/index.js';
import { openImage } from '../src/open/open-image.js';
import { ROOT_INO, isWritableTree, type FsTree } from '../src/tree/types.js';
import { encodeRawName } from '../src/tar/raw-name.js';
import { BIG_SIZE, RAW_NAME, buildCliBundle, forceUnmount, fuseImage, fuseLayout, mountCount, mountDir, requireFuse, sh, startMountServer } from './fuse-fixture.js';
import { applyToImageFs, KernelOps, opGenerator, pathsOf } from './helpers/upper-oracle.js';
import { tempDir } from './layout-fixtures.js';
import { testHome } from './helpers/test-home.js';

const bundleDir = join(__dirname, '..', `.test-build-fuse-writable-${process.pid}`);
let tmp: Awaited<ReturnType<typeof tempDir>>;
let ref: string;
let bundle: string;
let upperDir: string;
let image: ImageFs;
let mnt: string;
let m: FuseMount;
const mountpoints: string[] = [];
const servers: ChildProcess[] = [];

/** The inode at a path of `t` (no symlinks followed), or 0. */
function inoAt(t: FsTree, path: string): number {
  let ino = ROOT_INO;
  for (const part of path.split('/').filter(Boolean)) {
    ino = t.lookup(ino, part);
    if (ino === 0) return 0;
  }
  return ino;
}

/** A shell script run against the mount (`$M` is the mountpoint); fails the test unless it exits 0. */
async function shell(script: string): Promise<string> {
  const r = await sh('sh', ['-ec', script], { env: { M: mnt } });
  expect(r.stderr, script).toBe('');
  expect(r.code, script).toBe(0);
  return r.stdout.toString();
}

const PY_RENAME = String.raw`
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
def r2(a, b, flags):
    if libc.renameat2(-100, a.encode(), -100, b.encode(), flags) != 0:
        return os.strerror(ctypes.get_errno())
    return 'OK'
M = sys.argv[1]
print(r2(M + '/etc/hostname', M + '/etc/note', 2))            # RENAME_EXCHANGE of two files
print(r2(M + '/etc/note', M + '/etc/hostname', 1))            # RENAME_NOREPLACE onto an existing name
print(r2(M + '/etc/note', M + '/etc/note-2', 1))              # RENAME_NOREPLACE onto a new name
print(r2(M + '/usrbin', M + '/etc', 2))                       # EXCHANGE a lower symlink with a lower directory
print('link' if os.path.islink(M + '/etc') and os.path.isfile(M + '/usrbin/note-2') else 'not swapped')
print(r2(M + '/usrbin', M + '/etc', 2))                       # and back
os.rename(M + '/usrbin', M + '/linked')                       # rename(2) of a lower symlink
`;

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  requireFuse();
  tmp = await tempDir('fuse-writable');
  [bundle, ref] = await Promise.all([buildCliBundle(bundleDir), fuseImage().then((built) => fuseLayout(tmp.path, built))]);
  upperDir = join(tmp.path, 'upper');
  image = await openImage(ref, { upper: upperDir });
  expect(isWritableTree(image.tree)).toBe(true);
  mnt = await mountDir(tmp.path, 'mnt');
  mountpoints.push(mnt);
  m = await mount(image.tree, mnt);
}, 60_000);

afterAll(async () => {
  for (const s of servers) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
  await m?.unmount({ lazy: true }).catch(() => {});
  await forceUnmount(mountpoints);
  await image?.close().catch(() => {}); // closed already when the last test failed half-way
  await tmp?.cleanup();
  await rm(bundleDir, { recursive: true, force: true });
});

describe('mount(writable tree)', () => {
  it('is mounted rw and creates, appends, overwrites, makes and removes trees', async () => {
    const opts = (await sh('findmnt', ['-n', '-o', 'OPTIONS', mnt])).stdout.toString();
    expect(opts.split(',')[0]).toBe('rw');
    const out = await shell(`
      echo hello > $M/new.txt
      echo more >> $M/new.txt
      printf X | dd of=$M/etc/hostname bs=1 seek=1 conv=notrunc 2>/dev/null
      mkdir -p $M/a/b/c
      echo deep > $M/a/b/c/f
      rm -r $M/many
      cat $M/new.txt $M/etc/hostname $M/a/b/c/f
      ls $M/many 2>/dev/null || echo no-many`);
    expect(out).toBe('hello\nmore\nbXx\ndeep\nno-many\n');
    expect((await image.readFile('/new.txt')).toString()).toBe('hello\nmore\n');
    expect((await image.readFile('/etc/hostname')).toString()).toBe('bXx\n');
    expect((await image.readFile('/a/b/c/f')).toString()).toBe('deep\n');
    expect(inoAt(image.tree, '/many')).toBe(0);
  });

  it('writes big files in big WRITE requests, and a new name is found at once', async () => {
    const before = m.requestCounts().WRITE ?? 0;
    const out = await shell(`cp $M/data/big.bin $M/copy.bin && cmp $M/data/big.bin $M/copy.bin && stat -c %s $M/copy.bin`);
    expect(out).toBe(`${BIG_SIZE}\n`);
    const writes = (m.requestCounts().WRITE ?? 0) - before;
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThan(BIG_SIZE / 4096 / 8); // not one page per request: big writes were negotiated
    expect(sha256(await image.readFile('/copy.bin'))).toBe(sha256(await image.readFile('/data/big.bin')));
  });

  it('moves a lower symlink as a link and a lower directory without EXDEV', async () => {
    const out = await shell(`
      mv $M/abs $M/etc/abs-moved
      readlink $M/etc/abs-moved
      mv $M/data $M/data2
      ls $M/data2 | grep -c big.bin
      test ! -e $M/data && echo data-gone`);
    expect(out).toBe('/etc/hostname\n1\ndata-gone\n');
    expect(await image.readlink('/etc/abs-moved')).toBe('/etc/hostname');
    expect((await image.lstat('/etc/abs-moved')).isSymbolicLink()).toBe(true);
    expect((await image.stat('/data2/big.bin')).size).toBe(BIG_SIZE);
  });

  it('renameat2 with RENAME_EXCHANGE and RENAME_NOREPLACE, and rename(2)', async () => {
    const before = { hostname: (await image.readFile('/etc/hostname')).toString(), note: (await image.readFile('/etc/note')).toString() };
    const r = await sh('python3', ['-c', PY_RENAME, mnt]);
    expect(r.stderr).toBe('');
    expect(r.stdout.toString().split('\n')).toEqual(['OK', 'File exists', 'OK', 'OK', 'link', 'OK', '']);
    expect((await image.readFile('/etc/hostname')).toString()).toBe(before.note);
    expect((await image.readFile('/etc/note-2')).toString()).toBe(before.hostname);
    expect(inoAt(image.tree, '/usrbin')).toBe(0);
    expect(await image.readlink('/linked')).toBe('bin');
    expect((await shell('ls $M/etc/note-2 && readlink $M/linked'))).toBe(`${mnt}/etc/note-2\nbin\n`);
  });

  it('ln, ln -s, chmod, chown, touch with nanoseconds, setfattr, mkfifo, truncate', async () => {
    const out = await shell(`
      cd $M
      ln new.txt hard.txt
      ln -s new.txt soft
      chown 12:34 hard.txt
      chmod 4711 new.txt
      touch -h -d '2021-02-03 04:05:06.123456789' soft
      touch -d '2020-01-02 03:04:05.987654321' new.txt
      setfattr -n user.color -v blue new.txt
      getfattr --only-values -n user.color hard.txt; echo
      setfattr -x user.color new.txt
      mkfifo fifo
      truncate -s 3 copy.bin
      fallocate -l 10000 copy.bin
      stat -c '%h %a %u:%g %y' new.txt
      stat -c '%y %N' soft
      stat -c '%F %s' fifo copy.bin`);
    expect(out).toBe([
      'blue',
      '2 4711 12:34 2020-01-02 03:04:05.987654321 +0000',
      "2021-02-03 04:05:06.123456789 +0000 'soft' -> 'new.txt'",
      'fifo 0', 'regular file 10000', '',
    ].join('\n'));
    const t = image.tree;
    const ino = inoAt(t, '/new.txt');
    expect(inoAt(t, '/hard.txt')).toBe(ino);
    expect(t.attrs(ino)).toMatchObject({ nlink: 2, mode: 0o104711, uid: 12, gid: 34, mtime: { sec: 1577934245, nsec: 987654321 } });
    expect(t.xattrs(ino)).toEqual([]);
    expect(t.attrs(inoAt(t, '/soft')).mtime.nsec).toBe(123456789);
    expect((await image.lstat('/fifo')).isFIFO()).toBe(true);
    expect((await image.readFile('/copy.bin')).subarray(3).every((b) => b === 0)).toBe(true);
  });

  it('answers errors with the right errno', async () => {
    const r = await sh('python3', ['-c', String.raw`
import os, sys, errno
M = sys.argv[1]
def e(f, *a):
    try: f(*a); return 'OK'
    except OSError as x: return errno.errorcode[x.errno]
print(e(os.mkdir, M + '/etc'))
print(e(os.rmdir, M + '/etc'))
print(e(os.unlink, M + '/bin'))
print(e(os.rename, M + '/a', M + '/a/b/inside'))
print(e(os.link, M + '/bin', M + '/bin2'))
print(e(os.open, M + '/nope/x', os.O_CREAT | os.O_WRONLY))
print(e(os.removexattr, M + '/new.txt', 'user.none'))
`, mnt]);
    expect(r.stderr).toBe('');
    expect(r.stdout.toString().split('\n')).toEqual(['EEXIST', 'ENOTEMPTY', 'EISDIR', 'EINVAL', 'EPERM', 'ENOENT', 'ENODATA', '']);
  });

  it('keeps an unlinked open file readable and writable until closed', async () => {
    const r = await sh('python3', ['-c', String.raw`
import os, sys
p = sys.argv[1] + '/tmpfile'
fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o600)
os.write(fd, b'abc')
os.unlink(p)
os.pwrite(fd, b'Z', 1)
print(os.pread(fd, 10, 0).decode(), os.path.exists(p))
os.close(fd)
`, mnt]);
    expect(r.stderr).toBe('');
    expect(r.stdout.toString()).toBe('aZc False\n');
  });

  it('answers like the library for a seeded random sequence of operations (KernelOps on a mount vs ImageFs)', async () => {
    // Two in-memory uppers over the same image: one mounted and changed by python3 through the
    // kernel, one changed through the library. Device nodes and the absolute symlink go first:
    // through the mount they lead to the host's devices and the host's /etc/hostname.
    const served = await openImage(ref, { upper: {} });
    const lib = await openImage(ref, { upper: {} });
    const mnt2 = await mountDir(tmp.path, 'oracle');
    mountpoints.push(mnt2);
    const m2 = await mount(served.tree, mnt2);
    const kernel = new KernelOps(mnt2);
    try {
      expect(await kernel.apply({ op: 'unlink', a: '/dev/null' })).toBe('OK');
      for (const d of ['/dev/wide', '/dev/loop0', '/abs']) {
        expect(await kernel.apply({ op: 'unlink', a: d })).toBe('OK');
        await lib.unlink(d);
      }
      await lib.unlink('/dev/null');
      // ImageFs takes a raw name in a string path as UTF-8 (U+FFFD), not as the byte its walk
      // means by it: a path the library cannot name would make the two differ for that reason alone.
      expect(await kernel.apply({ op: 'unlink', a: `/data/${RAW_NAME}` })).toBe('OK');
      await lib.unlink(Buffer.concat([Buffer.from('/data/'), encodeRawName(RAW_NAME)]));
      const next = opGenerator(1234);
      const mismatches: string[] = [];
      for (let i = 0; i < 1000; i++) {
        const op = next(await pathsOf(lib));
        const viaMount = await kernel.apply(op);
        const viaLib = await applyToImageFs(lib, op);
        if (viaMount !== viaLib) mismatches.push(`${i}: ${JSON.stringify(op)}: mount ${viaMount}, library ${viaLib}`);
      }
      expect(mismatches).toEqual([]);
      // The final trees: through the mount (find) and through both libraries, with attributes and bytes.
      const { all } = await pathsOf(lib);
      const found = (await sh('find', [mnt2, '-mindepth', '1', '-printf', '/%P\\n'])).stdout.toString().split('\n').filter(Boolean);
      expect(found.sort()).toEqual(all.filter((p) => p !== '/').sort());
      expect((await pathsOf(served)).all).toEqual(all);
      for (const p of all) {
        const [a, b] = [await served.lstat(p), await lib.lstat(p)];
        expect({ p, mode: a.mode, size: a.size, nlink: a.nlink, uid: a.uid, gid: a.gid }).toEqual({ p, mode: b.mode, size: b.size, nlink: b.nlink, uid: b.uid, gid: b.gid });
        if (a.isFile()) expect(sha256(await served.readFile(p)), p).toBe(sha256(await lib.readFile(p)));
      }
    } finally {
      await kernel.close();
      await m2.unmount({ lazy: true });
      await served.close();
      await lib.close();
    }
  }, 60_000);
});

describe('imagefs mount --writable --upper DIR', () => {
  it('keeps the changes across mounts: the CLI over the same upper directory shows them', async () => {
    await image.sync();
    await m.unmount();
    expect(await mountCount(mnt)).toBe(0);
    await image.close();
    const server = await startMountServer(bundle, ['--no-cache', 'mount', ref, mnt, '--writable', '--upper', upperDir], testHome(), servers);
    expect(await shell(`cat $M/new.txt; readlink $M/etc/abs-moved; echo again >> $M/new.txt; stat -c %s $M/data2/big.bin`))
      .toBe(`hello\nmore\n/etc/hostname\n${BIG_SIZE}\n`);
    expect(await server.stop('SIGINT')).toBe(0);
    expect(server.stderr()).toBe('');
    expect(await mountCount(mnt)).toBe(0);
    // The library over the directory the CLI left (compacted at unmount) sees the last write too.
    image = await openImage(ref, { upper: upperDir });
    expect((await image.readFile('/new.txt')).toString()).toBe('hello\nmore\nagain\n');
  }, 60_000);

  it('imagefs run --writable gives CMD a writable root in memory', async () => {
    const r = await sh(bundle, ['--no-cache', 'run', ref, '--writable', '--', '/bin/busybox', 'sh', '-c', 'echo x > /etc/new; busybox cat /etc/new; busybox rm /bin/ping; busybox ls /bin'], { env: testHome() });
    expect(r.stderr).toBe('');
    expect(r.stdout.toString()).toBe('x\nbusybox\nping6\nsh\n');
    expect(r.code).toBe(0);
  }, 60_000);
});
