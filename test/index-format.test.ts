import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImageError } from '../src/errors/image-fs-error.js';
import type { Checkpoint } from '../src/layer-index/checkpoint.js';
import { encodeIndex } from '../src/layer-index/encode.js';
import { openIndex } from '../src/layer-index/layer-index.js';
import type { IndexedLayer, LayerIndexData } from '../src/layer-index/types.js';
import { INDEX_VERSION, isUnsupportedIndexVersion } from '../src/layer-index/format.js';
import { pathHash } from '../src/layer-index/path-table.js';
import { storedSize, type EntryType, type TarEntry } from '../src/tar/entry.js';
import { TarStreamParser } from '../src/tar/parser.js';
import { decodeRawName, encodeRawName } from '../src/tar/raw-name.js';

const LAYER: IndexedLayer = {
  digest: `sha256:${'ab'.repeat(32)}`, compressedSize: 123_456_789, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', uncompressedSize: 2 ** 40 + 7,
};

function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A seeded random layer: all entry kinds, xattrs, long, unicode and non-UTF-8 names, duplicates,
 * implied dirs, nanosecond times (some before 1970), atime/ctime on some entries, sparse files.
 */
function randomEntries(seed: number, count: number): TarEntry[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const raw = decodeRawName(Uint8Array.of(0x61, 0xff, 0xfe)); // 'a' and two bytes that are not UTF-8
  const words = ['usr', 'lib', 'share', 'bin', 'etc', 'python3.11', 'site-packages', 'node_modules', 'ünï', '名前', 'libfoo.so', 'README.md', '__init__.py'];
  const rawWords = [raw, decodeRawName(Uint8Array.of(0xe9, 0x74, 0xe9))];
  const dirs: string[] = [''];
  const out: TarEntry[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const parent = pick(dirs.length > 200 ? dirs.slice(-200) : dirs);
    const name = i % 500 === 0 ? 'x'.repeat(150) : `${pick(r() < 0.03 ? rawWords : words)}${i % 7 === 0 ? '' : `-${i}`}`;
    let path = parent === '' ? name : `${parent}/${name}`;
    if (r() < 0.02 && out.length > 0) path = pick(out).path; // duplicate path: last wins
    if (r() < 0.01) path = `implied-${i}/deeper/${name}`; // parents without entries
    const type = pick<EntryType>(['file', 'file', 'file', 'file', 'dir', 'dir', 'symlink', 'hardlink', 'char', 'block', 'fifo']);
    offset += 512 * (1 + (r() < 0.1 ? 2 : 0));
    const mtime = r() < 0.9 ? 1_700_000_000 : r() < 0.5 ? 1_700_000_000 + Math.floor(r() * 1e6) : -Math.floor(r() * 1e9);
    const e: TarEntry = {
      path, type, mode: r() < 0.8 ? 0o644 : Math.floor(r() * 0o7777), uid: r() < 0.9 ? 0 : Math.floor(r() * 70000),
      gid: r() < 0.9 ? 0 : Math.floor(r() * 70000), mtime, mtimeNsec: r() < 0.7 ? 0 : Math.floor(r() * 1e9),
      size: type === 'file' ? (r() < 0.05 ? 2 ** 36 + Math.floor(r() * 1000) : Math.floor(r() * 100_000)) : 0, dataOffset: offset,
    };
    if (r() < 0.1) { e.atime = mtime + Math.floor(r() * 2000) - 1000; e.atimeNsec = Math.floor(r() * 1e9); }
    if (r() < 0.1) { e.ctime = mtime + Math.floor(r() * 2000); e.ctimeNsec = r() < 0.3 ? 0 : Math.floor(r() * 1e9); }
    if (r() < 0.5) e.uname = pick(['root', 'daemon', 'nobody', 'üser']);
    if (r() < 0.5) e.gname = pick(['root', 'wheel', 'staff']);
    if (type === 'dir' && path.split('/').length < 8) dirs.push(path);
    if (type === 'symlink') e.linkTarget = pick(['../lib/x', '/abs/target', '', 't'.repeat(300), `../${raw}/x`]);
    if (type === 'hardlink') e.linkTarget = out.length > 0 ? pick(out).path : 'x';
    if (type === 'char' || type === 'block') { e.devMajor = Math.floor(r() * 300); e.devMinor = Math.floor(r() * 70000); }
    if (r() < 0.05) e.xattrs = { 'security.capability': new Uint8Array(randomBytes(20)), [`user.k${Math.floor(r() * 3)}`]: new Uint8Array(0) };
    if (type === 'file' && r() < 0.05) {
      // Segments in order inside the logical size; the stored bytes are their sum.
      const map: number[] = [];
      let at = 0;
      for (let k = Math.floor(r() * 4); k > 0 && at < e.size; k--) {
        const o = at + Math.floor(r() * (e.size - at));
        const l = Math.floor(r() * (e.size - o + 1));
        map.push(o, l);
        at = o + l;
      }
      e.sparse = map;
    }
    out.push(e);
    offset += Math.ceil(storedSize(e) / 512) * 512;
  }
  return out;
}

function randomCheckpoints(seed: number, n: number): { checkpoints: Checkpoint[]; spanDigests: Uint8Array[] } {
  const r = rng(seed);
  const checkpoints: Checkpoint[] = [];
  let c = 10;
  let u = 0;
  for (let i = 0; i < n; i++) {
    const cp: Checkpoint = { compressedOffset: c, bitOffset: i === 0 ? 0 : Math.floor(r() * 8), uncompressedOffset: u };
    if (i === 0) { cp.window = new Uint8Array(0); cp.memberStart = true; }
    else if (r() < 0.9) cp.window = new Uint8Array(Array.from({ length: 32768 }, (_, k) => (k * 7 + i) % 251 < 40 ? k % 256 : 65));
    checkpoints.push(cp);
    c += 1 + Math.floor(r() * 2e6);
    u += 4 * 1024 * 1024;
  }
  return { checkpoints, spanDigests: checkpoints.map((_, i) => createHash('sha256').update(`span${i}`).digest()) };
}

function build(entries: TarEntry[], cps = randomCheckpoints(1, 5)): { data: LayerIndexData; bytes: Uint8Array } {
  const data = { layer: LAYER, entries, ...cps };
  return { data, bytes: encodeIndex(data) };
}

/** The oracle of lookup/children: a plain map, last occurrence wins. */
function expectedLookup(entries: TarEntry[]): Map<string, number> {
  const m = new Map<string, number>();
  entries.forEach((e, i) => m.set(e.path, i));
  return m;
}

function expectCode(fn: () => unknown, code: string, message?: RegExp): void {
  let caught: unknown;
  try { fn(); } catch (e) { caught = e; }
  expect(caught).toBeInstanceOf(ImageError);
  expect((caught as ImageError).code).toBe(code);
  if (message) expect((caught as ImageError).message).toMatch(message);
}

describe('layer index round trip', () => {
  for (const seed of [1, 2, 3]) {
    it(`round-trips a random layer (seed ${seed})`, () => {
      const entries = randomEntries(seed, 2000);
      const { data, bytes } = build(entries, randomCheckpoints(seed, 20));
      const index = openIndex(bytes);
      expect(index.layer).toEqual(LAYER);
      expect(index.entryCount).toBe(entries.length);
      expect(index.entries()).toEqual(entries);
      for (const i of [0, 31, 32, 33, 1234, entries.length - 1]) expect(index.entryAt(i)).toEqual(entries[i]);
      const last = expectedLookup(entries);
      for (const [path, i] of last) expect(index.indexOf(path), path).toBe(i);
      expect(index.lookup('no/such/path')).toBeUndefined();
      // children: every parent of every path, compared with a map built here.
      const kids = new Map<string, number[]>();
      for (const [path, i] of last) {
        if (path === '') continue;
        const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
        kids.set(parent, [...(kids.get(parent) ?? []), i]);
      }
      for (const [dir, list] of kids) expect(index.childIndices(dir), dir).toEqual(list.sort((a, b) => a - b));
      const implied = entries.find((e) => e.path.startsWith('implied-'))!;
      const top = implied.path.split('/')[0]!;
      expect(index.lookup(top)).toBeUndefined();
      expect(index.readdir('')).toContain(top);
      expect(index.readdir(top)).toEqual(['deeper']);
      expect(index.checkpointCount).toBe(20);
      for (let i = 0; i < 20; i++) {
        const { window, ...position } = index.checkpoint(i);
        const { window: expectedWindow, ...expectedPosition } = data.checkpoints[i]!;
        expect(position).toEqual(expectedPosition);
        // toEqual walks typed arrays element by element (slow); compare bytes directly.
        expect(window === undefined ? undefined : Buffer.from(window).equals(expectedWindow!)).toBe(expectedWindow === undefined ? undefined : true);
        expect(index.spanDigest(i)).toEqual(new Uint8Array(data.spanDigests[i]!));
      }
      expect(index.findCheckpoint(0)).toBe(0);
      expect(index.findCheckpoint(4 * 1024 * 1024 * 3 + 5)).toBe(3);
    });
  }

  it('accepts an empty layer and no checkpoints', () => {
    const index = openIndex(encodeIndex({ layer: LAYER, entries: [], checkpoints: [], spanDigests: [] }));
    expect([index.entryCount, index.checkpointCount, index.findCheckpoint(10)]).toEqual([0, 0, -1]);
    expect(index.readdir('')).toBeUndefined();
  });

  it('rejects malformed checkpoints and digests', () => {
    const cps = randomCheckpoints(4, 3);
    expectCode(() => encodeIndex({ layer: LAYER, entries: [], checkpoints: [...cps.checkpoints].reverse(), spanDigests: [] }), 'InvalidArgument', /out of order/);
    expectCode(() => encodeIndex({ layer: LAYER, entries: [], checkpoints: cps.checkpoints, spanDigests: [new Uint8Array(32)] }), 'InvalidArgument', /span digests/);
  });
});

describe('layer index size and laziness', () => {
  it('stays under 40 bytes per entry for the paths of a real filesystem (/usr)', () => {
    const entries: TarEntry[] = [];
    let offset = 0;
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir).sort()) {
        if (entries.length >= 30_000) return;
        const full = join(dir, name);
        const st = lstatSync(full);
        const type: EntryType = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file';
        offset += 512;
        const e: TarEntry = { path: full.slice(1), type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, uname: 'root', gname: 'root', mtime: Math.floor(st.mtimeMs / 1000), mtimeNsec: 0, size: type === 'file' ? st.size : 0, dataOffset: offset };
        if (type === 'symlink') e.linkTarget = '../some/target';
        entries.push(e);
        offset += Math.ceil(e.size / 512) * 512;
        if (type === 'dir') walk(full);
      }
    };
    walk('/usr');
    const bytes = encodeIndex({ layer: LAYER, entries, checkpoints: [], spanDigests: [] });
    const perEntry = bytes.length / entries.length;
    console.log(`index of ${entries.length} /usr entries: ${bytes.length} bytes, ${perEntry.toFixed(1)} bytes/entry`);
    expect(entries.length).toBeGreaterThan(10_000);
    expect(perEntry).toBeLessThan(40);
    expect(openIndex(bytes).entries()).toEqual(entries);
  });

  it('opens a 100k-entry index without decoding entries, and looks up by decoding one block', () => {
    const entries = randomEntries(7, 100_000);
    let t = performance.now();
    const { bytes } = build(entries);
    const encodeMs = performance.now() - t;
    t = performance.now();
    const index = openIndex(bytes);
    const openMs = performance.now() - t;
    expect(index.decodedEntries).toBe(0);
    const target = entries[77_777]!;
    t = performance.now();
    const found = index.lookup(target.path)!;
    const lookupMs = performance.now() - t;
    expect(found.path).toBe(target.path);
    expect(index.decodedEntries).toBeLessThanOrEqual(32 * 2);
    console.log(`100k entries: ${bytes.length} bytes (${(bytes.length / 1e5).toFixed(1)} B/entry), encode ${encodeMs.toFixed(0)} ms, open ${openMs.toFixed(1)} ms, lookup ${lookupMs.toFixed(2)} ms`);
    // Laziness is what decodedEntries proves; how long the open takes is the bench's business
    // (an absolute time bound here failed on a loaded CI machine).
  });
});

describe('layer index corruption', () => {
  const { bytes } = build(randomEntries(9, 500));

  it('detects any flipped byte', () => {
    const r = rng(5);
    for (let k = 0; k < 50; k++) {
      const bad = bytes.slice();
      const at = 12 + Math.floor(r() * (bad.length - 12));
      bad[at] ^= 1 << Math.floor(r() * 8);
      expectCode(() => openIndex(bad), 'DataLoss');
    }
  });

  it('rejects wrong magic, unknown versions, truncation and digest mismatches', () => {
    const magic = bytes.slice();
    magic[0] = 0x58;
    expectCode(() => openIndex(magic), 'InvalidArgument', /not an imagefs layer index/);
    const version = bytes.slice();
    version[8] = INDEX_VERSION + 1;
    expectCode(() => openIndex(version), 'InvalidArgument', new RegExp(`version ${INDEX_VERSION + 1} is not supported`));
    expectCode(() => openIndex(bytes.subarray(0, bytes.length - 1)), 'DataLoss', /trailer/);
    expectCode(() => openIndex(bytes.subarray(0, 100)), 'DataLoss', /truncated/);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    expect(openIndex(bytes, { expectedDigest: digest }).entryCount).toBe(500);
    expectCode(() => openIndex(bytes, { expectedDigest: `sha256:${'0'.repeat(64)}` }), 'DataLoss', /digest/);
    expectCode(() => openIndex(bytes, { expectedLayer: { digest: 'sha256:other' } }), 'InvalidArgument', /describes a layer/);
  });
});

describe('layer index over a real tar', () => {
  it('indexes GNU tar of /usr/include streamed through the parser', async () => {
    const entries: TarEntry[] = [];
    const parser = new TarStreamParser((e) => entries.push(e));
    const child = spawn('tar', ['--format=pax', '-C', '/usr', '-cf', '-', 'include'], { stdio: ['ignore', 'pipe', 'inherit'] });
    for await (const chunk of child.stdout) parser.push(chunk as Buffer);
    parser.end();
    expect(entries.length).toBeGreaterThan(1000);
    const index = openIndex(encodeIndex({ layer: LAYER, entries, checkpoints: [], spanDigests: [] }));
    expect(index.entries()).toEqual(entries);
    expect(index.lookup('include/stdio.h')?.type).toBe('file');
    expect(index.readdir('include')).toContain('stdio.h');
  });
});

describe('layer index version 2: exact times, sparse maps, names as bytes', () => {
  const base = { mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000, mtimeNsec: 0 };
  const open = (entries: TarEntry[]): ReturnType<typeof openIndex> => openIndex(encodeIndex({ layer: LAYER, entries, checkpoints: [], spanDigests: [] }));

  it('round-trips nanosecond times, before 1970 too, and atime/ctime only where present', () => {
    const entries: TarEntry[] = [
      { ...base, path: 'ns', type: 'file', mtime: 1_700_000_000, mtimeNsec: 123_456_789, size: 1, dataOffset: 512 },
      { ...base, path: 'pre-epoch', type: 'file', mtime: -1, mtimeNsec: 500_000_000, size: 0, dataOffset: 1536 },
      { ...base, path: 'far-past', type: 'dir', mtime: -62_135_596_800, mtimeNsec: 999_999_999, size: 0, dataOffset: 2048 },
      { ...base, path: 'same-sec-other-ns', type: 'dir', mtime: -62_135_596_800, mtimeNsec: 1, size: 0, dataOffset: 2560 },
      { ...base, path: 'times', type: 'file', mtime: 1_700_000_000, mtimeNsec: 7, atime: 1_700_000_100, atimeNsec: 0, ctime: 1_699_999_000, ctimeNsec: 999_999_999, size: 0, dataOffset: 3072 },
      { ...base, path: 'atime-only', type: 'symlink', atime: -5, atimeNsec: 250, size: 0, dataOffset: 3584, linkTarget: 't' },
      { ...base, path: 'ctime-only', type: 'fifo', ctime: 0, ctimeNsec: 1, size: 0, dataOffset: 4096 },
      { ...base, path: 'plain', type: 'file', size: 3, dataOffset: 4608 },
    ];
    const got = open(entries).entries();
    expect(got).toEqual(entries);
    // toEqual ignores undefined properties; absent times must be absent, not undefined or 0.
    expect(got.map((e) => ['atime', 'atimeNsec', 'ctime', 'ctimeNsec'].filter((k) => k in e).join(','))).toEqual(
      ['', '', '', '', 'atime,atimeNsec,ctime,ctimeNsec', 'atime,atimeNsec', 'ctime,ctimeNsec', ''],
    );
    expect(got.map((e) => [e.mtime, e.mtimeNsec])).toEqual(entries.map((e) => [e.mtime, e.mtimeNsec]));
  });

  it('refuses entries whose times are not integer seconds and nanoseconds', () => {
    const bad = [{ mtime: 1.5 }, { mtimeNsec: 1e9 }, { mtimeNsec: -1 }, { atime: 0.25, atimeNsec: 0 }, { ctime: 1, ctimeNsec: 1.5 }];
    for (const fields of bad) {
      expect(() => open([{ ...base, path: 'x', type: 'file', size: 0, dataOffset: 512, ...fields }]), JSON.stringify(fields)).toThrow(/integer seconds/);
    }
    expect(() => open([{ ...base, path: 'x', type: 'file', size: 9, dataOffset: 512, sparse: [0, 1, 5] }])).toThrow(/sparse map/);
  });

  it('round-trips sparse maps, and data offsets follow the stored bytes, not the logical size', () => {
    const sparse = (size: number): TarEntry[] => [
      { ...base, path: 'holes', type: 'file', size, dataOffset: 512, sparse: [0, 1000, 1_048_576, 24] },
      { ...base, path: 'all-holes', type: 'file', size: 4096, dataOffset: 2560, sparse: [] },
      { ...base, path: 'next', type: 'file', size: 10, dataOffset: 3072 },
      { ...base, path: 'after', type: 'file', size: 0, dataOffset: 4096 },
    ];
    const entries = sparse(2 ** 40);
    expect(storedSize(entries[0]!)).toBe(1024);
    const got = open(entries).entries();
    expect(got).toEqual(entries);
    expect(got[1]!.sparse).toEqual([]);
    expect('sparse' in got[2]!).toBe(false);
    // The logical size of the sparse file costs its varint only (2^40: 6 bytes, 1_048_600: 3):
    // the next entry's offset is a delta from the end of the 1024 stored bytes either way.
    const entryBlocksLength = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset).getUint32(44 + 8 * 3, true);
    const small = encodeIndex({ layer: LAYER, entries: sparse(1_048_600), checkpoints: [], spanDigests: [] });
    const big = encodeIndex({ layer: LAYER, entries, checkpoints: [], spanDigests: [] });
    expect(entryBlocksLength(big) - entryBlocksLength(small)).toBe(3);
  });

  it('keeps non-UTF-8 paths and link targets as their bytes, and finds them by path and in directories', () => {
    const name = decodeRawName(Uint8Array.of(0x61, 0xff, 0xfe)); // 'a\udcff\udcfe'
    const lossy = new TextDecoder().decode(Uint8Array.of(0x61, 0xff, 0xfe)); // 'a\ufffd\ufffd': other bytes
    const child = `${name}/${decodeRawName(Uint8Array.of(0x62, 0xe9))}`;
    const implied = decodeRawName(Uint8Array.of(0x63, 0x80));
    const entries: TarEntry[] = [
      { ...base, path: name, type: 'dir', size: 0, dataOffset: 512 },
      { ...base, path: child, type: 'file', size: 5, dataOffset: 1024 },
      { ...base, path: lossy, type: 'file', size: 0, dataOffset: 2048 },
      { ...base, path: `${name}/link`, type: 'symlink', size: 0, dataOffset: 2560, linkTarget: decodeRawName(Uint8Array.of(0x2e, 0x2e, 0x2f, 0xc3, 0x28)) },
      { ...base, path: `${name}/hard`, type: 'hardlink', size: 0, dataOffset: 3072, linkTarget: child },
      { ...base, path: `${implied}/deeper/x`, type: 'file', size: 0, dataOffset: 3584, uname: decodeRawName(Uint8Array.of(0x75, 0xfc)) },
      { ...base, path: '\ufffdx', type: 'file', size: 0, dataOffset: 4096 },
    ];
    const bytes = encodeIndex({ layer: LAYER, entries, checkpoints: [], spanDigests: [] });
    // The path bytes themselves are in the index, not U+FFFD's.
    expect(Buffer.from(bytes).includes(Buffer.from([0x61, 0xff, 0xfe]))).toBe(true);
    expect(Buffer.from(bytes).includes(Buffer.from([0x2e, 0x2e, 0x2f, 0xc3, 0x28]))).toBe(true);
    const index = openIndex(bytes);
    expect(index.entries()).toEqual(entries);
    expect(index.entryAt(3).linkTarget).toBe(entries[3]!.linkTarget);
    expect(index.entryAt(5).uname).toBe('u\udcfc');
    expect(index.indexOf(name)).toBe(0);
    expect(index.indexOf(lossy)).toBe(2);
    expect(index.indexOf(`./${child}`)).toBe(1);
    expect(index.indexOf(`${name}/b`)).toBe(-1);
    expect(index.lookup(`${name}/hard`)?.linkTarget).toBe(child);
    // A lone surrogate that is not a raw byte stands for U+FFFD's bytes, as encodeRawName writes it.
    expect(index.indexOf('\ud800x')).toBe(6);
    expect(index.childIndices(name)).toEqual([1, 3, 4]);
    expect(index.readdir(name)).toEqual(['b\udce9', 'hard', 'link'].sort());
    expect(index.readdir(lossy)).toBeUndefined();
    expect(index.readdir('')).toEqual([name, lossy, implied, '\ufffdx'].sort());
    expect(index.lookup(implied)).toBeUndefined();
    expect(index.readdir(implied)).toEqual(['deeper']);
    expect(index.readdir(`${implied}/deeper`)).toEqual(['x']);
  });

  it('hashes a path by its bytes (FNV-1a over encodeRawName)', () => {
    const fnv = (b: Uint8Array): number => b.reduce((h, c) => Math.imul(h ^ c, 0x01000193), 0x811c9dc5) >>> 0;
    for (const p of ['usr/bin', 'ünï/名前', decodeRawName(Uint8Array.of(0x61, 0xff, 0xfe)), 'a\ufffd\ufffd']) {
      expect(pathHash(p), p).toBe(fnv(encodeRawName(p)));
    }
    expect(pathHash('a\udcff')).not.toBe(pathHash('a\udcfe'));
  });

  it('refuses a version-1 index with the typed InvalidArgument that says to rebuild it', () => {
    const v2 = encodeIndex({ layer: LAYER, entries: randomEntries(3, 50), checkpoints: [], spanDigests: [] });
    expect(INDEX_VERSION).toBe(2);
    expect(v2[8]).toBe(2);
    // A version-1 blob as a cache would hold it: the version field 1 and a valid trailer.
    const body = v2.slice(0, v2.length - 32);
    body[8] = 1;
    const v1 = new Uint8Array([...body, ...createHash('sha256').update(body).digest()]);
    let caught: unknown;
    try { openIndex(v1); } catch (e) { caught = e; }
    expect(caught).toBeInstanceOf(ImageError);
    expect(caught).toMatchObject({ code: 'InvalidArgument', message: expect.stringMatching(/version 1 is not supported/), hint: expect.stringMatching(/rebuild/i) });
    expect(isUnsupportedIndexVersion(caught)).toBe(true);
    let other: unknown;
    try { openIndex(v2, { expectedLayer: { digest: 'sha256:other' } }); } catch (e) { other = e; }
    expect(other).toMatchObject({ code: 'InvalidArgument' });
    expect(isUnsupportedIndexVersion(other)).toBe(false);
  });

  it('refuses entry flag bits it does not know (DataLoss)', () => {
    const entries: TarEntry[] = [{ ...base, path: 'f', type: 'file', size: 1, dataOffset: 512, linkTarget: 'x' }];
    const bytes = encodeIndex({ layer: LAYER, entries, checkpoints: [], spanDigests: [] });
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const blocks = view.getUint32(40 + 8 * 3, true);
    expect(bytes[blocks]! & 0x80).toBe(0x80); // HAS_EXTRA
    expect(bytes[blocks + 1]).toBe(0x01); // link target
    const body = bytes.slice(0, bytes.length - 32);
    body[blocks + 1] = 0x81;
    const bad = new Uint8Array([...body, ...createHash('sha256').update(body).digest()]);
    expectCode(() => openIndex(bad).entries(), 'DataLoss', /flags/);
  });
});
