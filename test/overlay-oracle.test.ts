import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportTo } from '../src/fs/export.js';
import { ImageFs } from '../src/fs/image-fs.js';
import {
  buildImage, charDevice, dir, fifo, file, hardlink, kitchenSinkLayers, opaque, readDiskTree, runTool, symlink, whiteout, writeLayout,
  type TarRecord,
} from '../src/testing/builder/index.js';
import { fsOf, layersFromLayout } from './helpers/overlay-layers.js';
import { diffTrees, extractForOverlay, imageFsTree, mountOverlay, tempDir } from './helpers/overlay-trees.js';

// These tests need root, umoci, GNU tar, setfattr/getfattr, mknod and overlayfs: they fail (never skip) without them.

/** Kitchen sink plus a layer of replacements: last-wins in one layer, dir over dir, file over dir, whiteout of a hardlinked file. */
function umociLayers(): TarRecord[][] {
  return [...kitchenSinkLayers(), [
    file('etc/passwd', 'v1'), file('etc/passwd', 'v2\n'),
    dir('srv', { mode: 0o750, uid: 5, gid: 6, xattrs: { 'user.srv': 'top' } }),
    file('var/cache', 'a file replaces the directory'),
    whiteout('usr/bin/ping'),
    symlink('etc/passwd-link', '../etc/passwd'),
    dir('run', { mode: 0o755 }), fifo('run/initctl', { mode: 0o640 }),
  ]];
}

describe('oracle: umoci unpack', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let rootfs: string;
  let fs: ImageFs;

  beforeAll(async () => {
    expect(process.getuid?.()).toBe(0);
    tmp = await tempDir('overlay-oracle-umoci-');
    const image = await buildImage({ layers: umociLayers().map((entries) => ({ entries })) });
    const layout = join(tmp.dir, 'layout');
    await writeLayout(layout, [{ image, tag: 't' }]);
    await runTool('umoci', ['unpack', '--image', `${layout}:t`, join(tmp.dir, 'bundle')]);
    rootfs = join(tmp.dir, 'bundle', 'rootfs');
    fs = await ImageFs.fromLayers(await layersFromLayout(layout, 't'));
  });
  afterAll(async () => { await tmp?.cleanup(); });

  it('ImageFs.walk equals umoci\'s rootfs: types, modes, owners, sizes, sha256, targets, devices, xattrs, hardlinks', async () => {
    const expected = await readDiskTree(rootfs);
    expect(expected.size).toBeGreaterThan(30);
    expect(diffTrees(expected, await imageFsTree(fs), { links: true, mtime: true })).toEqual([]);
    expect(fs.warnings).toEqual([]);
  });

  it('exportTo writes the same rootfs as umoci (mtimes and hardlinks included), and refuses a non-empty directory', async () => {
    const out = join(tmp.dir, 'export');
    const summary = await exportTo(fs, out);
    expect(summary.notes).toEqual([]);
    expect(summary.hardlinks).toBeGreaterThan(0);
    expect(summary.xattrs).toBeGreaterThan(0);
    expect(diffTrees(await readDiskTree(rootfs), await readDiskTree(out), { links: true, mtime: true })).toEqual([]);
    await expect(exportTo(fs, out)).rejects.toMatchObject({ code: 'ENOTEMPTY', syscall: 'export', path: out });
  });
});

/** Layers for the kernel overlay: every merge rule, symlinked whiteout parents, no cross-layer hardlinks. */
function overlayLayers(): TarRecord[][] {
  return [
    [
      dir('real'), file('real/secret', 's'), file('real/other', 'o'), symlink('abs', '/real'), symlink('rel', 'real'),
      dir('d'), file('d/lower1', '1'), dir('d/lowerdir'), file('d/lowerdir/x', 'x'), file('d/both', 'lower'),
      dir('keep', { xattrs: { 'user.k': 'v' } }), file('keep/f', 'f'), file('hl-src', 'shared', { mode: 0o4711 }), hardlink('hl-dst', 'hl-src'),
      dir('dev'), charDevice('dev/zero', 1, 5, { mode: 0o666 }), fifo('dev/pipe'), dir('shared', { mode: 0o2775, gid: 50 }),
      dir('m', { mode: 0o755, uid: 1 }), file('m/lower', 'l'),
    ],
    [
      opaque('abs'), whiteout('rel/secret'),
      dir('d', { mode: 0o700 }), file('d/new-before', 'n'), file('d/both', 'upper'), opaque('d'), file('d/new-after', 'a'),
      dir('m', { mode: 0o751, uid: 2, xattrs: { 'user.m': 'upper' } }), file('m/upper', 'u'),
      file('twice', 'first'), file('twice', 'second'),
    ],
    [
      dir('real'), whiteout('real/other'), file('keep', 'a file replaces the directory'),
      dir('newdir', { uid: 3 }), file('newdir/a', 'a'), symlink('dev/pipe', '/dev/zero'),
    ],
  ];
}

describe('oracle: kernel overlayfs', () => {
  it('ImageFs.walk equals a read-only overlay mount of the layers', async () => {
    expect(process.getuid?.()).toBe(0);
    const tmp = await tempDir('overlay-oracle-kernel-');
    const mnt = join(tmp.dir, 'mnt');
    let unmount: (() => Promise<void>) | undefined;
    try {
      const layers = overlayLayers();
      const image = await buildImage({ layers: layers.map((entries) => ({ entries, compression: 'none' as const })) });
      const dirs = await extractForOverlay(image.layers.map((l) => l.tar), tmp.dir);
      await mkdir(mnt);
      unmount = await mountOverlay(dirs, mnt);
      const expected = await readDiskTree(mnt);
      const fs = await fsOf(layers);
      expect(expected.get('real/secret')?.type).toBe('file');
      expect(diffTrees(expected, await imageFsTree(fs), { links: true })).toEqual([]);
      // The comparison can fail: without the top layer, the trees differ.
      expect(diffTrees(expected, await imageFsTree(await fsOf(layers.slice(0, 2))), { links: true }).length).toBeGreaterThan(3);
    } finally {
      await unmount?.();
      await tmp.cleanup();
    }
  });
});
