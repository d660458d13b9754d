// Issue 13, bounded metadata: tar metadata cannot exhaust the process. Each limit of the tar
// reader is a typed InvalidArgument naming it; the floods from the issue (600,000 consecutive PAX
// headers, 900 MB of records; one global header of 5,000 xattrs before 20,000 files) finish in
// seconds and a few hundred MB, measured in a child process (peak RSS from resourceUsage).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ImageFsError } from '../src/errors/image-fs-error.js';
import { parseTar, TarStreamParser } from '../src/tar/parser.js';
import { DEFAULT_TAR_LIMITS, resolveTarLimits, TarUsage, type TarLimits } from '../src/tar/limits.js';
import { dir, encodeHeader, extendedHeader, file, gnuLongHeader, writeTar } from '../src/testing/builder/index.js';

const run = promisify(execFile);
const root = join(__dirname, '..');

/** The error `fn` throws (fails the test when it returns). */
function thrown(fn: () => unknown): ImageFsError {
  try {
    fn();
  } catch (error) {
    if (ImageFsError.is(error)) return error;
    throw error;
  }
  throw new Error('expected a throw');
}

function expectLimit(fn: () => unknown, limit: keyof TarLimits): void {
  const error = thrown(fn);
  expect(error.code).toBe('InvalidArgument');
  expect(error.message).toContain(`limits.${limit}`);
  expect(error.hint).toContain(`raise limits.${limit}`);
}

const x = (records: Array<[string, string]>): Uint8Array => extendedHeader(records);

describe('tar limits: each one is a typed error naming it', () => {
  it('consecutive metadata headers', () => {
    const tar = writeTar([...Array.from({ length: 5 }, () => x([['comment', 'a']])), file('f', 'x')]);
    expect(parseTar(tar, { limits: { maxConsecutiveMetaHeaders: 5 } }).map((e) => e.path)).toEqual(['f']);
    expectLimit(() => parseTar(tar, { limits: { maxConsecutiveMetaHeaders: 4 } }), 'maxConsecutiveMetaHeaders');
    // The count starts again after each entry.
    const spread = writeTar([x([['comment', 'a']]), x([['comment', 'b']]), file('f', 'x'), x([['comment', 'c']]), x([['comment', 'd']]), file('g', 'y')]);
    expect(parseTar(spread, { limits: { maxConsecutiveMetaHeaders: 2 } })).toHaveLength(2);
  });

  it('metadata bytes per entry (replaced x headers count) and per stream', () => {
    const big = 'v'.repeat(3000);
    const twoX = writeTar([x([['comment', big]]), x([['comment', big]]), file('f', 'x')]);
    expect(parseTar(twoX, { limits: { maxMetaBytesPerEntry: 7000 } })).toHaveLength(1);
    expectLimit(() => parseTar(twoX, { limits: { maxMetaBytesPerEntry: 5000 } }), 'maxMetaBytesPerEntry');
    const many = writeTar(Array.from({ length: 10 }, (_, i) => [x([['comment', big]]), file(`f${i}`, 'x')]).flat());
    expect(parseTar(many, { limits: { maxMetaBytesPerStream: 40_000 } })).toHaveLength(10);
    expectLimit(() => parseTar(many, { limits: { maxMetaBytesPerStream: 20_000 } }), 'maxMetaBytesPerStream');
  });

  it('global headers (counted; their records reach no entry, as containerd ignores them)', () => {
    const g = extendedHeader([['SCHILY.xattr.user.g', 'v']], { type: 'g' });
    const tar = writeTar([g, file('a', 'x'), g, file('b', 'y'), g, file('c', 'z')]);
    const entries = parseTar(tar, { limits: { maxGlobalHeaders: 3 } });
    expect(entries.map((e) => e.xattrs)).toEqual([undefined, undefined, undefined]);
    expectLimit(() => parseTar(tar, { limits: { maxGlobalHeaders: 2 } }), 'maxGlobalHeaders');
  });

  it('xattrs per entry, per stream, and per image through a shared TarUsage', () => {
    const xattrs = (n: number): Array<[string, string]> => Array.from({ length: n }, (_, i) => [`SCHILY.xattr.user.k${i}`, 'v'] as [string, string]);
    const tar = writeTar([x(xattrs(3)), file('a', 'x'), x(xattrs(3)), file('b', 'y')]);
    expect(parseTar(tar, { limits: { maxXattrsPerEntry: 3 } })[1]!.xattrs).toHaveProperty('user.k2');
    expectLimit(() => parseTar(tar, { limits: { maxXattrsPerEntry: 2 } }), 'maxXattrsPerEntry');
    expectLimit(() => parseTar(tar, { limits: { maxXattrsPerStream: 5 } }), 'maxXattrsPerStream');
    const usage = new TarUsage();
    parseTar(tar, { usage, limits: { maxXattrsPerStream: 9 } });
    expect(usage.xattrs).toBe(6);
    expectLimit(() => parseTar(tar, { usage, limits: { maxXattrsPerStream: 9 } }), 'maxXattrsPerStream');
  });

  it('path and link target bytes (PAX path, GNU long names; multi-byte UTF-8 counted in bytes)', () => {
    const long = 'd/'.repeat(600) + 'f';
    expect(parseTar(writeTar([file(long, 'x')]), { limits: { maxPathBytes: 1201 } })[0]!.path).toBe(long);
    expectLimit(() => parseTar(writeTar([file(long, 'x')]), { limits: { maxPathBytes: 1200 } }), 'maxPathBytes');
    const gnu = writeTar([gnuLongHeader('L', 'é'.repeat(500)), file('short', 'x')]);
    expectLimit(() => parseTar(gnu, { limits: { maxPathBytes: 999 } }), 'maxPathBytes');
    expect(parseTar(gnu, { limits: { maxPathBytes: 1000 } })[0]!.path).toBe('é'.repeat(500));
    const link = writeTar([x([['linkpath', 't'.repeat(2000)]]), encodeHeader({ name: 'l', mode: 0o777, uid: 0, gid: 0, size: 0, mtime: 0, typeflag: '2', format: 'ustar' }), new Uint8Array(1024)]);
    expectLimit(() => parseTar(link, { limits: { maxPathBytes: 1999 } }), 'maxPathBytes');
  });

  it('entries per stream and per image', () => {
    const tar = writeTar([dir('d'), file('d/a', 'x'), file('d/b', 'y')]);
    expect(parseTar(tar, { limits: { maxEntries: 3 } })).toHaveLength(3);
    expectLimit(() => parseTar(tar, { limits: { maxEntries: 2 } }), 'maxEntries');
    const usage = new TarUsage();
    parseTar(tar, { usage, limits: { maxEntries: 5 } });
    expectLimit(() => parseTar(tar, { usage, limits: { maxEntries: 5 } }), 'maxEntries');
  });

  it('a size field is checked before it drives an allocation: a 1 TB PAX header is refused at its header', () => {
    const header = encodeHeader({ name: 'PaxHeaders/huge', mode: 0o644, uid: 0, gid: 0, size: 2 ** 40, mtime: 0, typeflag: 'x', format: 'gnu' });
    const parser = new TarStreamParser(() => {});
    const error = thrown(() => parser.push(header));
    expect(error.code).toBe('InvalidArgument');
    expect(parser.position).toBe(512);
    // Under maxMetaSize but over what is left of the per-entry budget: refused before allocating too.
    const two = encodeHeader({ name: 'PaxHeaders/big', mode: 0o644, uid: 0, gid: 0, size: 900_000, mtime: 0, typeflag: 'x', format: 'ustar' });
    expectLimit(() => new TarStreamParser(() => {}, { limits: { maxMetaBytesPerEntry: 800_000 } }).push(two), 'maxMetaBytesPerEntry');
  });

  it('limits are validated (TypeError naming the field) and default to DEFAULT_TAR_LIMITS', () => {
    expect(resolveTarLimits()).toEqual(DEFAULT_TAR_LIMITS);
    expect(() => resolveTarLimits({ maxEntries: 0 })).toThrow(/limits.maxEntries must be a positive whole number/);
    expect(() => resolveTarLimits({ maxEntrys: 1 } as Partial<TarLimits>)).toThrow(/limits.maxEntrys is not a tar limit/);
  });
});

interface FloodResult { entries?: number; xattrs?: number; error?: { code: string; message: string }; ms: number; maxRssMB: number; tarBytes: number; blobBytes: number }

async function flood(which: 'pax' | 'global'): Promise<FloodResult> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', join(root, 'test/fuzz/flood-child.ts'), which], { cwd: root, maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as FloodResult;
}

describe('metadata floods from the issue', () => {
  it('600,000 consecutive PAX headers (1.2 GB of tar, 900 MB of records): a typed error in seconds, a few hundred MB', async () => {
    const r = await flood('pax');
    expect(r.tarBytes).toBeGreaterThan(1.2e9);
    expect(r.blobBytes).toBeLessThan(16e6);
    expect(r.error?.code).toBe('InvalidArgument');
    expect(r.error?.message).toContain('limits.maxConsecutiveMetaHeaders');
    expect(r.ms).toBeLessThan(15_000);
    expect(r.maxRssMB).toBeLessThan(400);
  }, 60_000);

  it('one global header of 5,000 xattr records before 20,000 files: every file listed, no xattr leaks, seconds, a few hundred MB', async () => {
    const r = await flood('global');
    expect(r.error).toBeUndefined();
    expect(r.entries).toBe(20_001);
    expect(r.xattrs).toBe(0);
    expect(r.ms).toBeLessThan(10_000);
    expect(r.maxRssMB).toBeLessThan(400);
  }, 60_000);
});
