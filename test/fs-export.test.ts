import { lstat, mkdir, readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportTo } from '../src/fs/export.js';
import { quoteDumpName, XattrDump } from '../src/fs/xattr-restore.js';
import { charDevice, dir, fifo, file, hardlink, sparseFile, symlink } from '../src/testing/builder/index.js';
import { fsOf } from './helpers/overlay-layers.js';
import { tempDir } from './helpers/overlay-trees.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
beforeEach(async () => { tmp = await tempDir('fs-export-'); });
afterEach(async () => { await tmp.cleanup(); });

describe('exportTo', () => {
  it('never writes through symlinks that point outside DIR', async () => {
    const outside = join(tmp.dir, 'outside');
    await mkdir(outside);
    const fs = await fsOf([
      [dir('a'), symlink('a/up', '../../outside'), symlink('abs', outside), symlink('root', '/'), file('f', 'data', { mode: 0o4755, uid: 12, gid: 34 })],
      [hardlink('a/up-hl', 'a/up'), dir('dev'), charDevice('dev/null', 1, 3, { mode: 0o666 }), fifo('dev/p', { mode: 0o620 }), file('abs2', 'x')],
    ]);
    const out = join(tmp.dir, 'deep', 'out');
    const summary = await exportTo(fs, out);
    expect(await readdir(outside)).toEqual([]);
    expect(await readlink(join(out, 'a/up'))).toBe('../../outside');
    expect((await lstat(join(out, 'a/up-hl'))).ino).toBe((await lstat(join(out, 'a/up'))).ino);
    const f = await lstat(join(out, 'f'));
    expect([f.mode, f.uid, f.gid, f.mtimeMs]).toEqual([0o104755, 12, 34, 1_700_000_000_000]);
    expect(await readFile(join(out, 'f'), 'utf8')).toBe('data');
    const dev = await lstat(join(out, 'dev/null'));
    expect([dev.isCharacterDevice(), dev.mode & 0o7777, dev.rdev]).toEqual([true, 0o666, (await lstat('/dev/null')).rdev]);
    const p = await lstat(join(out, 'dev/p'));
    expect([p.isFIFO(), p.mode & 0o7777]).toEqual([true, 0o620]);
    expect(summary).toMatchObject({ files: 2, symlinks: 3, hardlinks: 1, devices: 1, fifos: 1, dirs: 2, bytes: 5, notes: [] });
  });

  it('DIR must be missing or an empty directory', async () => {
    const fs = await fsOf([[file('a', 'a')]]);
    const full = join(tmp.dir, 'full');
    await mkdir(full);
    await writeFile(join(full, 'x'), 'keep');
    await expect(exportTo(fs, full)).rejects.toMatchObject({ code: 'ENOTEMPTY', syscall: 'export', path: full });
    expect(await readdir(full)).toEqual(['x']);
    const aFile = join(tmp.dir, 'file');
    await writeFile(aFile, '');
    await expect(exportTo(fs, aFile)).rejects.toMatchObject({ code: 'ENOTDIR', syscall: 'export', path: aFile });
    const empty = join(tmp.dir, 'empty');
    await mkdir(empty);
    await exportTo(fs, empty);
    expect(await readdir(empty)).toEqual(['a']);
  });

  it('without root privileges (chown and devices off) it skips devices with a note', async () => {
    const fs = await fsOf([[file('a', 'a', { uid: 77 }), charDevice('null', 1, 3)]]);
    const out = join(tmp.dir, 'out');
    const summary = await exportTo(fs, out, { chown: false, devices: false });
    expect(summary.notes).toEqual(['/null: device not created (mknod needs root)']);
    expect((await lstat(join(out, 'a'))).uid).toBe(process.getuid!());
  });

  it('writes xattr dumps setfattr can restore, names escaped as getfattr does', () => {
    expect(quoteDumpName('a b=c\\\n')).toBe('a\\040b\\075c\\134\\012');
    const dump = new XattrDump();
    dump.add('dir/f', [['user.x', new Uint8Array([0, 1, 2])]]);
    expect(dump.toString()).toBe('# file: dir/f\nuser.x=0sAAEC\n\n');
    expect(dump.count).toBe(1);
  });

  it('sets times to the nanosecond (files, symlinks, directories), keeps non-UTF-8 names and sparse holes', async () => {
    const raw = Buffer.from([0x6e, 0xe9, 0xff]);
    const fs = await fsOf([[
      dir('d', { mtimeNs: 1_600_000_000_987_654_321n }), file('d/f', 'x', { mtimeNs: 1_796_602_753_443_999_999n }),
      symlink('d/l', 'f', { mtimeNs: 1_700_000_000_000_000_001n }), file(raw, 'raw', { mtimeNs: -5_000_000_001n }),
      sparseFile('holes', { size: 8 << 20, segments: [[4 << 20, 'mid']], format: 'pax-1.0' }),
    ]]);
    const out = join(tmp.dir, 'out');
    const summary = await exportTo(fs, out);
    expect(summary.notes).toEqual([]);
    const ns = async (p: string | Buffer): Promise<bigint> => (await lstat(p, { bigint: true })).mtimeNs;
    expect(await ns(join(out, 'd/f'))).toBe(1_796_602_753_443_999_999n);
    expect(await ns(join(out, 'd/l'))).toBe(1_700_000_000_000_000_001n);
    expect(await ns(join(out, 'd'))).toBe(1_600_000_000_987_654_321n);
    expect(await ns(Buffer.concat([Buffer.from(out + '/'), raw]))).toBe(-5_000_000_001n);
    const holes = await lstat(join(out, 'holes'), { bigint: true });
    expect([holes.size, holes.blocks < 64n]).toEqual([8n << 20n, true]);
    const bytes = await readFile(join(out, 'holes'));
    expect([bytes.subarray(4 << 20, (4 << 20) + 3).toString(), bytes.subarray(0, 4 << 20).every((b) => b === 0)]).toEqual(['mid', true]);
  });

  it('without python3, times are set to the microsecond and the summary says so', async () => {
    const fs = await fsOf([[file('f', 'x', { mtimeNs: 1_796_602_753_443_999_999n })]]);
    const out = join(tmp.dir, 'out');
    const path = process.env['PATH'];
    process.env['PATH'] = join(tmp.dir, 'no-such-bin');
    try {
      const summary = await exportTo(fs, out, { xattrs: false });
      expect(summary.notes).toEqual([expect.stringMatching(/microsecond, not the nanosecond: python3 is not installed/)]);
    } finally {
      process.env['PATH'] = path;
    }
    const us = (await lstat(join(out, 'f'), { bigint: true })).mtimeNs / 1000n;
    expect(us >= 1_796_602_753_443_999n && us <= 1_796_602_753_444_000n).toBe(true);
  });
});
