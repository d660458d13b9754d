/**
 * The tar reader against Go's archive/tar rules, checked where possible against real oracles:
 * GNU tar 1.34 (archives it writes, what it extracts) and the filesystem (stat, readdir).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageError } from '../src/errors/image-fs-error.js';
import { storedSize, type TarEntry } from '../src/tar/entry.js';
import { decodeHeader, decodeNumber } from '../src/tar/header.js';
import { TarStreamParser, type TarParserOptions } from '../src/tar/parser.js';
import { parsePax, paxString } from '../src/tar/pax.js';
import { encodeRawName } from '../src/tar/raw-name.js';
import { parsePaxTime } from '../src/tar/time.js';
import {
  charDevice,
  encodeHeader,
  extendedHeader,
  file,
  fixHeaderChecksum,
  gnuLongHeader,
  sparseFile,
  symlink,
  writeTar,
  type TarRecord,
} from '../src/testing/builder/index.js';
import { concat, data, END, fixChecksum, header, paxPayload } from './tar-fixtures.js';

const CHUNKS = [1, 7, 321, 512, Infinity];

interface Parsed {
  entries: TarEntry[];
  /** Stored data of each entry as onData delivered it, checked against its positions. */
  stored: Map<TarEntry, Buffer>;
}

function feed(bytes: Uint8Array, chunk: number, options: TarParserOptions = {}): Parsed {
  const entries: TarEntry[] = [];
  const stored = new Map<TarEntry, Buffer[]>();
  const lengths = new Map<TarEntry, number>();
  const p = new TarStreamParser((e) => entries.push(e), {
    ...options,
    onData: (e, c, pos) => {
      if (pos !== (lengths.get(e) ?? 0)) throw new Error(`onData position ${pos} for '${e.path}', expected ${lengths.get(e) ?? 0}`);
      lengths.set(e, pos + c.length);
      let parts = stored.get(e);
      if (!parts) stored.set(e, (parts = []));
      parts.push(Buffer.from(c));
    },
  });
  const step = Number.isFinite(chunk) ? chunk : Math.max(bytes.length, 1);
  for (let i = 0; i < bytes.length; i += step) p.push(bytes.subarray(i, i + step));
  p.end();
  return { entries, stored: new Map([...stored].map(([e, parts]) => [e, Buffer.concat(parts)])) };
}

/** Parses in every chunk size; all must agree. Checks onData against dataOffset. */
function parse(bytes: Uint8Array, options?: TarParserOptions): TarEntry[] {
  const first = feed(bytes, Infinity, options);
  for (const e of first.entries) {
    const got = first.stored.get(e) ?? Buffer.alloc(0);
    expect(got.length, e.path).toBe(storedSize(e));
    expect(got.equals(Buffer.from(bytes.subarray(e.dataOffset, e.dataOffset + storedSize(e)))), e.path).toBe(true);
  }
  for (const chunk of CHUNKS) expect(feed(bytes, chunk, options).entries, `chunk ${chunk}`).toEqual(first.entries);
  return first.entries;
}

function refused(bytes: Uint8Array, message: RegExp, code = 'DataLoss', options?: TarParserOptions): void {
  for (const chunk of CHUNKS) {
    let caught: unknown;
    try {
      feed(bytes, chunk, options);
    } catch (e) {
      caught = e;
    }
    expect(caught, `chunk ${chunk}`).toBeInstanceOf(ImageError);
    expect((caught as ImageError).code, `chunk ${chunk}`).toBe(code);
    expect((caught as ImageError).message).toMatch(message);
  }
}

/** A sparse (or plain) file's logical content: holes as zeros, segments from the archive. */
function expand(e: TarEntry, bytes: Uint8Array): Buffer {
  if (!e.sparse) return Buffer.from(bytes.subarray(e.dataOffset, e.dataOffset + e.size));
  const out = Buffer.alloc(e.size);
  let at = e.dataOffset;
  for (let i = 0; i < e.sparse.length; i += 2) {
    out.set(bytes.subarray(at, at + e.sparse[i + 1]!), e.sparse[i]!);
    at += e.sparse[i + 1]!;
  }
  return out;
}

const byPath = (entries: TarEntry[], path: string): TarEntry => {
  const e = entries.find((x) => x.path === path);
  expect(e, path).toBeDefined();
  return e!;
};

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'imagefs-tar-fidelity-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function gnuTar(cwd: string, args: string[], what: string[]): Uint8Array {
  const out = join(tmp, `a-${Math.random().toString(36).slice(2)}.tar`);
  execFileSync('tar', ['-C', cwd, ...args, '-cf', out, ...what]);
  return new Uint8Array(readFileSync(out));
}

function extract(bytes: Uint8Array, args: string[] = []): string {
  const dir = join(tmp, `x-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  const archive = `${dir}.tar`;
  writeFileSync(archive, bytes);
  execFileSync('tar', ['-C', dir, ...args, '-xf', archive]);
  return dir;
}

describe('sparse files written by GNU tar (old GNU S, PAX 0.0, 0.1, 1.0)', () => {
  const files: Record<string, { size: number; writes: Array<[number, Buffer]> }> = {
    'two-islands': { size: 3 << 20, writes: [[1_000_000, Buffer.from('hello')], [2_500_000, Buffer.from('world')]] },
    'data-at-ends': { size: 1 << 20, writes: [[0, Buffer.alloc(5000, 1)], [(1 << 20) - 3, Buffer.from('end')]] },
    'all-hole': { size: 2 << 20, writes: [] },
    // 30 islands: the old GNU format needs two extension blocks (4 + 21 + 5 descriptors).
    'many-islands': { size: 31 * 65536, writes: Array.from({ length: 30 }, (_, i) => [(i + 1) * 65536 - 7, Buffer.from(`island-${i}`)] as [number, Buffer]) },
  };
  let src: string;
  beforeAll(() => {
    src = join(tmp, 'sparse-src');
    mkdirSync(join(src, 'sp'), { recursive: true });
    for (const [name, spec] of Object.entries(files)) {
      const fd = openSync(join(src, 'sp', name), 'w');
      for (const [at, bytes] of spec.writes) writeSync(fd, bytes, 0, bytes.length, at);
      closeSync(fd);
      execFileSync('truncate', ['-s', String(spec.size), join(src, 'sp', name)]);
    }
  });

  for (const [label, args] of [
    ['gnu (old GNU S)', ['--format=gnu']],
    ['pax 0.0', ['--format=pax', '--sparse-version=0.0']],
    ['pax 0.1', ['--format=pax', '--sparse-version=0.1']],
    ['pax 1.0', ['--format=pax', '--sparse-version=1.0']],
  ] as const) {
    it(`${label}: logical size, map and expanded bytes equal the file and what tar -x extracts`, () => {
      const bytes = gnuTar(src, [...args, '--sparse'], ['sp']);
      const entries = parse(bytes);
      const extracted = extract(bytes);
      for (const [name, spec] of Object.entries(files)) {
        const e = byPath(entries, `sp/${name}`);
        const original = readFileSync(join(src, 'sp', name));
        expect(e.type).toBe('file');
        expect(e.size, name).toBe(spec.size);
        expect(e.sparse, name).toBeDefined();
        const map = e.sparse!;
        for (let i = 0; i < map.length; i += 2) {
          expect(map[i + 1]!, name).toBeGreaterThan(0);
          if (i > 0) expect(map[i]!).toBeGreaterThanOrEqual(map[i - 2]! + map[i - 1]!);
        }
        for (const [at, w] of spec.writes) {
          expect(map.some((_, i) => i % 2 === 0 && map[i]! <= at && at + w.length <= map[i]! + map[i + 1]!), `${name}@${at}`).toBe(true);
        }
        expect(storedSize(e)).toBeLessThan(spec.size);
        const content = expand(e, bytes);
        expect(content.equals(original), name).toBe(true);
        expect(content.equals(readFileSync(join(extracted, 'sp', name))), name).toBe(true);
      }
      if (label.startsWith('gnu')) expect(Buffer.from(bytes).includes(Buffer.from('sp/many-islands'))).toBe(true);
    });
  }
});

describe('sparse files written by the test bench, checked by GNU tar -x', () => {
  // GNU tar reads each segment from a new block: all but the last are whole blocks, as GNU tar writes them.
  const segments: Array<[number, string | Uint8Array]> = [[0, 'h'.repeat(512)], [70_000, new Uint8Array(3072).fill(7)], [200_000, 'tail!']];
  for (const format of ['gnu-old', 'pax-0.0', 'pax-0.1', 'pax-1.0'] as const) {
    it(`${format}`, () => {
      const many: Array<[number, { seed: number; size: number }]> = Array.from({ length: 27 }, (_, i) => [i * 2048 + 5, { seed: i, size: 512 }]);
      const records = [
        sparseFile('sparse/three', { size: 200_005, segments, format }),
        sparseFile('sparse/many', { size: 60_000, segments: many, format }),
        sparseFile('sparse/empty', { size: 123_456, segments: [], format }),
        file('after', 'still in sync'),
      ];
      const bytes = writeTar(records);
      const entries = parse(bytes);
      const out = extract(bytes);
      for (const r of records) {
        const e = byPath(entries, r.path);
        expect(e.size).toBe(r.data!.length);
        expect(expand(e, bytes).equals(Buffer.from(r.data!)), r.path).toBe(true);
        expect(readFileSync(join(out, r.path)).equals(Buffer.from(r.data!)), r.path).toBe(true);
      }
      expect(byPath(entries, 'sparse/three').sparse).toEqual([0, 512, 70_000, 3072, 200_000, 5]);
      expect(byPath(entries, 'sparse/many').sparse).toHaveLength(54); // the final [60000, 0] is dropped
      expect(byPath(entries, 'sparse/empty').sparse).toEqual([]);
      expect(byPath(entries, 'after').sparse).toBeUndefined();
    });
  }
});

describe('invalid sparse maps are refused (Go validateSparseEntries, errMissData, errUnrefData)', () => {
  const sp = (format: 'gnu-old' | 'pax-0.1' | 'pax-1.0', size: number, segments: Array<[number, Uint8Array]>, extra: Partial<TarRecord> = {}): Uint8Array =>
    writeTar([{ path: 'bad', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, sparse: { size, segments, format }, ...extra }]);
  const ten = new Uint8Array(10).fill(1);
  for (const format of ['gnu-old', 'pax-0.1', 'pax-1.0'] as const) {
    it(`${format}: overlap, out of order, past the size`, () => {
      refused(sp(format, 100, [[0, ten], [5, ten]]), /'bad' at offset \d+ has an invalid GNU sparse map: sparse segment 1 \(offset 5\) overlaps/);
      refused(sp(format, 100, [[50, ten], [0, ten]]), /sparse segment 1 \(offset 0\) overlaps or precedes/);
      refused(sp(format, 15, [[10, ten]]), /sparse segment 0 \(offset 10, length 10\) ends past the file size 15/);
    });
  }

  it('a map that does not account for exactly the stored bytes', () => {
    refused(sp('pax-0.1', 100, [[0, ten]], { pax: { 'GNU.sparse.numblocks': '1', 'GNU.sparse.map': '0,20' } }), /'bad' at offset \d+ has a GNU sparse map covering 20 bytes but 10 bytes of data stored .*missing/);
    refused(sp('pax-0.1', 100, [[0, ten]], { pax: { 'GNU.sparse.numblocks': '1', 'GNU.sparse.map': '0,4' } }), /covering 4 bytes but 10 bytes .*unreferenced/);
  });

  it('malformed maps: count mismatch, bad numbers, 1.0 map running past the data, sparse symlinks, S outside GNU headers', () => {
    refused(sp('pax-0.1', 100, [[0, ten]], { pax: { 'GNU.sparse.numblocks': '3' } }), /'bad' at offset 1024 has a malformed GNU sparse 0.x map: GNU.sparse.map has 4 numbers, GNU.sparse.numblocks=3 needs 6/);
    refused(sp('pax-0.1', 100, [[0, ten]], { pax: { 'GNU.sparse.numblocks': '1', 'GNU.sparse.map': '0,1x' } }), /not a valid number/);
    // 1.0 map whose count promises more numbers than its data holds.
    const payload = new TextEncoder().encode('5\n0\n10\n');
    const x = extendedHeader([['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.realsize', '100'], ['GNU.sparse.name', 'bad']]);
    refused(concat([x, header({ name: 'GNUSparseFile.0/bad', size: 512 }), data(payload), END]), /'bad' at offset 1024: its GNU sparse 1.0 map runs past its 512 stored bytes/);
    refused(concat([x, header({ name: 'GNUSparseFile.0/bad', size: 100 }), data('x'.repeat(100)), END]), /runs past its 100 stored bytes/);
    refused(writeTar([symlink('link', 'target', { pax: { 'GNU.sparse.map': '0,1', 'GNU.sparse.numblocks': '1' } })]), /'link' at offset \d+ is a symlink with a GNU sparse map/);
    const s = encodeHeader({ name: 'ustar-s', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, typeflag: 'S', format: 'ustar' });
    refused(concat([s, END]), /'ustar-s' at offset 0 has the GNU sparse type 'S' in a ustar header/);
  });

  it('a PAX sparse version it does not know is a plain file (as Go)', () => {
    const bytes = writeTar([file('v2', 'abc', { pax: { 'GNU.sparse.major': '2', 'GNU.sparse.minor': '0', 'GNU.sparse.map': '0,1', 'GNU.sparse.name': 'renamed' } })]);
    expect(parse(bytes)).toMatchObject([{ path: 'v2', size: 3 }]);
    expect(parse(bytes)[0]!.sparse).toBeUndefined();
  });
});

describe('names that are not UTF-8 keep their exact bytes', () => {
  const names = [
    Buffer.from([0x6c, 0x61, 0x74, 0x69, 0x6e, 0x31, 0x2d, 0xe9, 0x74, 0xe9]), // latin1 "été"
    Buffer.from([0xff, 0xfe, 0x80]),
    Buffer.concat([Buffer.from('mixed-é-'), Buffer.from([0xc3]), Buffer.from('-x')]),
    Buffer.concat([Buffer.from('long-'.repeat(25)), Buffer.from([0xe9, 0xe8])]), // > 100 bytes: PAX path / GNU L
  ];
  let src: string;
  beforeAll(() => {
    src = join(tmp, 'raw-src');
    mkdirSync(join(src, 'raw'), { recursive: true });
    const dir = Buffer.from(join(src, 'raw/'));
    for (const n of names) writeFileSync(Buffer.concat([dir, n]), n);
    symlinkSync(Buffer.from([0x74, 0x6f, 0xe9]) as unknown as string, Buffer.concat([dir, Buffer.from('link')]));
  });

  for (const format of ['pax', 'gnu', 'ustar'] as const) {
    it(`GNU tar --format=${format}: encodeRawName(path) is the name on disk`, () => {
      const onDisk = readdirSync(join(src, 'raw'), { encoding: 'buffer' });
      const fits = format === 'ustar' ? names.filter((n) => n.length < 90) : names;
      const bytes = gnuTar(src, [`--format=${format}`, ...(format === 'ustar' ? ['--exclude=long-*'] : [])], ['raw']);
      const entries = parse(bytes);
      for (const n of fits) {
        expect(onDisk.some((d) => d.equals(n))).toBe(true);
        const e = entries.find((x) => Buffer.from(encodeRawName(x.path)).equals(Buffer.concat([Buffer.from('raw/'), n])));
        expect(e, n.toString('hex')).toBeDefined();
        expect(expand(e!, bytes).equals(n)).toBe(true);
      }
      const link = byPath(entries, 'raw/link');
      expect(Buffer.from(encodeRawName(link.linkTarget!)).equals(readlinkSync(join(src, 'raw/link'), { encoding: 'buffer' }))).toBe(true);
    });
  }

  it('the test bench writes byte names (PAX path, GNU L, header field) that GNU tar extracts exactly', () => {
    const records = names.flatMap((n, i) => [
      file(Buffer.concat([Buffer.from(`p${i}-`), n]), 'pax'),
      file(Buffer.concat([Buffer.from(`g${i}-`), n]), 'gnu', { longName: 'gnu' }),
    ]);
    const bytes = writeTar([...records, symlink('s', Uint8Array.of(0xe9, 0x2f, 0xff))]);
    const entries = parse(bytes);
    const out = extract(bytes);
    const disk = readdirSync(out, { encoding: 'buffer' });
    for (const r of records) {
      const raw = Buffer.from(encodeRawName(r.path));
      expect(entries.some((e) => e.path === r.path)).toBe(true);
      expect(disk.some((d) => d.equals(raw)), raw.toString('hex')).toBe(true);
    }
    expect(Buffer.from(encodeRawName(byPath(entries, 's').linkTarget!))).toEqual(readlinkSync(join(out, 's'), { encoding: 'buffer' }));
  });
});

describe('times: integer seconds and nanoseconds', () => {
  const times = ['1700000000.123456789', '1700000000', '-1.5', '-0.5', '-100000', '0.000000001', '4102444800.999999999'];
  let src: string;
  beforeAll(() => {
    src = join(tmp, 'time-src');
    mkdirSync(join(src, 't'), { recursive: true });
    times.forEach((t, i) => {
      const p = join(src, 't', `f${i}`);
      writeFileSync(p, t);
      execFileSync('touch', ['-m', '-d', `@${t}`, p]);
      execFileSync('touch', ['-a', '-d', `@${t.startsWith('-') ? '1600000000.5' : t}`, p]);
    });
  });

  it('GNU tar --format=pax: mtime, atime, ctime equal stat (ns)', () => {
    const stats = times.map((_, i) => statSync(join(src, 't', `f${i}`), { bigint: true }));
    const bytes = gnuTar(src, ['--format=pax', '--atime-preserve=system'], ['t']);
    const entries = parse(bytes);
    const ns = (s: number | undefined, n: number | undefined): bigint => BigInt(s!) * 1_000_000_000n + BigInt(n!);
    times.forEach((t, i) => {
      const e = byPath(entries, `t/f${i}`);
      const st = stats[i]!;
      expect(Number.isInteger(e.mtime) && e.mtimeNsec >= 0 && e.mtimeNsec < 1e9, t).toBe(true);
      expect(ns(e.mtime, e.mtimeNsec), t).toBe(st.mtimeNs);
      expect(ns(e.atime, e.atimeNsec), t).toBe(st.atimeNs);
      expect(ns(e.ctime, e.ctimeNsec), t).toBe(statSync(join(src, 't', `f${i}`), { bigint: true }).ctimeNs);
    });
    expect(byPath(entries, 't/f2')).toMatchObject({ mtime: -2, mtimeNsec: 500_000_000 });
    expect(byPath(entries, 't/f3')).toMatchObject({ mtime: -1, mtimeNsec: 500_000_000 });
  });

  it('GNU tar --format=gnu: negative whole-second mtimes (base-256) equal stat', () => {
    const bytes = gnuTar(src, ['--format=gnu'], ['t/f4']);
    expect(bytes[136]).toBe(0xff);
    const [e] = parse(bytes);
    expect(e).toMatchObject({ mtime: -100000, mtimeNsec: 0 });
    expect(BigInt(e!.mtime) * 1_000_000_000n).toBe(statSync(join(src, 't/f4'), { bigint: true }).mtimeNs);
  });

  it('the test bench writes exact times that GNU tar extracts to the nanosecond', () => {
    const values = [1_700_000_000_123_456_789n, -1_500_000_000n, -86_400_000_000_000n, 1n];
    const records = values.flatMap((v, i) => [
      file(`pax${i}`, 'x', { mtimeNs: v }),
      file(`gnu${i}`, 'x', { mtimeNs: v, format: 'gnu', atimeNs: 1_600_000_000_000_000_000n, ctimeNs: 1_600_000_001_000_000_000n }),
    ]);
    const bytes = writeTar(records);
    const entries = parse(bytes);
    const out = extract(bytes);
    values.forEach((v, i) => {
      for (const name of [`pax${i}`, `gnu${i}`]) {
        const e = byPath(entries, name);
        expect(BigInt(e.mtime) * 1_000_000_000n + BigInt(e.mtimeNsec), name).toBe(v);
        expect(statSync(join(out, name), { bigint: true }).mtimeNs, name).toBe(v);
      }
      expect(byPath(entries, `gnu${i}`)).toMatchObject({ atime: 1_600_000_000, atimeNsec: 0, ctime: 1_600_000_001, ctimeNsec: 0 });
    });
  });

  it('parsePaxTime follows Go: nine digits kept, negative fractions count backwards, bad syntax refused', () => {
    expect(parsePaxTime('1.5')).toEqual({ sec: 1, nsec: 500_000_000 });
    expect(parsePaxTime('-1.5')).toEqual({ sec: -2, nsec: 500_000_000 });
    expect(parsePaxTime('-0.5')).toEqual({ sec: -1, nsec: 500_000_000 });
    expect(parsePaxTime('-1')).toEqual({ sec: -1, nsec: 0 });
    expect(parsePaxTime('-1.0')).toEqual({ sec: -1, nsec: 0 });
    expect(parsePaxTime('+2.25')).toEqual({ sec: 2, nsec: 250_000_000 });
    expect(parsePaxTime('1.1234567899')).toEqual({ sec: 1, nsec: 123_456_789 });
    expect(parsePaxTime('1.')).toEqual({ sec: 1, nsec: 0 });
    for (const bad of ['.5', '1.5x', '1e3', '', ' 1', '1.-5', '0x10']) expect(parsePaxTime(bad), bad).toBe('syntax');
    expect(parsePaxTime('99999999999999999999')).toBe('range');
    const bytes = writeTar([file('bad-time', 'x', { pax: { mtime: '12.x' } })]);
    refused(bytes, /PAX record mtime="12.x" of 'bad-time' at offset 1024 is not a time/);
  });
});

describe('PAX and GNU metadata headers as Go reads them', () => {
  it('several x headers in a row: the last one wins entirely (records are not merged)', () => {
    const bytes = writeTar([extendedHeader([['path', 'first'], ['uid', '5'], ['SCHILY.xattr.user.a', 'A']]), extendedHeader([['path', 'second']]), file('hdr', 'x')]);
    const [e] = parse(bytes);
    expect(e).toMatchObject({ path: 'second', uid: 0 });
    expect(e!.xattrs).toBeUndefined();
  });

  it('global headers are ignored, consume pending x/L/K, and are still parsed', () => {
    const g = extendedHeader([['uid', '77'], ['path', 'global'], ['mtime', '5']], { type: 'g' });
    const bytes = writeTar([g, file('a', 'x'), extendedHeader([['path', 'lost']]), gnuLongHeader('L', 'lost-too'), g, file('b', 'y')]);
    expect(parse(bytes).map((e) => [e.path, e.uid, e.mtime])).toEqual([['a', 0, 1_700_000_000], ['b', 0, 1_700_000_000]]);
    // A malformed global header is an error; a global record Go cannot merge is not.
    refused(writeTar([extendedHeader(new TextEncoder().encode('5 a=\n\n'), { type: 'g' }), file('f', 'x')]), /PAX extended header \('pax_global_header'\) at offset 512 has a malformed record at byte 5 \(stream offset 517\)/);
    expect(parse(writeTar([extendedHeader([['mtime', 'nonsense']], { type: 'g' }), file('f', 'x')]))).toHaveLength(1);
  });

  it('GNU long names and links win over PAX path and linkpath', () => {
    const bytes = writeTar([
      extendedHeader([['path', 'pax-name'], ['linkpath', 'pax-target']]),
      gnuLongHeader('L', 'gnu-name'),
      gnuLongHeader('K', 'gnu-target'),
      symlink('hdr', 'hdr-target'),
      gnuLongHeader('L', 'only-gnu'),
      extendedHeader([['path', 'pax-after-gnu']]),
      file('hdr2', 'z'),
    ]);
    expect(parse(bytes).map((e) => [e.path, e.linkTarget])).toEqual([['gnu-name', 'gnu-target'], ['only-gnu', undefined]]);
  });

  it('empty PAX values keep the header value; an empty xattr is kept (containerd sets it from hdr.PAXRecords)', () => {
    const bytes = writeTar([extendedHeader([['path', ''], ['uname', ''], ['uid', ''], ['mtime', ''], ['SCHILY.xattr.user.empty', ''], ['SCHILY.xattr.user.set', 'v']]), file('keep', 'x', { uid: 9, uname: 'hdr' })]);
    const [e] = parse(bytes);
    expect(e).toMatchObject({ path: 'keep', uid: 9, uname: 'hdr', mtime: 1_700_000_000 });
    expect(e!.xattrs).toEqual({ 'user.empty': new Uint8Array(0), 'user.set': new TextEncoder().encode('v') });
  });

  it('refuses NUL in path/linkpath/uname/gname values and in other keys, NUL padding, malformed records', () => {
    const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
    const with_ = (payload: Uint8Array): Uint8Array => writeTar([extendedHeader(payload), file('f', 'x')]);
    refused(with_(enc('12 path=a\0b\n')), /malformed record at byte 0 \(stream offset 512\): the path value holds a NUL byte/);
    refused(with_(enc('15 linkpath=\0b\n')), /the linkpath value holds a NUL byte/);
    refused(with_(enc('13 user.\0k=v\n')), /the key holds a NUL byte/);
    expect(parse(with_(paxPayload([['SCHILY.xattr.user.b', Uint8Array.of(0)], ['uname', 'u']])))[0]!.xattrs).toEqual({ 'user.b': Uint8Array.of(0) });
    refused(with_(paxPayload([['gname', 'a\0']])), /the gname value holds a NUL byte/);
    refused(with_(concat([enc('11 path=ab\n'), new Uint8Array(20)])), /at byte 11 .*NUL padding after the last record/);
    refused(with_(enc('11 path=ab ')), /record does not end with a newline/);
    refused(with_(enc('7 =abc\n')), /empty key/);
    refused(with_(enc('7 abcd\n')), /has no "="/);
    refused(with_(enc('3 a\n')), /is not a number from 5/);
    refused(with_(enc('x6 a=b\n')), /is not a number from 5/);
    // Go's ParseInt takes a sign; the first "=" splits key and value.
    expect(paxString(parsePax(enc('+10 a=b=c\n'), 0), 'a')).toBe('b=c');
  });

  it('GNU sparse 0.0 records alternate and are joined into GNU.sparse.map', () => {
    const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
    const ok = parsePax(paxPayload([['GNU.sparse.offset', '0'], ['GNU.sparse.numbytes', '5'], ['GNU.sparse.offset', '10'], ['GNU.sparse.numbytes', '1']]), 0);
    expect(paxString(ok, 'GNU.sparse.map')).toBe('0,5,10,1');
    expect(() => parsePax(paxPayload([['GNU.sparse.numbytes', '5']]), 0)).toThrow(/GNU.sparse.numbytes where GNU.sparse.offset was expected/);
    expect(() => parsePax(paxPayload([['GNU.sparse.offset', '0'], ['GNU.sparse.offset', '1']]), 0)).toThrow(/GNU.sparse.offset where GNU.sparse.numbytes was expected/);
    expect(() => parsePax(paxPayload([['GNU.sparse.offset', '0,1']]), 0)).toThrow(/holds a comma/);
    // An explicit map is replaced by the joined 0.0 records.
    expect(paxString(parsePax(paxPayload([['GNU.sparse.map', '1,1'], ['GNU.sparse.offset', '2'], ['GNU.sparse.numbytes', '3']]), 0), 'GNU.sparse.map')).toBe('2,3');
    void enc;
  });

  it('PAX uid/gid/size are signed 64-bit decimals; malformed or huge ones are refused', () => {
    expect(parse(writeTar([file('u', 'x', { uid: 2 ** 32 - 1, gid: 2 ** 32 - 2 })]))[0]).toMatchObject({ uid: 2 ** 32 - 1, gid: 2 ** 32 - 2 });
    refused(writeTar([file('u', 'x', { pax: { uid: '12a' } })]), /PAX record uid="12a" of 'u' at offset 1024 is not a decimal integer/);
    refused(writeTar([file('u', 'x', { pax: { gid: '9223372036854775808' } })]), /gid=.* is too large/);
    refused(writeTar([file('u', 'x', { pax: { size: '-1' } })]), /'u' at offset 1024 has a negative size -1/);
  });
});

describe('header numbers, formats and the end of the archive', () => {
  it('uid/gid 2^32-1 and device numbers via GNU base-256 (GNU tar lists the same)', () => {
    const bytes = writeTar([
      file('big-ids', 'x', { uid: 2 ** 32 - 1, gid: 2 ** 32 - 2, format: 'gnu' }),
      charDevice('dev/big', 2 ** 31 - 1, 2 ** 31 - 2, { format: 'gnu' }),
    ]);
    expect(bytes[108]).toBe(0x80);
    const entries = parse(bytes);
    expect(entries[0]).toMatchObject({ uid: 2 ** 32 - 1, gid: 2 ** 32 - 2 });
    expect(entries[1]).toMatchObject({ type: 'char', devMajor: 2 ** 31 - 1, devMinor: 2 ** 31 - 2 });
    const archive = join(tmp, 'ids.tar');
    writeFileSync(archive, bytes);
    const listing = execFileSync('tar', ['--numeric-owner', '-tvf', archive]).toString();
    expect(listing).toContain('4294967295/4294967294');
    expect(listing).toContain('2147483647,2147483646');
    // GNU tar's major_t is 32-bit signed; Go (and imagefs) read 2^32-1 as well.
    const big = parse(writeTar([charDevice('dev/bigger', 2 ** 32 - 1, 2 ** 32 - 2, { format: 'gnu' })]));
    expect(big[0]).toMatchObject({ devMajor: 2 ** 32 - 1, devMinor: 2 ** 32 - 2 });
  });

  it('decodes numbers as Go parseNumeric: base-256 sign by bit 0x40, octal trimmed then cut at NUL', () => {
    const field = (...b: number[]): Uint8Array => Uint8Array.from(b);
    const text = (s: string): Uint8Array => new TextEncoder().encode(s);
    expect(decodeNumber(field(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0x79, 0x60), 0, 9)).toBe(-100000);
    expect(decodeNumber(field(0x80, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff), 0, 9)).toBe(2 ** 32 - 1);
    expect(decodeNumber(field(0xc0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe), 0, 8)).toBeNaN(); // Go: -0x3f00000000000002, beyond 2^53
    expect(decodeNumber(field(0xff, 0xe0, 0, 0, 0, 0, 0, 1), 0, 8)).toBe(Number.MIN_SAFE_INTEGER);
    expect(decodeNumber(field(0xff, 0xe0, 0, 0, 0, 0, 0, 0), 0, 8)).toBeNaN(); // -2^53: not exact in a number
    expect(decodeNumber(field(0xc0, 0x00), 0, 2)).toBe(-16384); // bit 0x40, not 0xff, makes it negative
    expect(decodeNumber(field(0x80, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 0, 9)).toBeNaN(); // int64 overflow
    expect(decodeNumber(text('  12 \0'), 0, 6)).toBe(0o12);
    expect(decodeNumber(text('12\0x'), 0, 4)).toBe(0o12);
    expect(decodeNumber(text('1 2'), 0, 3)).toBeNaN();
    expect(decodeNumber(text('18'), 0, 2)).toBeNaN();
    expect(decodeNumber(text('\0\0  '), 0, 4)).toBe(0);
  });

  it('refuses malformed or too large header numbers naming the entry and offset', () => {
    const h = header({ name: 'big-size', size: 0 });
    h[124] = 0x80;
    h.fill(0xff, 125, 136);
    fixChecksum(h);
    refused(concat([header({ name: 'ok' }), h, END]), /tar header of 'big-size' at offset 512 has a malformed or too large size field/);
  });

  it('reads star headers (131-byte prefix, atime and ctime) and GNU header times', () => {
    const star = header({ name: 'name', prefix: 'pre' });
    new TextEncoder().encodeInto('tar\0', star.subarray(508));
    new TextEncoder().encodeInto('01234567012\0', star.subarray(476));
    new TextEncoder().encodeInto('00000000017\0', star.subarray(488));
    fixChecksum(star);
    expect(decodeHeader(star, 0).format).toBe('star');
    expect(parse(concat([star, END]))[0]).toMatchObject({ path: 'pre/name', atime: 0o1234567012, atimeNsec: 0, ctime: 0o17 });
    // GNU times whose field does not parse: a pre-Go-1.8 header with a ustar prefix there.
    const legacy = header({ name: 'name', magic: 'gnu' });
    new TextEncoder().encodeInto('old/prefix', legacy.subarray(345));
    fixChecksum(legacy);
    const [e] = parse(concat([legacy, END]));
    expect(e).toMatchObject({ path: 'old/prefix/name' });
    expect(e!.atime).toBeUndefined();
    // A ustar magic with any version is ustar for Go; "ustar " with another version is v7.
    const odd = header({ name: 'n', prefix: 'p', uname: 'u' });
    odd[263] = 0x20;
    fixChecksum(odd);
    expect(decodeHeader(odd, 0)).toMatchObject({ format: 'ustar', name: 'p/n', uname: 'u' });
    const v7 = header({ name: 'n', magic: 'gnu', uname: 'u' });
    v7[263] = 0x30;
    fixChecksum(v7);
    expect(decodeHeader(v7, 0)).toMatchObject({ format: 'v7', uname: '' });
  });

  it('ends at a zero block followed by the end or a second zero block; refuses a lone zero block before a header', () => {
    const one = file('a', 'abc');
    expect(parse(writeTar([one], { endBlocks: 0 })).map((e) => e.path)).toEqual(['a']);
    expect(parse(writeTar([one], { endBlocks: 1 })).map((e) => e.path)).toEqual(['a']);
    expect(parse(concat([writeTar([one]), new Uint8Array(1000).fill(0x41)])).map((e) => e.path)).toEqual(['a']);
    const lone = concat([writeTar([one], { endBlocks: 1 }), writeTar([file('b', 'x')])]);
    refused(lone, /lone zero block at offset 1024 followed by a header at offset 1536/);
    // A partial block at the end is truncation, even when it is zeros.
    refused(concat([writeTar([one], { endBlocks: 0 }), new Uint8Array(100)]), /ends at offset 1124 inside a header \(100 of 512 bytes\)/);
    refused(concat([writeTar([one], { endBlocks: 1 }), new Uint8Array(100)]), /inside a header \(100 of 512 bytes\)/);
  });

  it('a header with a bad checksum after valid entries names its offset; unknown types are refused or skipped', () => {
    const h = fixHeaderChecksum(encodeHeader({ name: 'multi', mode: 0o644, uid: 0, gid: 0, size: 3, mtime: 0, typeflag: 'M', format: 'gnu' }));
    const bytes = concat([h, data('abc'), writeTar([file('after', 'x')])]);
    refused(bytes, /tar entry 'multi' at offset 0 has unsupported type "M"/, 'InvalidArgument');
    expect(parse(bytes, { unknownTypes: 'skip' }).map((e) => e.path)).toEqual(['after']);
  });
});
