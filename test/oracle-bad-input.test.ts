import { lstat, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImageFsError } from '../src/errors/index.js';
import { exportTo } from '../src/fs/export.js';
import { ImageFs } from '../src/fs/image-fs.js';
import { openImage } from '../src/open/open-image.js';
import { buildImage, dir, file, hardlink, readDiskTree, runTool, symlink, writeLayout, writeTar, type TarRecord } from '../src/testing/builder/index.js';
import { errorShapes } from './helpers/oracle-errors.js';
import { fsOf, layerFromTar } from './helpers/overlay-layers.js';
import { diffTrees, imageFsTree, tempDir } from './helpers/overlay-trees.js';

// Bad input: typed errors or the documented safe choice (docs/merge.md), never a crash, never a
// byte outside the root. Oracles: umoci unpack, and node:fs on an exported copy.

let tmp: { dir: string; cleanup: () => Promise<void> };
beforeEach(async () => { tmp = await tempDir('oracle-bad-'); });
afterEach(async () => { await tmp.cleanup(); });

/** A record the builder's helpers refuse to make (unsafe names or links): written raw. */
function raw(path: string, extra: Partial<TarRecord> = {}): TarRecord {
  return { path, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000, data: new TextEncoder().encode('evil'), ...extra };
}

/** Rewrites the size field of the first header of `tar` (12 bytes at 124) and fixes its checksum. */
function withSizeField(tar: Uint8Array, field: Uint8Array): Uint8Array {
  const out = tar.slice();
  out.set(field, 124);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : out[i]!;
  out.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
  return out;
}

describe('conflicting entries in one layer (oracle: umoci unpack)', () => {
  it('a file and a directory of one name, both orders, with children; a symlink and a file; the last entry wins as umoci applies it', async () => {
    const layers: TarRecord[][] = [
      [dir('a'), file('a/lower', 'l'), file('b', 'b'), dir('c'), file('c/keep', 'k'), file('s', 's')],
      [
        file('a', 'file over dir'), dir('a', { mode: 0o750 }), file('a/new', 'n'),
        dir('b'), file('b/child', 'c'), file('b', 'file again', { mode: 0o600 }),
        dir('c', { mode: 0o700, uid: 3 }), file('c/added', 'a'),
        symlink('s', 'b'), file('s', 'file over symlink'),
        file('d', 'x'), symlink('d', 'a/new'),
        dir('e'), dir('e/f'), file('e/f/g', 'g'), file('e', 'file over a tree'),
      ],
    ];
    const image = await buildImage({ layers: layers.map((entries) => ({ entries })) });
    const layout = join(tmp.dir, 'layout');
    await writeLayout(layout, [{ image, tag: 't' }]);
    await runTool('umoci', ['unpack', '--image', `${layout}:t`, join(tmp.dir, 'bundle')]);
    const expected = await readDiskTree(join(tmp.dir, 'bundle', 'rootfs'));
    expect(expected.get('a')?.type).toBe('dir');
    expect(expected.has('a/lower')).toBe(false);
    const fs = await openImage(`oci:${layout}:t`);
    expect(diffTrees(expected, await imageFsTree(fs), { links: true, mtime: true })).toEqual([]);
    expect(fs.warnings).toEqual([]);
    await fs.close();
  });
});

describe('hardlinks to missing or outside targets', () => {
  it('are skipped with a warning (or InvalidArgument with strict); the export never links a host file', async () => {
    const layers = [
      [dir('etc'), symlink('hostetc', '/etc'), file('real', 'r')],
      [
        hardlink('h-missing', 'nope/nothing'),
        raw('h-dotdot', { type: 'hardlink', linkTarget: '../../../../etc/passwd', data: undefined }),
        raw('h-abs', { type: 'hardlink', linkTarget: '/etc/passwd', data: undefined }),
        raw('h-through-symlink', { type: 'hardlink', linkTarget: 'hostetc/passwd', data: undefined }),
        hardlink('h-ok', 'real'),
      ],
    ];
    const fs = await fsOf(layers);
    expect(fs.warnings.map((w) => [w.code, w.path])).toEqual([
      ['HARDLINK_TARGET_MISSING', 'h-missing'], ['UNSAFE_LINK_TARGET', 'h-dotdot'], ['HARDLINK_TARGET_MISSING', 'h-abs'],
      ['HARDLINK_TARGET_MISSING', 'h-through-symlink'],
    ]);
    expect(await fs.readdir('/')).toEqual(['etc', 'h-ok', 'hostetc', 'real']);
    const out = join(tmp.dir, 'out');
    await exportTo(fs, out);
    const host = await stat('/etc/passwd');
    for (const name of await readdir(out)) expect((await lstat(join(out, name))).ino, name).not.toBe(host.ino);
    expect((await lstat(join(out, 'h-ok'))).ino).toBe((await lstat(join(out, 'real'))).ino);
    const err = await fsOf(layers, { strict: true }).catch((e: unknown) => e);
    expect(ImageFsError.is(err) && [err.code, err.message]).toEqual(['InvalidArgument', expect.stringContaining('h-missing')]);
  });

  it('a NUL in a PAX linkpath or path refuses the layer (DataLoss naming the record), as Go\'s archive/tar does', async () => {
    for (const record of [{ linkpath: 'real\0/../etc' }, { path: 'evil\0name' }] as Record<string, string>[]) {
      const err = await fsOf([[file('real', 'r'), { ...hardlink('h-nul', 'real'), pax: record }]]).catch((e: unknown) => e);
      expect(ImageFsError.is(err) && [err.code, err.message]).toEqual(['DataLoss', expect.stringMatching(/value holds a NUL byte/)]);
    }
  });
});

describe('symlink loops (oracle: node:fs on the exported tree)', () => {
  const layers: TarRecord[][] = [[
    symlink('self', 'self'), symlink('ping', 'pong'), symlink('pong', 'ping'),
    dir('d'), symlink('d/x', '../d/x'), symlink('deep', 'deep/a/b'), symlink('up', '../../../up'),
    symlink('dir-loop', 'd/../dir-loop/'), file('f', 'f'), symlink('f-slash', 'f/'),
  ]];
  // Not '/up' (`../../../up`): on the host it leaves the exported tree; inside the image root it loops.
  const paths = ['/self', '/ping', '/pong/', '/d/x', '/d/x/y', '/deep', '/dir-loop', '/self/z', '/f-slash', '/f/', '/f/x', '/missing', '/d/missing/x'];

  it('every call gives the code, errno, syscall and path node:fs gives on the same tree', async () => {
    const fs = await fsOf(layers);
    const out = join(tmp.dir, 'out');
    await exportTo(fs, out);
    expect(await errorShapes(fs, out, paths)).toEqual([]);
    const loop = await fs.stat('/ping').catch((e: NodeJS.ErrnoException) => e);
    expect(loop).toMatchObject({ code: 'ELOOP', errno: -40, syscall: 'stat', path: '/ping' });
    await expect(fs.readFile('/up')).rejects.toMatchObject({ code: 'ELOOP', errno: -40, syscall: 'open', path: '/up' });
  });

  it('lstat, readlink and walk never follow a loop', async () => {
    const fs = await fsOf(layers);
    expect(await fs.readlink('/ping')).toBe('pong');
    expect((await fs.lstat('/self')).isSymbolicLink()).toBe(true);
    const walked: string[] = [];
    for await (const { path } of fs.walk('/')) walked.push(path);
    expect(walked).toEqual(['/', '/d', '/d/x', '/deep', '/dir-loop', '/f', '/f-slash', '/ping', '/pong', '/self', '/up']);
  });
});

describe('names with NUL or ".." components', () => {
  it('tar names and PAX paths with ".." are skipped; whiteouts named ".." or "." hide nothing', async () => {
    const tar = writeTar([
      dir('a'), file('a/x', 'x'), file('top', 't'),
      { ...file('placeholder1', 'e'), pax: { path: '../evil' } },
      { ...file('placeholder2', 'e'), pax: { path: 'a/../../escape' } },
      raw('a/.wh...', { data: new Uint8Array(0) }), raw('a/.wh..', { data: new Uint8Array(0) }), raw('.wh..', { data: new Uint8Array(0) }),
      raw('./a/./y', { data: new TextEncoder().encode('y') }), raw('//abs//z', { data: new TextEncoder().encode('z') }),
    ]);
    const fs = await ImageFs.fromLayers([layerFromTar(tar)]);
    const walked: string[] = [];
    for await (const { path } of fs.walk('/')) walked.push(path);
    expect(walked).toEqual(['/', '/a', '/a/x', '/a/y', '/abs', '/abs/z', '/top']);
    expect(fs.warnings.map((w) => w.code)).toEqual(['UNSAFE_PATH', 'UNSAFE_PATH', 'UNSUPPORTED_WHITEOUT', 'UNSUPPORTED_WHITEOUT', 'UNSUPPORTED_WHITEOUT']);
  });

  it('paths given by callers or symlinks with ".." stay in the image root; NUL in a path is ENOENT', async () => {
    const fs = await fsOf([[dir('etc'), file('etc/passwd', 'image passwd\n'), symlink('etc/up', '../../../../../../etc/passwd'), symlink('shadow', '../../../etc/shadow')]]);
    expect(await fs.readFile('/../../../../etc/passwd', 'utf8')).toBe('image passwd\n');
    expect(await fs.readFile('../../etc/up', 'utf8')).toBe('image passwd\n');
    expect(await fs.realpath('/etc/up')).toBe('/etc/passwd');
    expect(await fs.realpath('/../..')).toBe('/');
    await expect(fs.readFile('/shadow')).rejects.toMatchObject({ code: 'ENOENT', syscall: 'open', path: '/shadow' });
    await expect(fs.stat('/etc/\0passwd')).rejects.toMatchObject({ code: 'ENOENT', syscall: 'stat' });
  });
});

describe('absurd sizes', () => {
  const small = writeTar([file('a', 'hello'), file('b', 'x')]);
  const cases: [string, Uint8Array, RegExp][] = [
    ['an octal size of 8 GiB in a 3 KiB blob', withSizeField(small, new TextEncoder().encode('77777777777\0')), /ends at offset \d+ inside the data of 'a'/],
    ['a base-256 size past 2^53', withSizeField(small, new Uint8Array([0x80, ...new Array<number>(11).fill(0xff)])), /malformed or too large size field/],
    ['a negative base-256 size', withSizeField(small, new Uint8Array(12).fill(0xff)), /negative size/],
    ['a PAX size of 20 digits', writeTar([{ ...file('a', 'hello'), pax: { size: '99999999999999999999' } }]), /PAX record size="9+" of 'a' at offset \d+ is too large/],
    ['a PAX size past the end', writeTar([{ ...file('a', 'hello'), pax: { size: '1000000' } }]), /more bytes were expected/],
  ];

  it.each(cases)('%s: openImage fails with DataLoss naming the layer', async (_name, tar, message) => {
    const image = await buildImage({ layers: [{ entries: [file('ok', 'ok')] }, { tar }] });
    const layout = join(tmp.dir, 'layout');
    await writeLayout(layout, [{ image, tag: 't' }]);
    const err = await openImage(`oci:${layout}:t`).catch((e: unknown) => e);
    expect(ImageFsError.is(err)).toBe(true);
    expect(err).toMatchObject({ code: 'DataLoss', message: expect.stringMatching(message) });
    expect((err as Error).message).toContain(image.layers[1]!.descriptor.digest);
  });
});

describe('export never writes a byte outside DIR', () => {
  it('symlinks planted by the image towards a host directory stay symlinks; nothing lands behind them', async () => {
    const outside = join(tmp.dir, 'outside');
    await mkdir(outside);
    const layers: TarRecord[][] = [
      [
        symlink('etc', outside), file('etc/passwd', 'through the link?'),
        symlink('rel', `../../../../../../..${outside}`), symlink('d', outside), dir('d'), file('d/f', 'f'),
        symlink('to-file', `${outside}/planted`), symlink('root', '/'),
      ],
      [file('rel/x', 'x'), hardlink('hl', 'to-file'), file('etc/shadow', 's'), dir('root/tmp'), file('root/tmp/y', 'y')],
    ];
    const fs = await fsOf(layers);
    expect(fs.warnings.map((w) => w.code)).toEqual(['PARENT_NOT_DIRECTORY', 'PARENT_NOT_DIRECTORY', 'PARENT_NOT_DIRECTORY']);
    const out = join(tmp.dir, 'out');
    const summary = await exportTo(fs, out);
    expect(await readdir(outside)).toEqual([]);
    expect(summary).toMatchObject({ symlinks: 1, hardlinks: 1 });
    const tree = await readDiskTree(out);
    expect(diffTrees(await imageFsTree(fs), tree, { links: true, mtime: true })).toEqual([]);
    expect(tree.get('to-file')).toMatchObject({ type: 'symlink', linkTarget: `${outside}/planted`, nlink: 2 });
    expect(tree.get('etc/passwd')?.type).toBe('file');
  });
});
