import { constants as fsc } from 'node:fs';
import * as nodeFs from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsError } from '../src/errors/fs-error.js';
import { ImageFs } from '../src/fs/image-fs.js';
import { dir, file } from '../src/testing/builder/index.js';
import { UpperTree } from '../src/upper/upper-tree.js';
import { fsOf } from './helpers/overlay-layers.js';
import { tempDir } from './helpers/overlay-trees.js';

/** The calls both sides answer: node:fs/promises under a root directory, and ImageFs. */
interface Side {
  p(path: string): string;
  /** ImageFs is used through node:fs/promises' types: it must take the same calls. */
  fs: typeof nodeFs;
}

type Outcome = { ok: unknown } | { code: string; syscall: string; path?: string; dest?: string };

/** Runs `fn` on a side; the value, or the error's code, syscall and paths (relative to the root). */
async function outcome(side: Side, root: string, fn: (s: Side) => Promise<unknown>): Promise<Outcome> {
  const strip = (x: unknown): unknown => (typeof x === 'string' && x.startsWith(root) ? x.slice(root.length) || '/' : x);
  try {
    return { ok: strip(await fn(side)) };
  } catch (e) {
    const err = e as FsError;
    if (!(e instanceof FsError) && typeof err.errno !== 'number') throw e;
    return { code: err.code, syscall: err.syscall, path: strip(err.path) as string, ...(err.dest === undefined ? {} : { dest: strip(err.dest) as string }) };
  }
}

describe('the write calls have node:fs shapes and errors (against node:fs on a directory)', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let disk: Side;
  let image: Side;
  beforeAll(async () => {
    tmp = await tempDir('upper-node-api-');
    await nodeFs.mkdir(join(tmp.dir, 'd'));
    await nodeFs.writeFile(join(tmp.dir, 'd', 'x'), 'x');
    disk = { p: (path) => join(tmp.dir, path), fs: nodeFs };
    image = { p: (path) => path, fs: new ImageFs(UpperTree.open((await fsOf([[dir('d'), file('d/x', 'x')]])).tree)) as unknown as typeof nodeFs };
  });
  afterAll(async () => { await tmp?.cleanup(); });

  const steps: [string, (s: Side) => Promise<unknown>][] = [
    ['writeFile', (s) => s.fs.writeFile(s.p('/f'), 'abc')],
    ['appendFile', (s) => s.fs.appendFile(s.p('/f'), 'def')],
    ['readFile', (s) => s.fs.readFile(s.p('/f'), 'utf8')],
    ['writeFile wx on an existing file', (s) => s.fs.writeFile(s.p('/f'), 'x', { flag: 'wx' })],
    ['writeFile into a missing directory', (s) => s.fs.writeFile(s.p('/nope/f'), 'x')],
    ['writeFile onto a directory', (s) => s.fs.writeFile(s.p('/d'), 'x')],
    ['open O_CREAT|O_EXCL, write at 10, stat', async (s) => {
      const fh = await s.fs.open(s.p('/g'), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
      try {
        const r = await fh.write(Buffer.from('hello'), 0, 5, 10);
        return [r.bytesWritten, (await fh.stat()).size, (await fh.stat()).mode & 0o777];
      } finally { await fh.close(); }
    }],
    ['read on a write-only handle', async (s) => {
      const fh = await s.fs.open(s.p('/g'), 'w');
      try { return await fh.read(Buffer.alloc(4), 0, 4, 0); } finally { await fh.close(); }
    }],
    ['write on a read-only handle', async (s) => {
      const fh = await s.fs.open(s.p('/f'), 'r');
      try { return await fh.write('zz'); } finally { await fh.close(); }
    }],
    ['O_APPEND writes at the end whatever the position', async (s) => {
      await s.fs.writeFile(s.p('/g'), '0123');
      const fh = await s.fs.open(s.p('/g'), 'a');
      try { await fh.write('XY', 0); await fh.write('Z'); } finally { await fh.close(); }
      return s.fs.readFile(s.p('/g'), 'utf8');
    }],
    ['O_RDONLY|O_TRUNC', async (s) => {
      await s.fs.writeFile(s.p('/t'), 'abc');
      await (await s.fs.open(s.p('/t'), fsc.O_RDONLY | fsc.O_TRUNC)).close();
      return (await s.fs.stat(s.p('/t'))).size;
    }],
    ['O_TRUNC', async (s) => { await (await s.fs.open(s.p('/g'), fsc.O_RDWR | fsc.O_TRUNC)).close(); return (await s.fs.stat(s.p('/g'))).size; }],
    ['writev at a position, then the current position', async (s) => {
      const fh = await s.fs.open(s.p('/g'), 'r+');
      try { await fh.writev([Buffer.from('ab'), Buffer.from('cd')], 3); await fh.writev([Buffer.from('!')]); } finally { await fh.close(); }
      return (await s.fs.readFile(s.p('/g'))).toString('hex');
    }],
    ['ftruncate, sync, datasync', async (s) => {
      const fh = await s.fs.open(s.p('/g'), 'r+');
      try { await fh.truncate(2); await fh.sync(); await fh.datasync(); return (await fh.stat()).size; } finally { await fh.close(); }
    }],
    ['truncate a missing file', (s) => s.fs.truncate(s.p('/nope'), 1)],
    ['truncate a directory', (s) => s.fs.truncate(s.p('/d'), 1)],
    ['truncate to grow', async (s) => { await s.fs.truncate(s.p('/f'), 9); return (await s.fs.readFile(s.p('/f'))).toString('hex'); }],
    ['chmod, chown, utimes', async (s) => {
      await s.fs.chmod(s.p('/f'), 0o4751);
      await s.fs.chown(s.p('/f'), 7, 8);
      await s.fs.utimes(s.p('/f'), 1000.5, new Date(2_000_123));
      const st = await s.fs.stat(s.p('/f'));
      return [st.mode & 0o7777, st.uid, st.gid, st.atimeMs, st.mtimeMs];
    }],
    ['chmod a missing file', (s) => s.fs.chmod(s.p('/nope'), 0o600)],
    ['mkdir recursive', (s) => s.fs.mkdir(s.p('/a/b/c'), { recursive: true })],
    ['mkdir recursive again', (s) => s.fs.mkdir(s.p('/a/b/c'), { recursive: true })],
    ['mkdir existing', (s) => s.fs.mkdir(s.p('/a'))],
    ['mkdir recursive through a file', (s) => s.fs.mkdir(s.p('/f/x/y'), { recursive: true })],
    ['mkdir mode', async (s) => { await s.fs.mkdir(s.p('/m'), 0o1777); return (await s.fs.stat(s.p('/m'))).mode & 0o7777; }],
    ['rmdir not empty', (s) => s.fs.rmdir(s.p('/a'))],
    ['rmdir a file', (s) => s.fs.rmdir(s.p('/f'))],
    ['rm recursive', (s) => s.fs.rm(s.p('/a'), { recursive: true })],
    ['rm force missing', (s) => s.fs.rm(s.p('/nope'), { force: true })],
    ['unlink a directory', (s) => s.fs.unlink(s.p('/d'))],
    ['unlink missing', (s) => s.fs.unlink(s.p('/nope'))],
    ['unlink with a trailing slash', (s) => s.fs.unlink(s.p('/f/'))],
    ['symlink, readlink', async (s) => { await s.fs.symlink('f', s.p('/s')); return s.fs.readlink(s.p('/s')); }],
    ['symlink over an existing name', (s) => s.fs.symlink('f', s.p('/s'))],
    ['link, nlink', async (s) => { await s.fs.link(s.p('/f'), s.p('/f2')); return (await s.fs.stat(s.p('/f'))).nlink; }],
    ['link a directory', (s) => s.fs.link(s.p('/d'), s.p('/d2'))],
    ['link over an existing name', (s) => s.fs.link(s.p('/f'), s.p('/f2'))],
    ['rename', async (s) => { await s.fs.rename(s.p('/f2'), s.p('/f3')); return (await s.fs.readdir(s.p('/'))).sort(); }],
    ['rename missing', (s) => s.fs.rename(s.p('/nope'), s.p('/x'))],
    ['rename a directory over a file', (s) => s.fs.rename(s.p('/d'), s.p('/f3'))],
    ['copyFile', async (s) => { await s.fs.copyFile(s.p('/g'), s.p('/c')); return s.fs.readFile(s.p('/c'), 'hex'); }],
    ['copyFile EXCL', (s) => s.fs.copyFile(s.p('/g'), s.p('/c'), fsc.COPYFILE_EXCL)],
    ['cp recursive', async (s) => { await s.fs.cp(s.p('/d'), s.p('/dcopy'), { recursive: true }); return s.fs.readFile(s.p('/dcopy/x'), 'utf8'); }],
    ['mkdtemp', async (s) => { const p = await s.fs.mkdtemp(s.p('/tmp-')); const st = await s.fs.stat(p); return [p.length - s.p('/tmp-').length, st.mode & 0o777]; }],
    ['access W_OK', (s) => s.fs.access(s.p('/f'), fsc.W_OK)],
  ];

  it('call for call: values equal, errors with the same code, syscall, path and dest', async () => {
    const diffs: string[] = [];
    for (const [name, fn] of steps) {
      const a = await outcome(disk, tmp.dir, fn);
      const b = await outcome(image, tmp.dir, fn);
      // Node's errors of a FileHandle name no path (it has only the descriptor); imagefs's name the path it was opened by.
      if ('code' in a && a.path === undefined && 'code' in b) delete b.path;
      if (JSON.stringify(a) !== JSON.stringify(b)) diffs.push(`${name}: node ${JSON.stringify(a)} imagefs ${JSON.stringify(b)}`);
    }
    expect(diffs).toEqual([]);
  });
});
