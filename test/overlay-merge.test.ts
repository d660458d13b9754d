import { describe, expect, it } from 'vitest';
import { ImageFsError } from '../src/errors/index.js';
import { mergeLayers } from '../src/overlay/merge.js';
import { makedev, major, minor } from '../src/overlay/file-type.js';
import { charDevice, dir, fifo, file, hardlink, opaque, symlink, whiteout, type TarRecord } from '../src/testing/builder/index.js';
import { fsOf, layerFromRecords } from './helpers/overlay-layers.js';

/** A record the builder's helpers refuse to make (unsafe names): written raw. */
function raw(path: string, extra: Partial<TarRecord> = {}): TarRecord {
  return { path, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000, data: new TextEncoder().encode('evil'), ...extra };
}

async function names(fs: Awaited<ReturnType<typeof fsOf>>): Promise<string[]> {
  const out: string[] = [];
  for await (const { path } of fs.walk('/')) out.push(path);
  return out;
}

describe('overlay merge: whiteouts', () => {
  it('a .wh.NAME hides the lower file and is never visible itself', async () => {
    const fs = await fsOf([[dir('etc'), file('etc/a', 'A'), file('etc/b', 'B')], [dir('etc'), whiteout('etc/a')]]);
    expect(await fs.readdir('/etc')).toEqual(['b']);
    await expect(fs.stat('/etc/.wh.a')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a whiteout of a directory removes its whole subtree', async () => {
    const fs = await fsOf([[dir('d'), dir('d/e'), file('d/e/f', 'x'), file('keep', 'k')], [whiteout('d')]]);
    expect(await names(fs)).toEqual(['/', '/keep']);
  });

  it('a whiteout hides only lower layers: the same layer may add the path, before or after the whiteout', async () => {
    const fs = await fsOf([[file('a', 'old'), file('b', 'old')], [file('a', 'new'), whiteout('a'), whiteout('b'), file('b', 'newer')]]);
    expect(await fs.readFile('/a', 'utf8')).toBe('new');
    expect(await fs.readFile('/b', 'utf8')).toBe('newer');
  });

  it('an opaque marker placed after its siblings hides lower children but keeps the ones this layer adds', async () => {
    const fs = await fsOf([
      [dir('d'), file('d/lower1', '1'), dir('d/lowerdir'), file('d/lowerdir/x', 'x'), file('d/both', 'lower')],
      [dir('d', { mode: 0o700 }), file('d/new-before', 'n'), file('d/both', 'upper'), opaque('d'), file('d/new-after', 'm')],
    ]);
    expect(await fs.readdir('/d')).toEqual(['both', 'new-after', 'new-before']);
    expect(await fs.readFile('/d/both', 'utf8')).toBe('upper');
    expect((await fs.stat('/d')).mode & 0o7777).toBe(0o700);
  });

  it('an opaque marker in a directory that exists only below still empties it', async () => {
    const fs = await fsOf([[dir('d'), file('d/x', 'x')], [opaque('d')]]);
    expect((await fs.stat('/d')).isDirectory()).toBe(true);
    expect(await fs.readdir('/d')).toEqual([]);
  });

  it('an opaque marker or whiteout never reaches through a symlink (absolute or relative)', async () => {
    const fs = await fsOf([
      [dir('real'), file('real/secret', 's'), file('real/other', 'o'), symlink('abs', '/real'), symlink('rel', 'real')],
      [opaque('abs'), whiteout('rel/secret')],
    ]);
    expect(await fs.readdir('/real')).toEqual(['other', 'secret']);
    // The symlinks' places became directories, as overlayfs shows such a layer.
    expect((await fs.lstat('/abs')).isDirectory()).toBe(true);
    expect((await fs.lstat('/rel')).isDirectory()).toBe(true);
    expect(fs.warnings.map((w) => [w.code, w.layer])).toEqual([['PARENT_NOT_DIRECTORY', 1], ['PARENT_NOT_DIRECTORY', 1]]);
  });

  it('an entry under a lower symlink does not land in the symlink target', async () => {
    const fs = await fsOf([[dir('etc'), file('etc/passwd', 'root'), symlink('link', '/etc')], [file('link/passwd', 'evil')]]);
    expect(await fs.readFile('/etc/passwd', 'utf8')).toBe('root');
    expect(await fs.readFile('/link/passwd', 'utf8')).toBe('evil');
  });

  it('meta whiteouts other than the opaque marker are skipped with a warning', async () => {
    const fs = await fsOf([[file('a', 'a')], [raw('.wh..wh.plnk', { data: new Uint8Array(0) })]]);
    expect(await fs.readdir('/')).toEqual(['a']);
    expect(fs.warnings[0]).toMatchObject({ code: 'UNSUPPORTED_WHITEOUT', layer: 1, path: '.wh..wh.plnk' });
  });
});

describe('overlay merge: replacement', () => {
  it('a directory over a directory merges; the upper attributes and xattrs win', async () => {
    const fs = await fsOf([
      [dir('d', { mode: 0o755, uid: 1, xattrs: { 'user.old': 'o' } }), file('d/lower', 'l')],
      [dir('d', { mode: 0o750, uid: 2, gid: 3, mtime: 1_800_000_000, xattrs: { 'user.new': 'n' } }), file('d/upper', 'u')],
    ]);
    const st = await fs.stat('/d');
    expect([st.mode & 0o7777, st.uid, st.gid, st.mtimeMs]).toEqual([0o750, 2, 3, 1_800_000_000_000]);
    expect(await fs.listxattr('/d')).toEqual(['user.new']);
    expect(await fs.readdir('/d')).toEqual(['lower', 'upper']);
  });

  it('a file replacing a directory removes the lower subtree', async () => {
    const fs = await fsOf([[dir('d'), dir('d/e'), file('d/e/f', 'x')], [file('d', 'now a file')]]);
    expect(await fs.readFile('/d', 'utf8')).toBe('now a file');
    await expect(fs.stat('/d/e')).rejects.toMatchObject({ code: 'ENOTDIR', syscall: 'stat', path: '/d/e' });
  });

  it('a directory replacing a file or symlink starts empty', async () => {
    const fs = await fsOf([[file('a', 'x'), symlink('b', 'a')], [dir('a'), dir('b')]]);
    expect((await fs.lstat('/a')).isDirectory()).toBe(true);
    expect((await fs.lstat('/b')).isDirectory()).toBe(true);
  });

  it('a path repeated in one layer: the last entry wins', async () => {
    const fs = await fsOf([[file('a', 'first'), file('a', 'second'), dir('b'), file('b/x', 'x'), file('b', 'file wins'), symlink('c', 'x'), file('c', 'f'), dir('c', { mode: 0o711 })]]);
    expect(await fs.readFile('/a', 'utf8')).toBe('second');
    expect(await fs.readFile('/b', 'utf8')).toBe('file wins');
    expect((await fs.lstat('/c')).mode).toBe(0o040711);
  });

  it('missing parents become directories 0755 owned by root', async () => {
    const fs = await fsOf([[file('x/y/z', 'deep', { uid: 5 })]]);
    for (const p of ['/x', '/x/y']) {
      const st = await fs.stat(p);
      expect([st.isDirectory(), st.mode & 0o7777, st.uid, st.gid]).toEqual([true, 0o755, 0, 0]);
    }
    expect((await fs.stat('/x/y/z')).uid).toBe(5);
  });

  it('the root entry of a layer sets the root attributes', async () => {
    const fs = await fsOf([[{ ...dir('x'), path: '' } as TarRecord, file('a', 'a')], [{ ...dir('x', { mode: 0o700, uid: 9 }), path: '' } as TarRecord]]);
    const st = await fs.stat('/');
    expect([st.mode, st.uid]).toEqual([0o040700, 9]);
    expect(await fs.readdir('/')).toEqual(['a']);
  });
});

describe('overlay merge: hardlinks', () => {
  it('a hardlink to a lower layer shares the inode; replacing the target later keeps the old bytes', async () => {
    const fs = await fsOf([
      [dir('bin'), file('bin/a', 'payload', { mode: 0o4755, uid: 7 })],
      [hardlink('bin/b', 'bin/a')],
    ]);
    const [a, b] = [await fs.stat('/bin/a'), await fs.stat('/bin/b')];
    expect(b.ino).toBe(a.ino);
    expect([a.nlink, b.nlink, b.mode, b.uid, b.size]).toEqual([2, 2, 0o104755, 7, 7]);
    expect(await fs.readFile('/bin/b', 'utf8')).toBe('payload');

    const fs2 = await fsOf([[file('a', 'old')], [hardlink('b', 'a')], [file('a', 'new')]]);
    expect(await fs2.readFile('/b', 'utf8')).toBe('old');
    expect(await fs2.readFile('/a', 'utf8')).toBe('new');
    expect([(await fs2.stat('/a')).nlink, (await fs2.stat('/b')).nlink]).toEqual([1, 1]);
  });

  it('hardlinks inside one layer, to symlinks and devices; nlink counts every name', async () => {
    const fs = await fsOf([[file('f', 'x'), hardlink('g', 'f'), hardlink('h', 'g'), symlink('s', 'f'), hardlink('s2', 's'), charDevice('null', 1, 3), hardlink('null2', 'null')]]);
    expect((await fs.stat('/h')).nlink).toBe(3);
    expect(await fs.readlink('/s2')).toBe('f');
    expect((await fs.lstat('/s2')).nlink).toBe(2);
    expect((await fs.lstat('/null2')).rdev).toBe(makedev(1, 3));
  });

  it('a hardlink whose target is missing, a directory, or escapes is skipped with a warning', async () => {
    const fs = await fsOf([[dir('d'), file('etc-passwd', 'p'), hardlink('l1', 'nope'), hardlink('l2', 'd'), raw('l3', { type: 'hardlink', linkTarget: '../../etc-passwd', data: undefined }), hardlink('l4', 'later'), file('later', 'x')]]);
    expect(await fs.readdir('/')).toEqual(['d', 'etc-passwd', 'later']);
    expect(fs.warnings.map((w) => [w.code, w.path])).toEqual([
      ['HARDLINK_TARGET_MISSING', 'l1'], ['HARDLINK_TO_DIRECTORY', 'l2'], ['UNSAFE_LINK_TARGET', 'l3'], ['HARDLINK_TARGET_MISSING', 'l4'],
    ]);
  });

  it('an absolute hardlink target is taken from the image root', async () => {
    const fs = await fsOf([[file('a', 'A'), raw('b', { type: 'hardlink', linkTarget: '/a', data: undefined })]]);
    expect((await fs.stat('/b')).ino).toBe((await fs.stat('/a')).ino);
  });
});

describe('overlay merge: unsafe entries and special files', () => {
  it('names with ".." components are skipped and recorded; strict mode throws InvalidArgument', async () => {
    const layers = [[raw('a/../../etc/evil'), raw('../x'), file('ok', 'ok')]];
    const fs = await fsOf(layers);
    expect(await names(fs)).toEqual(['/', '/ok']);
    expect(fs.warnings.map((w) => [w.code, w.path])).toEqual([['UNSAFE_PATH', 'a/../../etc/evil'], ['UNSAFE_PATH', '../x']]);
    const err = await fsOf(layers, { strict: true }).catch((e: unknown) => e);
    expect(ImageFsError.is(err) && err.code).toBe('InvalidArgument');
  });

  it('a NUL in a name is skipped', async () => {
    const layer = layerFromRecords([file('ok', 'ok')]);
    const entries = await layer.entries();
    const tree = await mergeLayers([{ entries: async () => [...entries, { ...entries[0]!, path: 'bad\0name' }] }]);
    expect(tree.warnings.map((w) => w.code)).toEqual(['UNSAFE_PATH']);
    expect(tree.nodeCount).toBe(2);
  });

  it('devices and FIFOs are reported with rdev, open, and are never read as files', async () => {
    const fs = await fsOf([[dir('dev'), charDevice('dev/null', 1, 3, { mode: 0o666 }), charDevice('dev/big', 300, 70000), fifo('dev/fifo')]]);
    const st = await fs.stat('/dev/null');
    expect([st.isCharacterDevice(), st.mode, st.rdev, st.size]).toEqual([true, 0o020666, makedev(1, 3), 0]);
    const big = await fs.stat('/dev/big');
    expect([major(big.rdev), minor(big.rdev)]).toEqual([300, 70000]);
    expect((await fs.stat('/dev/fifo')).isFIFO()).toBe(true);
    await expect(fs.readFile('/dev/null')).rejects.toMatchObject({ code: 'EINVAL', syscall: 'read', path: '/dev/null' });
    // As on Linux, a FIFO opens; its bytes are not the image's to serve.
    const fh = await fs.open('/dev/fifo');
    await expect(fh.read(Buffer.alloc(1))).rejects.toMatchObject({ code: 'EINVAL', syscall: 'read', path: '/dev/fifo' });
  });

  it('loads one layer table at a time, each once', async () => {
    const layers = [layerFromRecords([file('a', '1')]), layerFromRecords([file('b', '2')]), layerFromRecords([file('c', '3')])];
    let inFlight = 0;
    let maxInFlight = 0;
    const wrapped = layers.map((l) => ({ entries: async () => { inFlight++; maxInFlight = Math.max(maxInFlight, inFlight); const e = await l.entries(); inFlight--; return e; } }));
    const tree = await mergeLayers(wrapped);
    expect(maxInFlight).toBe(1);
    expect(layers.map((l) => l.loads)).toEqual([1, 1, 1]);
    expect(tree.nodeCount).toBe(4);
  });
});
