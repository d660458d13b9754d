import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageFs } from '../src/fs/image-fs.js';
import { openImage } from '../src/open/open-image.js';
import {
  blockDevice, buildImage, charDevice, dir, fifo, file, hardlink, opaque, readDiskTree, runTool, sparseFile, symlink, whiteout, writeLayout,
  type TarRecord,
} from '../src/testing/builder/index.js';
import { CALLS, parityDiffs, RECURSIVE_CALLS } from './helpers/parity.js';
import { tempDir } from './helpers/overlay-trees.js';

// The parity runner: an image made by the test bench is unpacked with umoci, and the same
// node:fs/promises calls are made on the unpacked tree (node:fs) and on ImageFs; outcomes (values,
// or error code and syscall) must be equal call for call. Needs root and umoci: fails without them.
//
// Excepted, as the issue allows: calls that resolve through a link whose host resolution leaves the
// rootfs (links under /chroot, `..` above a link to the root), and
// reads of devices and FIFOs (their bytes are not the image's to serve; opening them is compared).

const T = 1_700_000_000;

function layers(): TarRecord[][] {
  return [
    [
      dir('etc'), file('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n', { mtime: T + 1 }),
      file('etc/shadow', 'root:*:19000:0:99999:7:::\n', { mode: 0o640, gid: 42 }),
      dir('usr'), dir('usr/bin'), dir('usr/lib'),
      file('usr/bin/tool', { seed: 1, size: 70_000 }, { mode: 0o4755 }),
      file('usr/bin/plain', 'no exec bits', { mode: 0o644 }),
      file('usr/lib/libx.so.1', { seed: 2, size: 5000 }, { mode: 0o755, uid: 4_294_967_294, gid: 3_000_000_000 }),
      symlink('usr/lib/libx.so', 'libx.so.1'),
      symlink('lib', 'usr/lib'),
      symlink('bin', 'usr/bin'),
      dir('tmp', { mode: 0o1777 }),
      dir('srv', { mode: 0o2775, uid: 7, gid: 8 }),
      file('srv/a', 'aaaa'), hardlink('srv/a-link', 'srv/a'), hardlink('usr/a-link2', 'srv/a'),
      symlink('srv/chain1', 'chain2'), symlink('srv/chain2', 'chain3'), symlink('srv/chain3', 'a'),
      symlink('srv/dangling', 'nowhere/at/all'),
      symlink('srv/loop1', 'loop2'), symlink('srv/loop2', 'loop1'), symlink('srv/self', 'self'),
      symlink('srv/dirlink', '../usr/lib'), symlink('srv/dirlink2', 'dirlink'),
      symlink('srv/up', '..'), symlink('srv/dot', '.'),
      symlink('srv/through-file', 'a/x'),
      dir('dev'), charDevice('dev/null', 1, 3, { mode: 0o666 }), blockDevice('dev/loop9', 7, 9, { mode: 0o660 }), fifo('dev/fifo', { mode: 0o620 }),
      dir('chroot'), symlink('chroot/abs', '/etc/passwd'), symlink('chroot/root', '/'), symlink('chroot/escape', '../../../../../etc'),
      symlink('chroot/abs-dir', '/usr/lib'),
      dir('var'), dir('var/cache'), file('var/cache/old', 'old'), dir('var/cache/keep'),
      file('empty', ''),
      // nanosecond PAX times (one before 1970), names that are not UTF-8, sparse files
      dir('ns'), dir('sparse'),
      file('ns/precise', 'p', { mtimeNs: 1_796_602_753_443_999_999n }),
      file('ns/pre-epoch', 'q', { mtimeNs: -1_234_567_891n }),
      dir(Buffer.from([0x6c, 0x61, 0x74, 0x69, 0x6e, 0xe9])), file(Buffer.from([0x6c, 0x61, 0x74, 0x69, 0x6e, 0xe9, 0x2f, 0xff, 0xfe]), 'raw name'),
      symlink(Buffer.from([0x72, 0x61, 0x77, 0x2d, 0x6c, 0x69, 0x6e, 0x6b]), Buffer.from([0x6c, 0x61, 0x74, 0x69, 0x6e, 0xe9, 0x2f, 0xff, 0xfe])),
      sparseFile('sparse/pax10', { size: 3 << 20, segments: [[0, 'head'], [1 << 20, { seed: 9, size: 4096 }]], format: 'pax-1.0' }),
      sparseFile('sparse/pax01', { size: 200_000, segments: [[65_536, 'middle']], format: 'pax-0.1' }),
    ],
    [
      whiteout('etc/shadow'), opaque('var/cache'), file('var/cache/new', 'new', { mtime: T + 5 }),
      file('srv/a', 'replaced in layer 2 (breaks the hardlink group of a-link)'),
      hardlink('srv/cross-layer', 'usr/bin/plain'),
      dir('usr/lib', { mode: 0o750 }),
    ],
  ];
}

/** Paths to try besides those of the tree: odd spellings, missing names, walking through files and links. */
function extraPaths(tree: readonly string[]): string[] {
  const out = ['/', '//', '/.', '/..', '/../etc', '/missing', '/missing/x', '/etc/', '/etc/.', '/etc/..', '/etc//passwd', '/./etc/./passwd', 'etc/passwd', 'srv/../etc/passwd'];
  for (const p of tree) if (!p.startsWith('/chroot/')) out.push(`${p}/`, `${p}/.`, `${p}/..`, `${p}/x`);
  return out;
}

describe('parity: node:fs on umoci\'s rootfs and ImageFs, call for call', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let rootfs: string;
  let fs: ImageFs;
  let treePaths: string[];
  let kinds: Map<string, string>;

  beforeAll(async () => {
    expect(process.getuid?.(), 'the parity runner needs root (umoci unpack of devices and owners)').toBe(0);
    tmp = await tempDir('fs-parity-');
    const image = await buildImage({ layers: layers().map((entries) => ({ entries })) });
    const layout = join(tmp.dir, 'layout');
    await writeLayout(layout, [{ image, tag: 't' }]);
    await runTool('umoci', ['unpack', '--image', `${layout}:t`, join(tmp.dir, 'bundle')]);
    rootfs = join(tmp.dir, 'bundle', 'rootfs');
    fs = await openImage(`oci:${layout}:t`);
    const disk = await readDiskTree(rootfs, { xattrs: false });
    treePaths = [...disk.keys()].map((p) => `/${p}`);
    kinds = new Map([...disk.values()].map((n) => [`/${n.path}`, n.type]));
  }, 60_000);
  afterAll(async () => {
    await fs?.close();
    await tmp?.cleanup();
  });

  it('the unpacked tree is the one the layers describe (so the comparison can fail)', () => {
    expect(treePaths).toContain('/srv/chain1');
    expect(treePaths).not.toContain('/etc/shadow');
    expect(treePaths).not.toContain('/var/cache/old');
    expect(kinds.get('/dev/fifo')).toBe('fifo');
    expect(kinds.get('/dev/loop9')).toBe('block');
    expect(treePaths).toContain('/latin\udce9/\udcff\udcfe');
    expect(treePaths).toContain('/sparse/pax10');
  });

  it('every call gives the same value or the same error, on every path', async () => {
    const special = (p: string): boolean => ['fifo', 'char', 'block'].includes(kinds.get(p) ?? '') || /^\/dev\/(null|loop9|fifo)\/?\.?$/.test(p);
    const readCalls = new Set(['readFile', 'open-read-position', 'open-write']);
    const { diffs, compared } = await parityDiffs(rootfs, fs, [...treePaths, ...extraPaths(treePaths)], {
      chrootSensitive: (p) => p.startsWith('/chroot/'),
      // `..` above the root (directly, or after /srv/up, a link to the root) stays at the root in a chroot.
      escapes: (p) => p.startsWith('/..') || p.startsWith('/srv/up/..'),
      skip: (call, p) => readCalls.has(call) && special(p),
    });
    expect(diffs).toEqual([]);
    expect(compared).toBeGreaterThan(treePaths.length * CALLS.length * 2);
  });

  it('recursive listings (readdir string and Dirent forms, opendir) equal node:fs on subtrees without escaping links', async () => {
    const { diffs, compared } = await parityDiffs(rootfs, fs, ['/usr', '/var', '/etc', '/dev', '/lib', '/lib/', '/srv/dirlink2', '/missing', '/etc/passwd'], { calls: RECURSIVE_CALLS });
    expect(diffs).toEqual([]);
    expect(compared).toBe(9 * RECURSIVE_CALLS.length);
  });

  it('chroot semantics where the host would leave the root: `..` stays, absolute links restart at the image root', async () => {
    const root = await fs.lstat('/', { bigint: true });
    for (const p of ['/..', '/../..', '/srv/up/..', '/srv/up/../..']) expect((await fs.lstat(p, { bigint: true })).ino, p).toBe(root.ino);
    expect(await fs.realpath('/../etc')).toBe('/etc');
    expect(await fs.readFile('/chroot/abs', 'utf8')).toBe(await fs.readFile('/etc/passwd', 'utf8'));
    expect(await fs.realpath('/chroot/escape')).toBe('/etc');
    expect((await fs.readdir('/chroot/root/')).sort()).toEqual((await fs.readdir('/')).sort());
    expect(await fs.realpath('/chroot/abs-dir/libx.so')).toBe('/usr/lib/libx.so.1');
  });
});
