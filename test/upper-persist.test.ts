import { mkdir, open, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageFs } from '../src/fs/image-fs.js';
import { dir, file, runTool, type TarRecord } from '../src/testing/builder/index.js';
import type { FsTree } from '../src/tree/types.js';
import { UPPER_JOURNAL } from '../src/upper/journal.js';
import { UpperTree } from '../src/upper/upper-tree.js';
import { fsOf } from './helpers/overlay-layers.js';
import { imageFsTree, tempDir } from './helpers/overlay-trees.js';

const layers = (): TarRecord[][] => [[dir('etc'), file('etc/passwd', 'root\n'), dir('d'), file('d/x', 'x')]];

describe('upper directory on disk', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let lower: FsTree;
  beforeAll(async () => {
    tmp = await tempDir('upper-persist-');
    lower = (await fsOf(layers())).tree;
  });
  afterAll(async () => { await tmp?.cleanup(); });

  async function changes(fs: ImageFs): Promise<void> {
    await fs.writeFile('/etc/motd', 'hi');
    await fs.appendFile('/etc/passwd', 'more\n');
    await fs.rename('/d', '/moved');
    await fs.mkdir('/new/deep', { recursive: true });
    await fs.symlink('../etc', '/new/deep/up');
    await fs.setxattr('/etc', 'user.x', 'y');
    await fs.utimes('/etc/motd', 5n, 1700000000999999999n);
    await fs.unlink('/moved/x');
  }

  it('is reused after a restart: the same tree, to the nanosecond', async () => {
    const path = join(tmp.dir, 'u1');
    const a = UpperTree.open(lower, { dir: path, fingerprint: 'img' });
    const fs = new ImageFs(a);
    await changes(fs);
    await fs.sync();
    const shown = await imageFsTree(fs);
    a.close();
    const b = UpperTree.open(lower, { dir: path, fingerprint: 'img' });
    expect(await imageFsTree(new ImageFs(b))).toEqual(shown);
    // New inodes continue after the replayed ones.
    await new ImageFs(b).writeFile('/later', 'x');
    expect(b.lookup(1, 'later')).toBeGreaterThan(b.lookup(1, 'new'));
    b.close();
  });

  it('a torn last record is dropped; a damaged record before the end refuses the upper (DataLoss)', async () => {
    const path = join(tmp.dir, 'u2');
    const a = UpperTree.open(lower, { dir: path, fingerprint: 'img' });
    await new ImageFs(a).writeFile('/one', '1');
    const size1 = (await stat(join(path, UPPER_JOURNAL))).size;
    await new ImageFs(a).writeFile('/two', '2');
    a.close();
    const full = (await stat(join(path, UPPER_JOURNAL))).size;
    await truncate(join(path, UPPER_JOURNAL), full - 3); // a crash in the middle of the last append
    const b = UpperTree.open(lower, { dir: path, fingerprint: 'img' });
    expect((await new ImageFs(b).readFile('/two', 'utf8'))).toBe('');
    expect(await new ImageFs(b).readFile('/one', 'utf8')).toBe('1');
    b.close();
    const fh = await open(join(path, UPPER_JOURNAL), 'r+');
    await fh.write(Buffer.from([0xff]), 0, 1, size1 - 2);
    await fh.close();
    expect(() => UpperTree.open(lower, { dir: path, fingerprint: 'img' })).toThrow(expect.objectContaining({ code: 'DataLoss', message: expect.stringMatching(/damaged/) }));
  });

  it('refuses a foreign directory and the upper of another image (FailedPrecondition); an empty directory starts a new one', async () => {
    const foreign = join(tmp.dir, 'foreign');
    await mkdir(foreign);
    await writeFile(join(foreign, 'data'), 'x');
    expect(() => UpperTree.open(lower, { dir: foreign, fingerprint: 'img' })).toThrow(expect.objectContaining({ code: 'FailedPrecondition', message: expect.stringMatching(/not an imagefs upper/) }));
    const path = join(tmp.dir, 'u3');
    UpperTree.open(lower, { dir: path, fingerprint: 'img' }).close();
    expect(() => UpperTree.open(lower, { dir: path, fingerprint: 'other' })).toThrow(expect.objectContaining({ code: 'FailedPrecondition', message: expect.stringMatching(/another image/) }));
    expect(JSON.parse(await readFile(join(path, 'imagefs-upper.json'), 'utf8'))).toMatchObject({ format: 'imagefs-upper', version: 1 });
    const empty = join(tmp.dir, 'empty');
    await mkdir(empty);
    UpperTree.open(lower, { dir: empty, fingerprint: 'img' }).close();
  });

  it('a crash while making an upper (journal, no marker yet) starts it again; a record that does not apply to the lower is DataLoss', async () => {
    const path = join(tmp.dir, 'u4');
    await mkdir(path);
    await writeFile(join(path, UPPER_JOURNAL), 'IFSUPJ1\n');
    const fresh = UpperTree.open(lower, { dir: path, fingerprint: 'img' });
    await new ImageFs(fresh).unlink('/etc/passwd');
    fresh.close();
    const other = (await fsOf([[dir('etc'), file('etc/other', 'o\n'), dir('d'), file('d/y', 'y')]])).tree;
    expect(other.inodeCount).toBe(lower.inodeCount);
    expect(() => UpperTree.open(other, { dir: path, fingerprint: 'img' })).toThrow(expect.objectContaining({ code: 'DataLoss', message: expect.stringMatching(/does not apply/) }));
  });

  it('a full disk gives ENOSPC with nothing half-written; the upper stays usable and reopens the same', async () => {
    expect(process.getuid?.()).toBe(0);
    const mnt = join(tmp.dir, 'small');
    await mkdir(mnt);
    await runTool('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt]);
    const opened: UpperTree[] = [];
    try {
      const path = join(mnt, 'upper');
      const a = UpperTree.open(lower, { dir: path, fingerprint: 'img' });
      opened.push(a);
      const fs = new ImageFs(a);
      await fs.writeFile('/small', Buffer.alloc(1000, 7));
      const before = await imageFsTree(fs);
      const journal = (await stat(join(path, UPPER_JOURNAL))).size;
      await expect(fs.writeFile('/small', Buffer.alloc(400_000, 8), { flag: 'r+' })).rejects.toMatchObject({ code: 'ENOSPC', syscall: 'write', path: '/small' });
      expect((await stat(join(path, UPPER_JOURNAL))).size).toBe(journal);
      expect(await imageFsTree(fs)).toEqual(before);
      await fs.writeFile('/after', 'still works');
      a.close();
      opened.pop();
      const bu = UpperTree.open(lower, { dir: path, fingerprint: 'img' });
      opened.push(bu);
      const b = new ImageFs(bu);
      expect(await b.readFile('/after', 'utf8')).toBe('still works');
      expect((await b.readFile('/small')).equals(Buffer.alloc(1000, 7))).toBe(true);
    } finally {
      for (const u of opened) u.close();
      await runTool('umount', [mnt]);
    }
  });
});

describe('compaction', () => {
  it('rewrites the journal as one snapshot: smaller, the same tree before and after a restart, and writable after', async () => {
    const tmp = await tempDir('upper-compact-');
    try {
      const lower = (await fsOf([[dir('etc'), file('etc/passwd', 'root\n'), file('big', Buffer.alloc(100_000, 1)), dir('d'), file('d/x', 'x')]])).tree;
      const path = join(tmp.dir, 'u');
      const a = UpperTree.open(lower, { dir: path, fingerprint: 'img' });
      const fs = new ImageFs(a);
      for (let i = 0; i < 20; i++) await fs.writeFile('/etc/motd', Buffer.alloc(10_000, i));
      const fh = await fs.open('/big', 'r+');
      await fh.write(Buffer.from('hello'), 0, 5, 50_000);
      await fh.close();
      await fs.writeFile('/gone', Buffer.alloc(30_000, 9));
      await fs.unlink('/gone');
      await fs.rename('/d', '/moved');
      await fs.mkdir('/n');
      await fs.setxattr('/n', 'user.x', 'y');
      await fs.unlink('/etc/passwd');
      const keep = await fs.open('/orphan', 'w+');
      await keep.write('still here');
      await fs.unlink('/orphan');
      const shown = await imageFsTree(fs);
      const before = (await stat(join(path, UPPER_JOURNAL))).size;
      a.compact();
      const after = (await stat(join(path, UPPER_JOURNAL))).size;
      expect(after).toBeLessThan(before / 5);
      expect(a.writtenBytes).toBe(10_000 + 5 + 10);
      expect(await imageFsTree(fs)).toEqual(shown);
      expect(await keep.readFile('utf8')).toBe('');
      expect((await keep.read(Buffer.alloc(10), 0, 10, 0)).buffer.toString()).toBe('still here');
      await keep.close();
      await fs.appendFile('/etc/motd', 'tail');
      const expected = await imageFsTree(fs);
      a.close();
      const b = UpperTree.open(lower, { dir: path, fingerprint: 'img' });
      expect(await imageFsTree(new ImageFs(b))).toEqual(expected);
      expect((await new ImageFs(b).readFile('/big')).subarray(49_999, 50_006).toString('latin1')).toBe('\u0001hello\u0001');
      b.close();
    } finally {
      await tmp.cleanup();
    }
  });
});
