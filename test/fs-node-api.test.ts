import { constants as fsc } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dataLoss } from '../src/errors/image-fs-error.js';
import { ImageFs } from '../src/fs/image-fs.js';
import { ImageBigIntStats, ImageStats } from '../src/fs/stats.js';
import { dir, file, symlink } from '../src/testing/builder/index.js';
import { fsOf, layerFromRecords } from './helpers/overlay-layers.js';

// The read side of node:fs/promises on ImageFs: the shapes and errors a Node user expects.

const TEXT = 'line one\nline two\r\nline three';

async function sample(): Promise<ImageFs> {
  return fsOf([[dir('d'), file('d/f', TEXT), file('d/big', { seed: 3, size: 200_000 }), symlink('d/link', 'f'), dir('d/sub'), file('d/sub/g', 'g')]]);
}

describe('ImageFs: node:fs/promises read calls', () => {
  it('stat and lstat give Stats, or BigIntStats with { bigint: true }', async () => {
    const fs = await sample();
    const n = await fs.lstat('/d/link');
    const b = await fs.lstat('/d/link', { bigint: true });
    expect(n).toBeInstanceOf(ImageStats);
    expect(b).toBeInstanceOf(ImageBigIntStats);
    expect([n.isSymbolicLink(), b.isSymbolicLink(), typeof b.size, b.size, b.mtimeNs, b.mtimeMs]).toEqual([true, true, 'bigint', 1n, 1_700_000_000_000_000_000n, 1_700_000_000_000n]);
    expect((await fs.stat('/d/link', { bigint: true })).size).toBe(BigInt(TEXT.length));
  });

  it('FileHandle.read in every form Node has, with positions that do not move the file position', async () => {
    const fs = await sample();
    const fh = await fs.open('/d/f');
    const a = await fh.read(Buffer.alloc(4), { position: 5 });
    expect([a.bytesRead, a.buffer.toString()]).toEqual([4, 'one\n']);
    const b = await fh.read({ buffer: Buffer.alloc(4), position: 0 });
    expect([b.bytesRead, b.buffer.toString()]).toEqual([4, 'line']);
    const c = await fh.read(Buffer.alloc(8), 2, 3, 9);
    expect([c.bytesRead, c.buffer.subarray(2, 5).toString()]).toEqual([3, 'lin']);
    const d = await fh.read(Buffer.alloc(4), 0, 4, null);
    const e = await fh.read(Buffer.alloc(4), 0, 4, -1);
    expect([d.buffer.toString(), e.buffer.toString()]).toEqual(['line', ' one']);
    const f = await fh.read(Buffer.alloc(3), { position: 5n as unknown as number });
    expect(f.buffer.toString()).toBe('one');
    const g = await fh.read();
    expect([g.bytesRead, g.buffer.length]).toEqual([TEXT.length - 8, 16384]);
    const v = await fh.readv([Buffer.alloc(5), Buffer.alloc(4)], 0);
    expect([v.bytesRead, Buffer.concat(v.buffers).toString()]).toEqual([9, 'line one\n']);
    await expect(fh.read(Buffer.alloc(4), 0, 8, 0)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await fh.close();
    await expect(fh.read(Buffer.alloc(1))).rejects.toMatchObject({ code: 'EBADF' });
  });

  it('FileHandle streams: createReadStream, readLines, readableWebStream, readFile, stat, asyncDispose', async () => {
    const fs = await sample();
    {
      await using fh = await fs.open('/d/f', fsc.O_RDONLY);
      const lines: string[] = [];
      for await (const l of fh.readLines()) lines.push(l);
      expect(lines).toEqual(['line one', 'line two', 'line three']);
    }
    const fh2 = await fs.open('/d/big');
    const chunks: Buffer[] = [];
    for await (const c of fh2.createReadStream({ start: 10, end: 19 })) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks)).toEqual((await fs.readFile('/d/big')).subarray(10, 20));
    const web: Uint8Array[] = [];
    for await (const c of (await fs.open('/d/f')).readableWebStream()) web.push(c);
    expect(Buffer.concat(web).toString()).toBe(TEXT);
    expect(((await fh2.stat({ bigint: true })).size)).toBe(200_000n);
    expect(await (await fs.open('/d/f')).readFile('utf8')).toBe(TEXT);
    expect(await fs.readFile(await fs.open('/d/f'), 'utf8')).toBe(TEXT);
  });

  it('createReadStream honours start and end (inclusive)', async () => {
    const fs = await sample();
    const out: Buffer[] = [];
    for await (const c of fs.createReadStream('/d/f', { start: 5, end: 7 })) out.push(c as Buffer);
    expect(Buffer.concat(out).toString()).toBe('one');
    expect(() => fs.createReadStream('/d/f', { start: 5, end: 2 })).toThrow(RangeError);
  });

  it('readdir: withFileTypes, encoding (buffer, hex), recursive; opendir as an async iterable Dir', async () => {
    const fs = await sample();
    expect(await fs.readdir('/d')).toEqual(['big', 'f', 'link', 'sub']);
    expect((await fs.readdir('/d', 'buffer')).map((b) => b.toString())).toEqual(['big', 'f', 'link', 'sub']);
    expect(await fs.readdir('/d', { encoding: 'hex' })).toEqual(['626967', '66', '6c696e6b', '737562']);
    expect((await fs.readdir('/d', { recursive: true })).sort()).toEqual(['big', 'f', 'link', 'sub', 'sub/g']);
    const ents = await fs.readdir('/d', { withFileTypes: true, recursive: true });
    expect(ents.map((e) => `${e.parentPath}/${e.name}:${e.isDirectory() ? 'd' : e.isSymbolicLink() ? 'l' : 'f'}`).sort())
      .toEqual(['/d/big:f', '/d/f:f', '/d/link:l', '/d/sub/g:f', '/d/sub:d']);
    const d = await fs.opendir('/d');
    const first = await d.read();
    expect(first?.name).toBe('big');
    const rest: string[] = [];
    for await (const e of d) rest.push(e.name);
    expect(rest).toEqual(['f', 'link', 'sub']);
    await expect(d.close()).rejects.toMatchObject({ code: 'ERR_DIR_CLOSED' });
    await expect(fs.opendir('/d/f')).rejects.toMatchObject({ code: 'ENOTDIR', syscall: 'opendir' });
  });

  it('open: string and numeric read-only flags; O_NOFOLLOW on a symlink is ELOOP; writing flags are EROFS', async () => {
    const fs = await sample();
    await (await fs.open('/d/f', 'rs')).close();
    await (await fs.open('/d/f', fsc.O_RDONLY | fsc.O_NOFOLLOW)).close();
    await expect(fs.open('/d/link', fsc.O_RDONLY | fsc.O_NOFOLLOW)).rejects.toMatchObject({ code: 'ELOOP', syscall: 'open', path: '/d/link' });
    await expect(fs.open('/d/f', fsc.O_RDONLY | fsc.O_DIRECTORY)).rejects.toMatchObject({ code: 'ENOTDIR' });
    await expect(fs.open('/d/f', 'r+')).rejects.toMatchObject({ code: 'EROFS' });
    await expect(fs.open('/d/new', 'w')).rejects.toMatchObject({ code: 'EROFS' });
    await expect(fs.open('/d/new', 'r')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(fs.open('/d/sub', 'w')).rejects.toMatchObject({ code: 'EISDIR' });
    await expect(fs.open('/d/f', 'nonsense')).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  });

  it('readlink and realpath take an encoding; paths may be Buffers and file: URLs', async () => {
    const fs = await sample();
    expect(await fs.readlink('/d/link', 'buffer')).toEqual(Buffer.from('f'));
    expect(await fs.realpath(Buffer.from('/d/sub/../link'))).toBe('/d/f');
    expect(await fs.readFile(new URL('file:///d/f'), 'utf8')).toBe(TEXT);
  });

  it('statfs gives StatFs numbers (or bigints); ImageFs is AsyncDisposable', async () => {
    const fs = await sample();
    const s = await fs.statfs('/');
    expect(s).toMatchObject({ bsize: 4096, files: 7, bfree: 0 });
    expect(s.blocks).toBe(Math.ceil((TEXT.length + 200_000 + 1) / 4096));
    expect((await fs.statfs('/', { bigint: true })).files).toBe(7n);
    let closed = false;
    {
      await using img = await fsOf([[file('x', 'x')]]);
      (img as unknown as { closers: { close(): Promise<void> }[] }).closers.push({ close: async () => { closed = true; } });
    }
    expect(closed).toBe(true);
  });

  it('a read whose bytes cannot be fetched is EIO with the ImageError as cause; an abort is the Aborted ImageError', async () => {
    const layer = layerFromRecords([file('f', 'x'.repeat(1000))]);
    const failing = { ...layer, data: { size: layer.data.size, readAt: async () => { throw dataLoss('span digest mismatch'); } } };
    const fs = await ImageFs.fromLayers([failing]);
    const err = await fs.readFile('/f').catch((e: unknown) => e) as { code: string; syscall: string; path: string; cause: { code: string } };
    expect([err.code, err.syscall, err.path, err.cause.code]).toEqual(['EIO', 'read', '/f', 'DataLoss']);
    const fh = await fs.open('/f');
    await expect(fh.read(Buffer.alloc(10), 0, 10, 0)).rejects.toMatchObject({ code: 'EIO' });
    const ac = new AbortController();
    ac.abort();
    await expect(fs.readFile('/f', { signal: ac.signal })).rejects.toMatchObject({ code: 'Aborted' });
    const stream = fs.createReadStream('/f', { signal: ac.signal });
    await expect(new Promise((_, reject) => stream.on('error', reject))).rejects.toMatchObject({ code: 'Aborted' });
  });
});
