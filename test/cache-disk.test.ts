import { execFile } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureBytes } from '../src/testing/cache-conformance.js';
import { sha256Digest } from '../src/testing/builder/digest.js';
import { CACHE_MARKER_FILE, DiskCache, derivedKeyFileName, type BlobCache } from '../src/cache/index.js';

const run = promisify(execFile);
let root = '';
let n = 0;
const fresh = (): string => join(root, `d${n++}`);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'imagefs-cache-disk-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function put(cache: BlobCache, key: string, bytes: Uint8Array): Promise<void> {
  const w = await cache.create(key);
  await w.write(bytes);
  await w.commit();
}
async function read(cache: BlobCache, key: string): Promise<Buffer | undefined> {
  const src = await cache.get(key);
  if (src === undefined) return undefined;
  try {
    return Buffer.from(await src.readAt(0, src.size));
  } finally {
    await src.close?.();
  }
}
async function codeOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => 'resolved', (e: { code?: string; message: string }) => e.code ?? e.message);
}

describe('DiskCache directory handling', () => {
  it('creates a missing directory, writes the marker and the layout, and stores entries where the layout says', async () => {
    const dir = join(fresh(), 'nested', 'cache');
    const cache = await DiskCache.open(dir);
    expect(JSON.parse(await readFile(join(dir, CACHE_MARKER_FILE), 'utf8'))).toEqual({ format: 'imagefs-cache', version: 1 });
    expect((await readdir(dir)).sort()).toEqual(['blobs', CACHE_MARKER_FILE, 'other', 'tmp']);
    const bytes = fixtureBytes(1000, 1);
    const key = sha256Digest(bytes);
    await put(cache, key, bytes);
    await put(cache, `span/${key}/2`, bytes);
    expect((await readFile(join(dir, 'blobs', 'sha256', key.slice(7)))).equals(Buffer.from(bytes))).toBe(true);
    expect(await readdir(join(dir, 'other'))).toEqual([derivedKeyFileName(`span/${key}/2`)]);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
    await cache.close();
  });

  it('adopts an existing empty directory and reuses an imagefs cache across instances', async () => {
    const dir = fresh();
    await mkdir(dir);
    const a = await DiskCache.open(dir);
    const bytes = fixtureBytes(5000, 2);
    await put(a, sha256Digest(bytes), bytes);
    await a.close();
    const b = await DiskCache.open(dir);
    expect((await read(b, sha256Digest(bytes)))?.equals(Buffer.from(bytes))).toBe(true);
    expect(b.knownBytes).toBe(5000);
    await b.close();
  });

  it('refuses a non-empty directory that is not an imagefs cache, and writes nothing into it', async () => {
    const dir = fresh();
    await mkdir(dir);
    await writeFile(join(dir, 'notes.txt'), 'mine');
    const error = await DiskCache.open(dir).catch((e: unknown) => e as { code: string; message: string });
    expect((error as { code: string }).code).toBe('FailedPrecondition');
    expect((error as { message: string }).message).toMatch(/not empty .*notes\.txt.* not an imagefs cache/);
    expect(await readdir(dir)).toEqual(['notes.txt']);
  });

  it('refuses a marker of a newer layout, a corrupt marker, and a path that is a file', async () => {
    const newer = fresh();
    await mkdir(newer);
    await writeFile(join(newer, CACHE_MARKER_FILE), JSON.stringify({ format: 'imagefs-cache', version: 99 }));
    expect(await codeOf(DiskCache.open(newer))).toBe('FailedPrecondition');
    const corrupt = fresh();
    await mkdir(corrupt);
    await writeFile(join(corrupt, CACHE_MARKER_FILE), '{not json');
    expect(await codeOf(DiskCache.open(corrupt))).toBe('FailedPrecondition');
    const file = fresh();
    await writeFile(file, 'x');
    expect(await codeOf(DiskCache.open(file))).toBe('FailedPrecondition');
    expect(await codeOf(DiskCache.open(fresh(), { maxBytes: -1 }))).toBe('DiskCache: maxBytes must be a non-negative integer number of bytes, got -1');
  });

  it('removes stale temp files on open and keeps recent ones (another process may be writing them)', async () => {
    const dir = fresh();
    await (await DiskCache.open(dir)).close();
    const old = join(dir, 'tmp', '1-aaaa.part');
    const recent = join(dir, 'tmp', '2-bbbb.part');
    await writeFile(old, 'partial');
    await writeFile(recent, 'partial');
    const sevenHoursAgo = new Date(Date.now() - 7 * 3600_000);
    await utimes(old, sevenHoursAgo, sevenHoursAgo);
    await (await DiskCache.open(dir)).close();
    expect(await readdir(join(dir, 'tmp'))).toEqual(['2-bbbb.part']);
  });

  it('leaves no temp file after a commit, an abort or a failed verification', async () => {
    const dir = fresh();
    const cache = await DiskCache.open(dir);
    const bytes = fixtureBytes(300, 3);
    const w1 = await cache.create(sha256Digest(bytes));
    await w1.write(bytes);
    expect((await readdir(join(dir, 'tmp'))).length).toBe(1);
    await w1.abort();
    const w2 = await cache.create(sha256Digest(bytes));
    await w2.write(fixtureBytes(300, 4));
    expect(await codeOf(w2.commit())).toBe('DataLoss');
    await put(cache, sha256Digest(bytes), bytes);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
    expect(await readdir(join(dir, 'blobs', 'sha256'))).toEqual([sha256Digest(bytes).slice(7)]);
    await cache.close();
  });
});

describe('DiskCache never follows symbolic links inside the cache', () => {
  it('treats a planted link as a miss, never reads through it, and replaces it on the next commit', async () => {
    const dir = fresh();
    const cache = await DiskCache.open(dir);
    const outside = join(root, `secret-${n++}`);
    await writeFile(outside, 'secret outside the cache');
    const bytes = fixtureBytes(64, 5);
    const key = sha256Digest(bytes);
    const entry = join(dir, 'blobs', 'sha256', key.slice(7));
    await symlink(outside, entry);
    const derivedEntry = join(dir, 'other', derivedKeyFileName('layer-tar/x'));
    await symlink(outside, derivedEntry);
    expect(await cache.get(key)).toBe(undefined);
    expect(await cache.has(key)).toBe(false);
    expect(await cache.get('layer-tar/x')).toBe(undefined);
    await put(cache, key, bytes);
    await put(cache, 'layer-tar/x', bytes);
    expect((await lstat(entry)).isFile()).toBe(true);
    expect((await lstat(derivedEntry)).isFile()).toBe(true);
    expect((await read(cache, key))?.equals(Buffer.from(bytes))).toBe(true);
    expect(await readFile(outside, 'utf8')).toBe('secret outside the cache');
    await cache.close();
  });

  it('refuses to open a cache whose layout directory was replaced by a link', async () => {
    const dir = fresh();
    await (await DiskCache.open(dir)).close();
    const elsewhere = join(root, `elsewhere-${n++}`);
    await mkdir(elsewhere);
    await rm(join(dir, 'other'), { recursive: true });
    await symlink(elsewhere, join(dir, 'other'));
    const error = (await DiskCache.open(dir).then(() => ({ code: 'resolved', message: '' }), (e: unknown) => e)) as { code: string; message: string };
    expect([error.code, /symbolic link/.test(error.message)]).toEqual(['FailedPrecondition', true]);
    expect(await readdir(elsewhere)).toEqual([]);
  });
});

describe('DiskCache eviction by maxBytes', () => {
  it('deletes the least recently used entries after a commit, never the new one', async () => {
    const dir = fresh();
    const cache = await DiskCache.open(dir, { maxBytes: 100 });
    const [a, b, c] = [1, 2, 3].map((seed) => fixtureBytes(40, seed + 10));
    await put(cache, sha256Digest(a!), a!);
    await put(cache, sha256Digest(b!), b!);
    expect((await read(cache, sha256Digest(a!)))?.length).toBe(40); // a is now more recent than b
    await put(cache, sha256Digest(c!), c!);
    expect([await cache.has(sha256Digest(a!)), await cache.has(sha256Digest(b!)), await cache.has(sha256Digest(c!))]).toEqual([true, false, true]);
    expect(cache.knownBytes).toBe(80);
    const big = fixtureBytes(150, 14);
    await put(cache, sha256Digest(big), big);
    expect((await readdir(join(dir, 'blobs', 'sha256')))).toEqual([sha256Digest(big).slice(7)]);
    await cache.close();
  });

  it('orders entries found on open by their file times', async () => {
    const dir = fresh();
    const first = await DiskCache.open(dir);
    const [a, b] = [fixtureBytes(40, 21), fixtureBytes(40, 22)];
    await put(first, sha256Digest(a), a);
    await put(first, sha256Digest(b), b);
    await first.close();
    const t = Date.now() / 1000;
    await utimes(join(dir, 'blobs', 'sha256', sha256Digest(a).slice(7)), t, t);
    await utimes(join(dir, 'blobs', 'sha256', sha256Digest(b).slice(7)), t - 3600, t - 3600);
    const cache = await DiskCache.open(dir, { maxBytes: 100 });
    const c = fixtureBytes(40, 23);
    await put(cache, sha256Digest(c), c);
    expect([await cache.has(sha256Digest(a)), await cache.has(sha256Digest(b))]).toEqual([true, false]);
    await cache.close();
  });
});

describe('DiskCache shared between processes', () => {
  it('sees entries another process commits, and two processes writing one key concurrently both succeed', async () => {
    const dir = fresh();
    const parent = await DiskCache.open(dir);
    const size = 3 * 1024 * 1024 + 17;
    const child = (): Promise<{ stdout: string }> =>
      run('npx', ['tsx', join(import.meta.dirname, 'cache-child.ts'), dir, '77', String(size)], { cwd: join(import.meta.dirname, '..') });
    const [one, two] = await Promise.all([child(), child()]);
    const key = sha256Digest(fixtureBytes(size, 77));
    const outputs = [one, two].map((o) => JSON.parse(o.stdout) as { key: string; pid: number });
    expect(outputs.map((o) => o.key)).toEqual([key, key]);
    expect(outputs[0]!.pid).not.toBe(outputs[1]!.pid);
    expect(await parent.has(key)).toBe(true);
    const got = await read(parent, key);
    expect(got?.equals(Buffer.from(fixtureBytes(size, 77)))).toBe(true);
    expect((await read(parent, 'span/child/77'))?.length).toBe(size);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
    expect((await stat(join(dir, 'blobs', 'sha256', key.slice(7)))).size).toBe(size);
    await parent.close();
  }, 60_000);
});
