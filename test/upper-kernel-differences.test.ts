import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageFs } from '../src/fs/image-fs.js';
import { buildImage, dir, file, hardlink, symlink, type TarRecord } from '../src/testing/builder/index.js';
import { UpperTree } from '../src/upper/upper-tree.js';
import { fsOf } from './helpers/overlay-layers.js';
import { extractForOverlay, tempDir } from './helpers/overlay-trees.js';
import { applyToImageFs, KernelOps, mountWritable, type Op } from './helpers/upper-oracle.js';

// Needs root, GNU tar, setfattr, python3 and kernel overlayfs: fails (never skips) without them.

const layers = (): TarRecord[][] => [[
  dir('d'), file('d/x', 'x'), file('h1', 'shared'), hardlink('h2', 'h1'), symlink('s0', 'd'), symlink('s1', 'h1'), symlink('s2', 'nowhere'), symlink('s3', 'd/x'),
  file('t', 't'),
]];

/**
 * The deliberate differences from a kernel overlayfs mount with Debian's defaults here
 * (`redirect_dir=off`, `index=off`), each shown on both: the kernel's answer and imagefs's.
 */
describe('deliberate differences from overlayfs with redirect_dir=off, index=off', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let mnt: string;
  let unmount: () => Promise<void>;
  let kernel: KernelOps;
  let fs: ImageFs;
  beforeAll(async () => {
    expect(process.getuid?.()).toBe(0);
    tmp = await tempDir('upper-kernel-diff-');
    const image = await buildImage({ layers: layers().map((entries) => ({ entries, compression: 'none' as const })) });
    const lowers = await extractForOverlay(image.layers.map((l) => l.tar), tmp.dir);
    ({ mnt, unmount } = await mountWritable(lowers, tmp.dir, ',redirect_dir=off,index=off'));
    kernel = new KernelOps(mnt);
    fs = new ImageFs(UpperTree.open((await fsOf(layers())).tree));
  });
  afterAll(async () => { await kernel?.close(); await unmount?.(); await tmp?.cleanup(); });

  const both = async (op: Op): Promise<[string, string]> => [await kernel.apply(op), await applyToImageFs(fs, op)];

  it('lower symlinks rename with every flag on both (no ENXIO), and stay links', async () => {
    expect(await both({ op: 'rename', a: '/s0', b: '/m0', flags: 0 })).toEqual(['OK', 'OK']);
    expect(await both({ op: 'rename', a: '/s1', b: '/m1', flags: 1 })).toEqual(['OK', 'OK']);
    expect(await both({ op: 'rename', a: '/s2', b: '/s3', flags: 2 })).toEqual(['OK', 'OK']);
    expect(await fs.readlink('/s3')).toBe('nowhere');
  });

  it('a lower directory: the kernel refuses the rename with EXDEV, imagefs renames it', async () => {
    expect(await both({ op: 'rename', a: '/d', b: '/d2', flags: 0 })).toEqual(['EXDEV', 'OK']);
    expect(await fs.readFile('/d2/x', 'utf8')).toBe('x');
  });

  it('RENAME_WHITEOUT: overlayfs refuses it with EINVAL, imagefs honours it', async () => {
    expect(await both({ op: 'rename', a: '/t', b: '/t2', flags: 4 })).toEqual(['EINVAL', 'OK']);
  });

  it('hardlinks: a write through one name splits them in the kernel (index=off), imagefs keeps one inode', async () => {
    expect(await both({ op: 'write', a: '/h1', offset: 0, data: Buffer.from('SH').toString('hex') })).toEqual(['OK', 'OK']);
    expect([await readFile(join(mnt, 'h1'), 'utf8'), await readFile(join(mnt, 'h2'), 'utf8')]).toEqual(['SHared', 'shared']);
    expect([await fs.readFile('/h1', 'utf8'), await fs.readFile('/h2', 'utf8')]).toEqual(['SHared', 'SHared']);
  });
});
