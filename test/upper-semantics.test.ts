import { constants as fsc } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { constants } from '../src/constants.js';
import { ImageFs } from '../src/fs/image-fs.js';
import { dir, file, hardlink, randomBytes, symlink, type TarRecord } from '../src/testing/builder/index.js';
import type { FileContent, FsTree } from '../src/tree/types.js';
import { UpperTree, type UpperOptions } from '../src/upper/upper-tree.js';
import { fsOf } from './helpers/overlay-layers.js';
import { imageFsTree } from './helpers/overlay-trees.js';

const BIG = 4 << 20;

function layers(): TarRecord[][] {
  return [[
    dir('etc'), file('etc/passwd', 'root\n'), symlink('etc/link', 'passwd'), symlink('abs', '/etc/passwd'), symlink('dirlink', 'etc'),
    dir('d'), file('d/x', 'x'), dir('d/sub'), file('d/sub/y', 'y'), file('h1', 'shared'), hardlink('h2', 'h1'), dir('empty'), dir('full'), file('full/f', 'f'),
    file('big', randomBytes(3, BIG)),
  ]];
}

/** The lower tree with a count of the file bytes read from it. */
class CountingTree {
  bytes = 0;
  constructor(readonly inner: FsTree) {}
  wrap(): FsTree {
    return new Proxy(this.inner, {
      get: (t, key, recv) => {
        if (key === 'content') {
          return (ino: number): FileContent => {
            const c = t.content(ino);
            return {
              size: c.size,
              readInto: async (into, at, length, position, o) => { const n = await c.readInto(into, at, length, position, o); this.bytes += n; return n; },
              read: async (position, length, o) => { const b = await c.read(position, length, o); this.bytes += b.length; return b; },
            };
          };
        }
        const v = Reflect.get(t, key, recv) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
  }
}

async function writable(options: UpperOptions = {}): Promise<{ fs: ImageFs; upper: UpperTree; lower: CountingTree }> {
  const lower = new CountingTree((await fsOf(layers())).tree);
  const upper = UpperTree.open(lower.wrap(), options);
  return { fs: new ImageFs(upper), upper, lower };
}

describe('copy-up', () => {
  it('metadata-only changes copy no data; a write to one block of a big lower file reads none of it', async () => {
    const { fs, upper, lower } = await writable();
    await fs.chmod('/big', 0o600);
    await fs.chown('/big', 5, 6);
    await fs.utimes('/big', 1n, 2n);
    await fs.setxattr('/big', 'user.a', 'b');
    expect(lower.bytes).toBe(0);
    expect(upper.writtenBytes).toBe(0);
    expect(upper.dataChanged(upper.lookup(1, 'big'))).toBe(false);
    const fh = await fs.open('/big', 'r+');
    await fh.write(Buffer.from('ZZZZ'), 0, 4, 2_000_000);
    await fh.close();
    expect(lower.bytes).toBe(0);
    expect(upper.writtenBytes).toBe(4);
    const around = await fs.open('/big');
    const { buffer } = await around.read(Buffer.alloc(8), 0, 8, 1_999_998);
    await around.close();
    const orig = randomBytes(3, BIG);
    expect([...buffer]).toEqual([orig[1_999_998], orig[1_999_999], 0x5a, 0x5a, 0x5a, 0x5a, orig[2_000_004], orig[2_000_005]]);
    expect(lower.bytes).toBe(4); // only the bytes around the write came from the lower file
    expect((await fs.stat('/big')).mode & 0o7777).toBe(0o600);
  });

  it('truncating a lower file copies nothing; growing it again shows zeros, not the old bytes', async () => {
    const { fs, upper, lower } = await writable();
    await fs.truncate('/big', 10);
    await fs.truncate('/big', 20);
    expect(upper.writtenBytes).toBe(0);
    const data = await fs.readFile('/big');
    expect([...data.subarray(0, 10)]).toEqual([...randomBytes(3, 10)]);
    expect([...data.subarray(10)]).toEqual(new Array(10).fill(0));
    expect(lower.bytes).toBe(10);
  });

  it('hardlinks stay one inode after a write through one name (overlayfs index=on behaviour)', async () => {
    const { fs } = await writable();
    await fs.appendFile('/h1', '+more');
    expect(await fs.readFile('/h2', 'utf8')).toBe('shared+more');
    const [a, b] = [await fs.stat('/h1'), await fs.stat('/h2')];
    expect(a.ino).toBe(b.ino);
    expect(a.nlink).toBe(2);
    await fs.unlink('/h1');
    expect((await fs.stat('/h2')).nlink).toBe(1);
    await fs.link('/h2', '/h3');
    expect((await fs.stat('/h3')).nlink).toBe(2);
  });
});

describe('rename', () => {
  it('a lower symlink renames as a link with every flag (never followed, never ENXIO)', async () => {
    const { fs } = await writable();
    await fs.rename('/etc/link', '/l0');
    expect(await fs.readlink('/l0')).toBe('passwd');
    await fs.rename('/abs', '/l1', constants.RENAME_NOREPLACE);
    expect(await fs.readlink('/l1')).toBe('/etc/passwd');
    await fs.rename('/l1', '/dirlink', constants.RENAME_EXCHANGE);
    expect([await fs.readlink('/l1'), await fs.readlink('/dirlink')]).toEqual(['etc', '/etc/passwd']);
    await fs.rename('/l1', '/l2', constants.RENAME_WHITEOUT);
    expect(await fs.readlink('/l2')).toBe('etc');
    await expect(fs.lstat('/l1')).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await fs.readFile('/etc/passwd', 'utf8'))).toBe('root\n');
  });

  it('a lower directory renames without copying (its subtree keeps its lower data), also into a moved directory', async () => {
    const { fs, upper, lower } = await writable();
    await fs.rename('/d', '/e2');
    await fs.rename('/full', '/e2/sub/full');
    expect(upper.writtenBytes).toBe(0);
    expect(lower.bytes).toBe(0);
    expect(await fs.readFile('/e2/sub/full/f', 'utf8')).toBe('f');
    expect(await fs.realpath('/e2/sub/full/..')).toBe('/e2/sub');
    await expect(fs.lstat('/d')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await fs.readdir('/')).toEqual(['abs', 'big', 'dirlink', 'e2', 'empty', 'etc', 'h1', 'h2']);
  });

  it('flags and types give the errors Linux gives, and a failed rename changes nothing', async () => {
    const { fs } = await writable();
    const before = await imageFsTree(fs);
    const cases: [string, string, number, string][] = [
      ['/etc/passwd', '/h1', constants.RENAME_NOREPLACE, 'EEXIST'],
      ['/etc/passwd', '/nope', constants.RENAME_EXCHANGE, 'ENOENT'],
      ['/nope', '/x', 0, 'ENOENT'],
      ['/d', '/d/sub/inside', 0, 'EINVAL'],
      ['/d/sub', '/d', 0, 'ENOTEMPTY'],
      ['/d/sub', '/d', constants.RENAME_EXCHANGE, 'EINVAL'],
      ['/d', '/full', 0, 'ENOTEMPTY'],
      ['/d', '/h1', 0, 'ENOTDIR'],
      ['/h1', '/d', 0, 'EISDIR'],
      ['/h1', '/x', constants.RENAME_EXCHANGE | constants.RENAME_NOREPLACE, 'EINVAL'],
      ['/h1', '/x', 8, 'EINVAL'],
      ['/', '/x', 0, 'EBUSY'],
      ['/h1/', '/x', 0, 'ENOTDIR'],
    ];
    for (const [a, b, flags, code] of cases) {
      await expect(fs.rename(a, b, flags), `${a} ${b} ${flags}`).rejects.toMatchObject({ code, syscall: 'rename', path: a, dest: b });
    }
    expect(await imageFsTree(fs)).toEqual(before);
  });

  it('a directory replaces an empty directory; EXCHANGE swaps a file with a directory; renaming a name onto its own hardlink does nothing', async () => {
    const { fs } = await writable();
    await fs.rename('/d', '/empty');
    expect(await fs.readdir('/empty')).toEqual(['sub', 'x']);
    await fs.rename('/empty', '/h1', constants.RENAME_EXCHANGE);
    expect((await fs.lstat('/h1')).isDirectory()).toBe(true);
    expect(await fs.readFile('/empty', 'utf8')).toBe('shared');
    await fs.rename('/empty', '/h2');
    expect((await fs.readdir('/')).includes('empty')).toBe(true);
  });

  it('EXDEV across ImageFs instances', async () => {
    const a = await writable();
    const b = await writable();
    await expect(a.fs.renameTo('/h1', b.fs, '/h1')).rejects.toMatchObject({ code: 'EXDEV', errno: -18, syscall: 'rename', path: '/h1', dest: '/h1' });
    await a.fs.renameTo('/h1', a.fs, '/h9');
    expect((await a.fs.lstat('/h9')).isFile()).toBe(true);
  });
});

describe('whiteouts and opaque directories', () => {
  it('removing a lower entry hides it; removing a lower directory and making it again gives an empty directory', async () => {
    const { fs, upper } = await writable();
    await fs.unlink('/etc/passwd');
    expect(await fs.readdir('/etc')).toEqual(['link']);
    await fs.rm('/d', { recursive: true });
    await fs.mkdir('/d');
    expect(await fs.readdir('/d')).toEqual([]);
    const d = upper.lookup(1, 'd');
    expect(upper.isLowerInode(d)).toBe(false);
    await fs.writeFile('/etc/passwd', 'new');
    expect(await fs.readFile('/etc/passwd', 'utf8')).toBe('new');
  });
});

describe('bad input', () => {
  it('read-only without an upper: every write fails with EROFS', async () => {
    const fs = await fsOf(layers());
    const calls: [string, () => Promise<unknown>][] = [
      ['writeFile', () => fs.writeFile('/n', 'x')], ['mkdir', () => fs.mkdir('/n')], ['rm', () => fs.rm('/h1')], ['unlink', () => fs.unlink('/h1')],
      ['rename', () => fs.rename('/h1', '/h3')], ['chmod', () => fs.chmod('/h1', 0o600)], ['symlink', () => fs.symlink('a', '/n')],
      ['truncate', () => fs.truncate('/h1')], ['setxattr', () => fs.setxattr('/h1', 'user.a', 'b')], ['open', () => fs.open('/n', 'w')],
    ];
    for (const [name, call] of calls) await expect(call(), name).rejects.toMatchObject({ code: 'EROFS' });
  });

  it('.. cannot leave the root; NUL gives ENOENT; names over 255 bytes and paths over 4095 give ENAMETOOLONG', async () => {
    const { fs } = await writable();
    await fs.writeFile('/../../../escape', 'inside');
    expect(await fs.readFile('/escape', 'utf8')).toBe('inside');
    await expect(fs.writeFile('/a\0b', 'x')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(fs.mkdir(`/${'n'.repeat(256)}`)).rejects.toMatchObject({ code: 'ENAMETOOLONG', syscall: 'mkdir' });
    await fs.mkdir(`/${'n'.repeat(255)}`);
    await expect(fs.writeFile(`/${'é'.repeat(128)}`, 'x')).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
    await expect(fs.writeFile(`/${'d/'.repeat(2048)}x`, 'x')).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
    await expect(fs.rename('/h1', `/${'n'.repeat(300)}`)).rejects.toMatchObject({ code: 'ENAMETOOLONG', path: '/h1' });
  });

  it('EFBIG past maxFileSize and ENOSPC past maxBytes, with nothing half-written', async () => {
    const { fs, upper } = await writable({ maxFileSize: 1000, maxBytes: 1500 });
    await fs.writeFile('/f', Buffer.alloc(900, 1));
    const fh = await fs.open('/f', fsc.O_WRONLY);
    await expect(fh.write(Buffer.alloc(200, 2), 0, 200, 900)).rejects.toMatchObject({ code: 'EFBIG', syscall: 'write', path: '/f' });
    await expect(fs.truncate('/f', 1001)).rejects.toMatchObject({ code: 'EFBIG' });
    await fh.close();
    await expect(fs.writeFile('/g', Buffer.alloc(700, 3))).rejects.toMatchObject({ code: 'ENOSPC', path: '/g' });
    expect(upper.writtenBytes).toBe(900);
    expect((await fs.stat('/g')).size).toBe(0);
    expect((await fs.readFile('/f')).equals(Buffer.alloc(900, 1))).toBe(true);
  });
});

describe('handles', () => {
  it('a handle opened for reading sees later writes through another handle; an unlinked open file stays readable and writable', async () => {
    const { fs, upper } = await writable();
    const reader = await fs.open('/etc/passwd');
    await fs.writeFile('/etc/passwd', 'changed');
    expect((await reader.read(Buffer.alloc(7), 0, 7, 0)).buffer.toString()).toBe('changed');
    await reader.close();
    await fs.writeFile('/tmpfile', 'temp');
    const fh = await fs.open('/tmpfile', 'r+');
    const ino = (await fh.stat()).ino;
    await fs.unlink('/tmpfile');
    await fh.write('TEMP', 0);
    expect(await fh.readFile('utf8')).toBe('TEMP'); // a write at a position does not move the handle's position
    expect((await fh.read(Buffer.alloc(4), 0, 4, 0)).buffer.toString()).toBe('TEMP');
    expect((await fh.stat()).nlink).toBe(0);
    await fh.close();
    expect(() => upper.attrs(ino)).toThrow(RangeError);
  });

  it('many creates in one directory stay fast (no listing rebuilt per create)', async () => {
    const { fs } = await writable();
    const started = performance.now();
    for (let i = 0; i < 5000; i++) await fs.writeFile(`/etc/f${i}`, '');
    expect(performance.now() - started).toBeLessThan(8000);
    expect((await fs.readdir('/etc')).length).toBe(5002);
  });
});
