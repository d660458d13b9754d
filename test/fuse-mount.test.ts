// The FUSE server through the library API: mount an opened image's tree, then look at it with
// ordinary programs run as async child processes (never synchronously from this process).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ImageError } from '../src/errors/image-fs-error.js';
import type { ImageFs } from '../src/fs/image-fs.js';
import { mount, type FuseEvent, type FuseMount } from '../src/fuse/index.js';
import { openImage } from '../src/open/open-image.js';
import { encodeRawName } from '../src/tar/raw-name.js';
import { ROOT_INO, type FileContent, type FsTree } from '../src/tree/types.js';
import { BIG_SIZE, forceUnmount, fuseImage, fuseLayout, MANY, mountCount, mountDir, RAW_NAME, requireFuse, sh, walkPaths } from './fuse-fixture.js';
import { tempDir } from './layout-fixtures.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let image: ImageFs;
let tree: FsTree;
let mnt: string;
let m: FuseMount;
const events: FuseEvent[] = [];
const mountpoints: string[] = [];

/** The inode at an image path (no symlinks followed). */
function inoAt(t: FsTree, path: string): number {
  let ino = ROOT_INO;
  for (const part of path.split('/').filter(Boolean)) {
    ino = t.lookup(ino, part);
    if (ino === 0) throw new Error(`no ${path}`);
  }
  return ino;
}

async function bytesOf(path: string): Promise<Buffer> {
  const content = tree.content(inoAt(tree, path));
  return content.read(0, content.size);
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  requireFuse();
  tmp = await tempDir('fuse-mount');
  image = await openImage(await fuseLayout(tmp.path, await fuseImage()));
  tree = image.tree;
  mnt = await mountDir(tmp.path, 'mnt');
  mountpoints.push(mnt);
  m = await mount(tree, mnt, { onEvent: (e) => events.push(e) });
});

afterAll(async () => {
  await m?.unmount({ lazy: true }).catch(() => {});
  await forceUnmount(mountpoints);
  await image?.close();
  await tmp?.cleanup();
});

describe('mount(tree, mountpoint)', () => {
  it('lists directories as ls does, with . and .. and every kind of file', async () => {
    const r = await sh('ls', ['-la', mnt]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const names = r.stdout.toString().trim().split('\n').slice(1).map((l) => l.split(/\s+/).slice(8).join(' '));
    expect(names).toEqual(['.', '..', 'abs -> /etc/hostname', 'bin', 'data', 'dev', 'etc', 'many', 'usrbin -> bin', 'work']);
    const dev = (await sh('ls', ['-ln', join(mnt, 'dev')])).stdout.toString();
    expect(dev).toMatch(/^crw-rw-rw- 1 0 0 +1, +3 .* null$/m);
    expect(dev).toMatch(/^brw-rw---- 1 0 6 +7, +0 .* loop0$/m);
    expect(events[0]).toMatchObject({ type: 'mounted', mountpoint: mnt, protocol: '7.31' });
  });

  it('serves file bytes: cat and sha256sum match the image, the big file across 1 MiB reads', async () => {
    expect((await sh('cat', [join(mnt, 'etc/hostname')])).stdout.toString()).toBe('box\n');
    expect((await sh('cat', [join(mnt, 'usrbin/ping6')])).stdout.toString()).toBe('PING');
    expect((await sh('cat', [join(mnt, 'data/empty')])).stdout.length).toBe(0);
    for (const path of ['data/big.bin', 'bin/busybox']) {
      const r = await sh('sha256sum', [join(mnt, path)]);
      expect(r.stdout.toString().split(' ')[0]).toBe(sha256(await bytesOf(path)));
    }
    expect(tree.content(inoAt(tree, 'data/big.bin')).size).toBe(BIG_SIZE);
    const tail = await sh('dd', [`if=${join(mnt, 'data/big.bin')}`, 'bs=1000', `skip=${Math.floor(BIG_SIZE / 1000) - 1}`, 'status=none']);
    expect(tail.stdout).toEqual((await bytesOf('data/big.bin')).subarray((Math.floor(BIG_SIZE / 1000) - 1) * 1000));
  });

  it('reads symlinks and reports stat fields: mode, owner, size, nanosecond mtime, links, inode, devices', async () => {
    expect((await sh('readlink', [join(mnt, 'bin/sh'), join(mnt, 'usrbin'), join(mnt, 'abs')])).stdout.toString()).toBe('busybox\nbin\n/etc/hostname\n');
    const fmt = '%n|%f|%u|%g|%s|%y|%h|%i|%t:%T|%B';
    const paths = ['etc/hostname', 'bin/ping', 'bin/ping6', 'dev/null', 'dev/wide', 'bin/sh', 'work/dir', 'data/big.bin'];
    const r = await sh('stat', ['-c', fmt, ...paths.map((p) => join(mnt, p))]);
    expect(r.stderr).toBe('');
    const lines = r.stdout.toString().trim().split('\n');
    expect(lines[0]).toBe(`${join(mnt, 'etc/hostname')}|81a0|7|8|4|2020-09-13 12:26:40.500000000 +0000|1|${inoAt(tree, 'etc/hostname')}|0:0|512`);
    expect(lines[1]).toMatch(/\|89ed\|0\|0\|4\|2023-11-14 22:13:20.000000000 \+0000\|2\|/);
    expect(lines[1]!.split('|')[7]).toBe(lines[2]!.split('|')[7]); // hard links: one inode
    expect(lines[3]).toMatch(/\|21b6\|0\|0\|0\|.*\|1:3\|/);
    expect(lines[4]).toMatch(/\|2180\|.*\|12c:11170\|/); // major 300, minor 70000: the kernel's new_encode_dev
    expect(lines[5]).toMatch(/\|a1ff\|0\|0\|7\|/);
    expect(lines[6]).toMatch(/\|41ed\|1000\|1000\|4096\|/);
    expect(lines[7]!.split('|')[4]).toBe(String(BIG_SIZE));
    for (const [i, p] of paths.entries()) {
      const a = tree.attrs(inoAt(tree, p));
      expect(parseInt(lines[i]!.split('|')[1]!, 16)).toBe(a.mode);
      expect(Number(lines[i]!.split('|')[6])).toBe(a.nlink);
    }
  });

  it('shows extended attributes: getfattr dumps them, getcap shows the file capability', async () => {
    const dump = await sh('getfattr', ['--absolute-names', '-d', '-m', '-', join(mnt, 'bin/ping'), join(mnt, 'etc/note')]);
    expect(dump.stdout.toString()).toBe(`# file: ${join(mnt, 'bin/ping')}\nsecurity.capability=0sAQAAAgAgAAAAAAAAAAAAAAAAAAA=\n\n# file: ${join(mnt, 'etc/note')}\nuser.comment="a note"\n\n`);
    const cap = await sh('getcap', [join(mnt, 'bin/ping'), join(mnt, 'bin/ping6')]);
    expect(cap.stdout.toString()).toBe(`${join(mnt, 'bin/ping')} cap_net_raw=ep\n${join(mnt, 'bin/ping6')} cap_net_raw=ep\n`);
    const missing = await sh('getfattr', ['--absolute-names', '-n', 'user.nope', join(mnt, 'etc/note')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No such attribute');
  });

  it('find lists exactly the tree (whiteouts gone, raw names as bytes, a directory that takes many READDIRs)', async () => {
    const r = await sh('find', [mnt]);
    expect(r.code).toBe(0);
    const found = r.stdout.subarray(0, -1).toString('latin1').split('\n').map((s) => Buffer.from(s, 'latin1')).sort(Buffer.compare);
    expect(found.map((b) => b.toString('latin1'))).toEqual(walkPaths(tree, mnt).map((b) => b.toString('latin1')));
    expect(found.some((b) => b.equals(Buffer.concat([Buffer.from(`${mnt}/data/`), encodeRawName(RAW_NAME)])))).toBe(true);
    expect(found.some((b) => b.toString().endsWith('/etc/gone'))).toBe(false);
    const many = await sh('ls', ['-f', join(mnt, 'many')]);
    expect(many.stdout.toString().trim().split('\n')).toHaveLength(MANY + 2);
    const plus = await sh('ls', ['-lU', join(mnt, 'many')]);
    expect(plus.stdout.toString().trim().split('\n')).toHaveLength(MANY + 1);
  });

  it('runs busybox chrooted in the image', async () => {
    const r = await sh('chroot', [mnt, '/bin/busybox', 'sh', '-c', 'busybox cat /etc/hostname /abs; cd /usrbin && busybox ls ping*; busybox readlink /bin/sh; echo x > /etc/new || echo ro']);
    expect(r.stdout.toString()).toBe('box\nbox\nping\nping6\nbusybox\nro\n');
    expect(r.stderr).toMatch(/Read-only file system/);
  });

  it('answers many concurrent reads, out of order, all correct', async () => {
    const want = sha256(await bytesOf('data/big.bin'));
    const jobs = [
      ...Array.from({ length: 12 }, () => sh('sha256sum', [join(mnt, 'data/big.bin')]).then((r) => expect(r.stdout.toString().split(' ')[0]).toBe(want))),
      ...Array.from({ length: 40 }, (_, i) => sh('cat', [join(mnt, `many/entry-${String(i * 7).padStart(4, '0')}-with-a-longer-name`)])
        .then((r) => expect(r.stdout.toString()).toBe(`${i * 7}\n`))),
      ...Array.from({ length: 12 }, (_, i) => sh('dd', [`if=${join(mnt, 'data/big.bin')}`, 'bs=4096', `skip=${i * 97}`, 'count=3', 'status=none'])
        .then(async (r) => expect(r.stdout).toEqual((await bytesOf('data/big.bin')).subarray(i * 97 * 4096, (i * 97 + 3) * 4096)))),
    ];
    await Promise.all(jobs);
  });

  it('refuses writes with EROFS', async () => {
    for (const args of [['touch', join(mnt, 'new')], ['mkdir', join(mnt, 'd')], ['rm', '-f', join(mnt, 'etc/hostname')], ['chmod', '600', join(mnt, 'etc/hostname')]]) {
      const r = await sh(args[0]!, args.slice(1));
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr).toContain('Read-only file system');
    }
  });
});

describe('reads that fail or wait', () => {
  let failing: FuseMount | undefined;
  let release: () => void = () => {};
  afterEach(async () => {
    release();
    await failing?.unmount({ lazy: true }).catch(() => {});
    failing = undefined;
  });

  /** The tree with two files replaced: one whose fetch fails, one whose bytes wait for `release`. */
  function trickyTree(): FsTree {
    const bad = inoAt(tree, 'data/big.bin');
    const slow = inoAt(tree, 'etc/note');
    const gate = new Promise<void>((done) => { release = done; });
    const failingContent: FileContent = {
      size: BIG_SIZE,
      readInto: () => Promise.reject(new ImageError('Unavailable', 'layer fetch failed: registry answered 503')),
      read: () => Promise.reject(new ImageError('Unavailable', 'layer fetch failed')),
    };
    const real = tree.content(slow);
    const slowContent: FileContent = {
      size: real.size,
      readInto: async (...args) => { await gate; return real.readInto(...args); },
      read: async (...args) => { await gate; return real.read(...args); },
    };
    const t = Object.create(tree) as FsTree;
    t.content = (ino: number) => (ino === bad ? failingContent : ino === slow ? slowContent : tree.content(ino));
    return t;
  }

  it('a failed layer fetch is EIO, not a hang, and a slow read blocks nobody else', async () => {
    const dir = await mountDir(tmp.path, 'tricky');
    mountpoints.push(dir);
    const seen: FuseEvent[] = [];
    failing = await mount(trickyTree(), dir, { onEvent: (e) => seen.push(e) });
    const slow = sh('cat', [join(dir, 'etc/note')]);
    const r = await sh('cat', [join(dir, 'data/big.bin')], { timeoutMs: 10_000 });
    expect(r.signal).toBe(null);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Input/output error');
    expect(seen.some((e) => e.type === 'io-error' && e.op === 'read')).toBe(true);
    expect((await sh('cat', [join(dir, 'etc/hostname')], { timeoutMs: 10_000 })).stdout.toString()).toBe('box\n');
    release();
    expect((await slow).stdout.toString()).toBe('hello');
  });

  it('unmount() ends the mount: closed resolves and the mount table has no entry', async () => {
    const dir = await mountDir(tmp.path, 'short');
    mountpoints.push(dir);
    const seen: FuseEvent[] = [];
    const short = await mount(tree, dir, { onEvent: (e) => seen.push(e) });
    expect(await mountCount(dir)).toBe(1);
    expect((await sh('cat', [join(dir, 'etc/hostname')])).stdout.toString()).toBe('box\n');
    await short.unmount();
    await short.closed;
    expect(await mountCount(dir)).toBe(0);
    expect(seen.map((e) => e.type)).toEqual(['mounted', 'unmounted']);
  });

  it('an abort signal unmounts', async () => {
    const dir = await mountDir(tmp.path, 'signalled');
    mountpoints.push(dir);
    const controller = new AbortController();
    const handle = await mount(tree, dir, { signal: controller.signal });
    expect((await sh('ls', [dir])).code).toBe(0);
    controller.abort();
    await handle.closed;
    expect(await mountCount(dir)).toBe(0);
  });
});

describe('round trips: what the kernel asks again', () => {
  const handles: FuseMount[] = [];
  afterAll(async () => {
    for (const h of handles) await h.unmount({ lazy: true }).catch(() => {});
  });

  /** Runs `cat` on `paths` and returns the requests it cost, by opcode. */
  /** Requests `cat PATHS` costs; `releases`: every OPEN is answered (not ENOSYS), so each gets a RELEASE to wait for. */
  async function cost(h: FuseMount, dir: string, paths: string[], releases = false): Promise<Record<string, number>> {
    const before = h.requestCounts();
    const r = await sh('cat', paths.map((p) => join(dir, p)));
    expect(r.code).toBe(0);
    // The kernel sends RELEASE in the background after the last close: `cat` may exit before it
    // arrives. Each answered OPEN gets its RELEASE, so wait (bounded) until they match.
    const delta = (k: string): number => (h.requestCounts()[k] ?? 0) - (before[k] ?? 0);
    for (let waited = 0; releases && delta('RELEASE') < delta('OPEN') && waited < 5000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    const after = h.requestCounts();
    return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => v !== 0));
  }

  it('zero-message opens: after the first, opening, reading and closing cached files sends nothing', async () => {
    const dir = await mountDir(tmp.path, 'zero-open');
    mountpoints.push(dir);
    const seen: FuseEvent[] = [];
    const h = await mount(tree, dir, { onEvent: (e) => seen.push(e) });
    handles.push(h);
    const files = ['etc/hostname', 'data/big.bin', 'bin/busybox'];
    const first = await cost(h, dir, files);
    expect(seen[0]).toMatchObject({ type: 'mounted', zeroMessageOpen: true }); // Linux >= 5.1 offers both
    expect(first['OPEN']).toBe(1); // answered ENOSYS once; the kernel stops asking
    expect(first['RELEASE']).toBeUndefined();
    expect(first['READ']).toBeGreaterThanOrEqual(3);
    expect(await cost(h, dir, files)).toEqual({}); // page cache kept, no OPEN, READ or RELEASE
    const ls = await sh('ls', ['-R', dir]);
    expect(ls.code).toBe(0);
    const before = h.requestCounts();
    expect((await sh('ls', ['-R', dir])).stdout).toEqual(ls.stdout);
    expect(h.requestCounts()).toEqual(before); // listings cached: no OPENDIR, READDIR or RELEASEDIR
    expect(before['RELEASEDIR']).toBeUndefined();
    const again = await sh('sha256sum', [join(dir, 'data/big.bin')]);
    expect(again.stdout.toString().split(' ')[0]).toBe(sha256(await bytesOf('data/big.bin')));
  });

  it('zeroMessageOpen: false opens with a round trip each time, and still keeps the page cache', async () => {
    const dir = await mountDir(tmp.path, 'with-open');
    mountpoints.push(dir);
    const seen: FuseEvent[] = [];
    const h = await mount(tree, dir, { zeroMessageOpen: false, onEvent: (e) => seen.push(e) });
    handles.push(h);
    const files = ['etc/hostname', 'data/big.bin'];
    const first = await cost(h, dir, files, true);
    expect(seen[0]).toMatchObject({ type: 'mounted', zeroMessageOpen: false });
    expect(first).toMatchObject({ OPEN: 2, RELEASE: 2 });
    expect(await cost(h, dir, files, true)).toEqual({ OPEN: 2, RELEASE: 2 }); // FOPEN_KEEP_CACHE: no READ
  });

  it('mount() takes a tree still opening; a rejected one mounts nothing', async () => {
    const dir = await mountDir(tmp.path, 'promised');
    mountpoints.push(dir);
    let resolveTree!: (t: FsTree) => void;
    const pending = mount(new Promise<FsTree>((done) => { resolveTree = done; }), dir);
    resolveTree(tree);
    const h = await pending;
    handles.push(h);
    expect((await sh('cat', [join(dir, 'etc/hostname')])).stdout.toString()).toBe('box\n');
    await h.unmount();
    const failed = await mountDir(tmp.path, 'promised-fail');
    mountpoints.push(failed);
    await expect(mount(Promise.reject(new ImageError('NotFound', 'no such image')), failed)).rejects.toThrow('no such image');
    expect(await mountCount(failed)).toBe(0);
  });
});

describe('readahead', () => {
  it('raises the kernel readahead of the mount with readaheadKiB; by default leaves the kernel\'s', async () => {
    const bdi = async (dir: string): Promise<string> => {
      const line = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((l) => l.split(' ')[4] === dir)!;
      return (await readFile(`/sys/class/bdi/${line.split(' ')[2]}/read_ahead_kb`, 'utf8')).trim();
    };
    for (const kib of [1024, undefined]) {
      const dir = await mountDir(tmp.path, `ra-${kib ?? 'default'}`);
      mountpoints.push(dir);
      let onMounted!: (e: FuseEvent) => void;
      const mounted = new Promise<FuseEvent>((done) => { onMounted = done; });
      const h = await mount(tree, dir, { ...(kib === undefined ? {} : { readaheadKiB: kib }), onEvent: (e) => { if (e.type === 'mounted') onMounted(e); } });
      // The first access waits for INIT; 'mounted' follows once the readahead is set.
      expect((await sh('cat', [join(dir, 'etc/hostname')])).stdout.toString()).toBe('box\n');
      const event = await mounted;
      if (event.type !== 'mounted') throw new Error('unreachable');
      if (kib !== undefined) expect(event.maxReadahead).toBe(1 << 20);
      else expect(event.maxReadahead).toBeLessThan(1 << 20); // the kernel's own (128 KiB on Linux 6)
      expect(await bdi(dir)).toBe(String(event.maxReadahead / 1024));
      await h.unmount();
    }
  });
});
