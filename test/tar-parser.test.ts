import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { mkdirSync, symlinkSync, linkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storedSize, type TarEntry } from '../src/tar/entry.js';
import { parseTar, TarStreamParser } from '../src/tar/parser.js';
import { normalizeTarPath } from '../src/tar/path.js';

const CHUNKS = [1, 321, 4096, Infinity];

function parseChunked(bytes: Uint8Array, chunk: number): TarEntry[] {
  const out: TarEntry[] = [];
  const p = new TarStreamParser((e) => out.push(e));
  const step = Number.isFinite(chunk) ? chunk : bytes.length;
  for (let i = 0; i < bytes.length; i += step) p.push(bytes.subarray(i, i + step));
  p.end();
  return out;
}

interface OracleEntry {
  name: string;
  type: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  linkname: string | null | undefined;
  data: Buffer;
}

/** tar-stream's view of an archive: its headers and data (the oracle). */
async function oracle(bytes: Uint8Array): Promise<OracleEntry[]> {
  const extract = tarStream.extract({ allowUnknownFormat: true } as Parameters<typeof tarStream.extract>[0]);
  const out: OracleEntry[] = [];
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => { chunks.push(c as Buffer); });
      stream.on('end', () => {
        out.push({
          name: h.name, type: h.type ?? 'file', size: h.size ?? 0, mode: h.mode ?? 0, uid: h.uid ?? 0, gid: h.gid ?? 0,
          mtime: Math.floor((h.mtime?.getTime() ?? 0) / 1000), linkname: h.linkname, data: Buffer.concat(chunks),
        });
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  Readable.from([Buffer.from(bytes)]).pipe(extract);
  await done;
  return out;
}

const TYPE_MAP: Record<string, string> = {
  file: 'file', 'contiguous-file': 'file', link: 'hardlink', symlink: 'symlink', directory: 'dir',
  'character-device': 'char', 'block-device': 'block', fifo: 'fifo',
};

async function compareWithOracle(bytes: Uint8Array): Promise<TarEntry[]> {
  const expected = await oracle(bytes);
  const whole = parseTar(bytes);
  expect(whole.map((e) => e.path)).toEqual(expected.map((o) => normalizeTarPath(o.name)));
  for (let i = 0; i < whole.length; i++) {
    const e = whole[i]!;
    const o = expected[i]!;
    expect(e.type, e.path).toBe(TYPE_MAP[o.type]);
    expect(e.mode).toBe(o.mode & 0o7777);
    expect([e.uid, e.gid, e.mtime]).toEqual([o.uid, o.gid, o.mtime]);
    expect(Number.isInteger(e.mtime) && Number.isInteger(e.mtimeNsec) && e.mtimeNsec >= 0 && e.mtimeNsec < 1e9).toBe(true);
    if (e.type === 'file') {
      expect(e.size).toBe(o.size);
      expect(Buffer.from(bytes.subarray(e.dataOffset, e.dataOffset + e.size)).equals(o.data), e.path).toBe(true);
    } else {
      expect(e.size).toBe(0);
    }
    if (e.type === 'symlink') expect(e.linkTarget).toBe(o.linkname);
    if (e.type === 'hardlink') expect(e.linkTarget).toBe(normalizeTarPath(o.linkname!));
  }
  for (const chunk of CHUNKS) expect(parseChunked(bytes, chunk), `chunk ${chunk}`).toEqual(whole);
  return whole;
}

const LONG_DIR = 'a-directory-name-that-is-quite-long-'.repeat(4);
const LONG_FILE = `file-${'x'.repeat(120)}.txt`;
const LONG_PATH = `tree/${LONG_DIR}/${LONG_FILE}`;
const PREFIXED = `tree/${'p'.repeat(60)}/${'q'.repeat(60)}/r.txt`;
const CAP = Buffer.from('AQAAAgAgAAAAAAAAAAAAAAAAAAA=', 'base64');

let dir: string;
let tree: string;
const contents = new Map<string, Buffer>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imagefs-tar-'));
  tree = join(dir, 'tree');
  mkdirSync(join(tree, LONG_DIR), { recursive: true });
  mkdirSync(join(tree, 'sub/deeper'), { recursive: true });
  const put = (rel: string, content: Buffer): void => {
    writeFileSync(join(dir, rel), content);
    contents.set(rel, content);
  };
  mkdirSync(join(dir, PREFIXED, '..'), { recursive: true });
  put(PREFIXED, Buffer.from('needs the ustar prefix field'));
  put('tree/empty', Buffer.alloc(0));
  put('tree/small.txt', Buffer.from('hello world\n'));
  put('tree/exact-512', Buffer.alloc(512, 7));
  put(`${LONG_PATH}`, Buffer.from('long name content'));
  let seed = 42;
  const random = Buffer.alloc(200_000);
  for (let i = 0; i < random.length; i++) random[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  put('tree/sub/deeper/random.bin', random);
  put('tree/ünïcødé-名前.txt', Buffer.from('utf8'));
  put('tree/cap-ping', Buffer.from('pretend binary'));
  execFileSync('setfattr', ['-n', 'security.capability', '-v', `0s${CAP.toString('base64')}`, join(tree, 'cap-ping')]);
  execFileSync('setfattr', ['-n', 'user.note', '-v', 'v\u00e9', join(tree, 'small.txt')]);
  symlinkSync('../small.txt', join(tree, 'sub/link-to-small'));
  symlinkSync(`/${'t'.repeat(150)}`, join(tree, 'long-symlink'));
  linkSync(join(tree, 'small.txt'), join(tree, 'sub/hard-small'));
  execFileSync('mkfifo', [join(tree, 'fifo')]);
  execFileSync('mknod', [join(tree, 'null-dev'), 'c', '1', '3']);
  execFileSync('mknod', [join(tree, 'blk-dev'), 'b', '7', '200']);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function gnuTar(name: string, args: string[]): Promise<Uint8Array> {
  const out = join(dir, name);
  execFileSync('tar', ['-C', dir, ...args, '-cf', out, 'tree']);
  return new Uint8Array(await readFile(out));
}

function checkTree(entries: TarEntry[], bytes: Uint8Array): void {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  for (const [rel, content] of contents) {
    const e = byPath.get(rel);
    expect(e, rel).toBeDefined();
    if (e!.type === 'hardlink') continue;
    expect(e!.type).toBe('file');
    expect(createHash('sha256').update(bytes.subarray(e!.dataOffset, e!.dataOffset + e!.size)).digest('hex'))
      .toBe(createHash('sha256').update(content).digest('hex'));
  }
  expect(byPath.get('tree')!.type).toBe('dir');
  expect(byPath.get('tree/sub/link-to-small')).toMatchObject({ type: 'symlink', linkTarget: '../small.txt' });
  expect(byPath.get('tree/long-symlink')).toMatchObject({ type: 'symlink', linkTarget: `/${'t'.repeat(150)}` });
  expect(byPath.get('tree/fifo')!.type).toBe('fifo');
  expect(byPath.get('tree/null-dev')).toMatchObject({ type: 'char', devMajor: 1, devMinor: 3 });
  expect(byPath.get('tree/blk-dev')).toMatchObject({ type: 'block', devMajor: 7, devMinor: 200 });
  const hard = [byPath.get('tree/small.txt')!, byPath.get('tree/sub/hard-small')!];
  const link = hard.find((e) => e.type === 'hardlink')!;
  expect(link.linkTarget).toBe(hard.find((e) => e.type === 'file')!.path);
  expect(link.size).toBe(0);
}

describe('TarStreamParser on GNU tar archives', () => {
  it('reads --format=pax --xattrs: long names, xattrs (raw bytes), devices, dataOffsets', async () => {
    const bytes = await gnuTar('pax.tar', ['--format=pax', '--xattrs', '--xattrs-include=*']);
    const entries = await compareWithOracle(bytes);
    checkTree(entries, bytes);
    const cap = entries.find((e) => e.path === 'tree/cap-ping')!;
    expect(Buffer.from(cap.xattrs!['security.capability']!).equals(CAP)).toBe(true);
    const small = entries.find((e) => e.path === 'tree/small.txt' || e.path === 'tree/sub/hard-small')!;
    expect(small.xattrs?.['user.note']).toEqual(new TextEncoder().encode('v\u00e9'));
    // GNU tar's PAX mtimes carry nanoseconds; they land in mtimeNsec, seconds stay integers.
    expect(entries.some((e) => e.mtimeNsec !== 0)).toBe(true);
    expect(entries.every((e) => Number.isInteger(e.mtime))).toBe(true);
  });

  it('reads --format=gnu: L/K long names', async () => {
    const bytes = await gnuTar('gnu.tar', ['--format=gnu']);
    const entries = await compareWithOracle(bytes);
    checkTree(entries, bytes);
    expect(entries.find((e) => e.path === LONG_PATH)!.size).toBe(17);
  });

  it('reads --format=ustar (prefix field) and --format=v7', async () => {
    const ustar = await gnuTar('ustar.tar', ['--format=ustar', `--exclude=${LONG_DIR}`, '--exclude=long-symlink']);
    const entries = await compareWithOracle(ustar);
    const prefixed = entries.find((e) => e.path === PREFIXED)!;
    expect(new TextDecoder().decode(ustar.subarray(prefixed.dataOffset, prefixed.dataOffset + prefixed.size)))
      .toBe('needs the ustar prefix field');
    const v7 = await gnuTar('v7.tar', ['--format=v7', `--exclude=${LONG_DIR}`, `--exclude=${'p'.repeat(60)}`, '--exclude=long-symlink',
      '--exclude=fifo', '--exclude=null-dev', '--exclude=blk-dev']);
    const v7Entries = await compareWithOracle(v7);
    expect(v7Entries.find((e) => e.path === 'tree/sub')!.type).toBe('dir');
    expect(v7Entries.every((e) => e.uname === undefined)).toBe(true);
  });

  it('serves GNU sparse files (old GNU and PAX 1.0): logical size, map, stored segments', async () => {
    const sparseDir = join(dir, 'sparse');
    mkdirSync(join(sparseDir, 'tree'), { recursive: true });
    const file = join(sparseDir, 'tree', 'holes');
    execFileSync('truncate', ['-s', '50M', file]);
    execFileSync('sh', ['-c', `printf data-at-the-end >> '${file}'; printf head | dd of='${file}' conv=notrunc 2>/dev/null`]);
    const original = await readFile(file);
    for (const format of ['gnu', 'pax']) {
      const out = join(dir, `sparse-${format}.tar`);
      execFileSync('tar', ['-C', sparseDir, `--format=${format}`, '--sparse', '-cf', out, 'tree']);
      const bytes = new Uint8Array(await readFile(out));
      const entries = parseTar(bytes);
      for (const chunk of [321, 4096]) expect(parseChunked(bytes, chunk)).toEqual(entries);
      const holes = entries.find((e) => e.path === 'tree/holes')!;
      expect(holes, format).toMatchObject({ type: 'file', size: 50 * 1024 * 1024 + 15 });
      expect(holes.sparse!.length % 2).toBe(0);
      expect(storedSize(holes)).toBeLessThan(1024 * 1024);
      expect(holes.dataOffset + storedSize(holes)).toBeLessThanOrEqual(bytes.length);
      // Expanded from the map and the stored bytes, it is the file on disk.
      const expanded = Buffer.alloc(holes.size);
      let at = holes.dataOffset;
      for (let i = 0; i < holes.sparse!.length; i += 2) {
        expanded.set(bytes.subarray(at, at + holes.sparse![i + 1]!), holes.sparse![i]!);
        at += holes.sparse![i + 1]!;
      }
      expect(expanded.equals(original), format).toBe(true);
    }
  });
});

describe('TarStreamParser on tar-stream archives', () => {
  it('matches the oracle for pax long names, xattrs, devices and links', async () => {
    const pack = tarStream.pack();
    const mtime = new Date(1_600_000_000_000);
    pack.entry({ name: './', type: 'directory', mode: 0o755, mtime });
    pack.entry({ name: 'etc/', type: 'directory', mode: 0o755, mtime });
    pack.entry({ name: 'etc/passwd', mode: 0o644, uid: 0, gid: 0, mtime }, 'root:x:0:0::/root:/bin/sh\n');
    pack.entry({ name: `deep/${'d'.repeat(200)}/${'f'.repeat(120)}`, mode: 0o4755, uid: 1000, gid: 1000, mtime }, 'x'.repeat(1000));
    pack.entry({ name: 'bin/ping', mode: 0o755, mtime, pax: { 'SCHILY.xattr.security.capability': 'caps' } }, 'ping');
    pack.entry({ name: 'dev/tty', type: 'character-device', devmajor: 5, devminor: 0, mode: 0o666, mtime });
    pack.entry({ name: 'dev/loop0', type: 'block-device', devmajor: 7, devminor: 0, mode: 0o660, mtime });
    pack.entry({ name: 'etc/passwd-link', type: 'link', linkname: './etc/passwd', mtime });
    pack.entry({ name: 'usr/lib/sym', type: 'symlink', linkname: '/etc/./passwd', mtime });
    pack.entry({ name: 'run/pipe', type: 'fifo', mode: 0o600, mtime });
    pack.entry({ name: 'big', size: 70_000, mtime }, Buffer.alloc(70_000, 1));
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    const bytes = new Uint8Array(Buffer.concat(chunks));
    const entries = await compareWithOracle(bytes);
    expect(entries[0]!.path).toBe('');
    expect(entries.find((e) => e.path === 'bin/ping')!.xattrs).toEqual({ 'security.capability': new TextEncoder().encode('caps') });
    expect(entries.find((e) => e.path === 'etc/passwd-link')!.linkTarget).toBe('etc/passwd');
    expect(entries.find((e) => e.path === 'usr/lib/sym')!.linkTarget).toBe('/etc/./passwd');
    expect(entries.find((e) => e.path.startsWith('deep/'))!.mode).toBe(0o4755);
  });
});
