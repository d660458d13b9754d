import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImageError } from '../src/errors/image-fs-error.js';
import type { Checkpoint } from '../src/index/checkpoint.js';
import { encodeIndex } from '../src/index/encode.js';
import { openIndex } from '../src/index/layer-index.js';
import type { IndexedLayer, LayerIndexData } from '../src/index/types.js';
import type { EntryType, TarEntry } from '../src/tar/entry.js';
import { TarStreamParser } from '../src/tar/parser.js';

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

/** A seeded random layer: all entry kinds, xattrs, long and unicode names, duplicates, implied dirs. */
function randomEntries(seed: number, count: number): TarEntry[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const words = ['usr', 'lib', 'share', 'bin', 'etc', 'python3.11', 'site-packages', 'node_modules', 'ünï', '名前', 'libfoo.so', 'README.md', '__init__.py'];
  const dirs: string[] = [''];
  const out: TarEntry[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const parent = pick(dirs.length > 200 ? dirs.slice(-200) : dirs);
    const name = i % 500 === 0 ? 'x'.repeat(150) : `${pick(words)}${i % 7 === 0 ? '' : `-${i}`}`;
    let path = parent === '' ? name : `${parent}/${name}`;
    if (r() < 0.02 && out.length > 0) path = pick(out).path; // duplicate path: last wins
    if (r() < 0.01) path = `implied-${i}/deeper/${name}`; // parents without entries
    const type = pick<EntryType>(['file', 'file', 'file', 'file', 'dir', 'dir', 'symlink', 'hardlink', 'char', 'block', 'fifo']);
    offset += 512 * (1 + (r() < 0.1 ? 2 : 0));
    const e: TarEntry = {
      path, type, mode: r() < 0.8 ? 0o644 : Math.floor(r() * 0o7777), uid: r() < 0.9 ? 0 : Math.floor(r() * 70000),
      gid: r() < 0.9 ? 0 : Math.floor(r() * 70000), mtime: r() < 0.9 ? 1_700_000_000 : r() < 0.5 ? 1_700_000_000 + Math.floor(r() * 1e6) : 1_700_000_000.123456 + r(),
      size: type === 'file' ? (r() < 0.05 ? 2 ** 36 + Math.floor(r() * 1000) : Math.floor(r() * 100_000)) : 0, dataOffset: offset,
    };
    if (r() < 0.5) e.uname = pick(['root', 'daemon', 'nobody', 'üser']);
    if (r() < 0.5) e.gname = pick(['root', 'wheel', 'staff']);
    if (type === 'dir' && path.split('/').length < 8) dirs.push(path);
    if (type === 'symlink') e.linkTarget = pick(['../lib/x', '/abs/target', '', 't'.repeat(300)]);
    if (type === 'hardlink') e.linkTarget = out.length > 0 ? pick(out).path : 'x';
    if (type === 'char' || type === 'block') { e.devMajor = Math.floor(r() * 300); e.devMinor = Math.floor(r() * 70000); }
    if (r() < 0.05) e.xattrs = { 'security.capability': new Uint8Array(randomBytes(20)), [`user.k${Math.floor(r() * 3)}`]: new Uint8Array(0) };
    if (type === 'file' && r() < 0.02) { e.sparse = true; e.sparseSize = e.size * 10; }
    out.push(e);
    offset += Math.ceil(e.size / 512) * 512;
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
        const e: TarEntry = { path: full.slice(1), type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, uname: 'root', gname: 'root', mtime: Math.floor(st.mtimeMs / 1000), size: type === 'file' ? st.size : 0, dataOffset: offset };
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
    expect(openMs).toBeLessThan(200);
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
    version[8] = 2;
    expectCode(() => openIndex(version), 'InvalidArgument', /version 2 is not supported/);
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
