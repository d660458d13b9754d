import { describe, expect, it } from 'vitest';
import { ImageError } from '../src/errors/image-fs-error.js';
import type { TarEntry } from '../src/tar/entry.js';
import { decodeHeader, decodeNumber } from '../src/tar/header.js';
import { parseTar, TarStreamParser, type TarParserOptions } from '../src/tar/parser.js';
import { parsePax } from '../src/tar/pax.js';
import { normalizeTarPath } from '../src/tar/path.js';
import { concat, data, END, fixChecksum, header, paxPayload } from './tar-fixtures.js';

const CHUNKS = [1, 321, 4096, Infinity];

function feed(bytes: Uint8Array, chunk: number, options?: TarParserOptions): TarEntry[] {
  const out: TarEntry[] = [];
  const p = new TarStreamParser((e) => out.push(e), options);
  const step = Number.isFinite(chunk) ? chunk : bytes.length;
  for (let i = 0; i < bytes.length; i += step) p.push(bytes.subarray(i, i + step));
  p.end();
  return out;
}

function expectError(bytes: Uint8Array, code: string, message: RegExp, options?: TarParserOptions): void {
  for (const chunk of CHUNKS) {
    let caught: unknown;
    try {
      feed(bytes, chunk, options);
    } catch (e) {
      caught = e;
    }
    expect(caught, `chunk ${chunk}`).toBeInstanceOf(ImageError);
    expect((caught as ImageError).code).toBe(code);
    expect((caught as ImageError).message).toMatch(message);
  }
}

const twoFiles = concat([header({ name: 'a.txt', size: 5 }), data('hello'), header({ name: 'b.txt', size: 600 }), data(new Uint8Array(600).fill(9)), END]);

describe('tar corruption', () => {
  it('rejects a bad checksum, naming the offset', () => {
    const bad = twoFiles.slice();
    bad[512 * 2 + 10] ^= 0x01; // flip a name byte of the second header
    expectError(bad, 'DataLoss', /header at offset 1024 has a bad checksum/);
  });

  it('accepts signed checksums', () => {
    const h = header({ name: 'caf\u00e9', size: 0 });
    // Store the signed sum instead of the unsigned one.
    let signed = 0;
    for (let i = 0; i < 512; i++) signed += i >= 148 && i < 156 ? 32 : h[i]! >= 128 ? h[i]! - 256 : h[i]!;
    new TextEncoder().encodeInto(signed.toString(8).padStart(6, '0'), h.subarray(148, 154));
    expect(parseTar(concat([h, END]))[0]!.path).toBe('caf\u00e9');
  });

  it('rejects a truncated header', () => {
    expectError(twoFiles.subarray(0, 512 + 512 + 100), 'DataLoss', /inside a header \(100 of 512 bytes\)/);
  });

  it('rejects data shorter than the size (size past the end)', () => {
    expectError(twoFiles.subarray(0, 512 * 3 + 100), 'DataLoss', /inside the data of 'b.txt': 500 more bytes/);
    const huge = concat([header({ name: 'x', size: 1e9 }), data('abc')]);
    expectError(huge, 'DataLoss', /inside the data of 'x'/);
  });

  it('accepts a PAX header with no entry after it (as Go does), rejects malformed PAX records', () => {
    const pax = paxPayload([['path', 'p']]);
    for (const chunk of CHUNKS) {
      expect(feed(concat([header({ name: 'pax', type: 'x', size: pax.length }), data(pax)]), chunk)).toEqual([]);
      expect(feed(concat([header({ name: 'pax', type: 'x', size: pax.length }), data(pax), END]), chunk)).toEqual([]);
    }
    const broken = new TextEncoder().encode('99 path=x\n');
    expectError(concat([header({ name: 'pax', type: 'x', size: broken.length }), data(broken), header({ name: 'f' }), END]),
      'DataLoss', /malformed record/);
  });

  it('accepts a stream ending after the data without zero blocks (and without final padding)', () => {
    for (const chunk of CHUNKS) {
      expect(feed(twoFiles.subarray(0, 512 * 3 + 600), chunk).map((e) => e.path)).toEqual(['a.txt', 'b.txt']);
      expect(feed(twoFiles.subarray(0, 512 * 5), chunk)).toHaveLength(2);
    }
  });

  it('stops at two zero blocks and ignores what follows; refuses a lone zero block before a header (as Go)', () => {
    const garbage = concat([twoFiles, new Uint8Array(700).fill(0xab)]);
    expect(parseTar(garbage)).toHaveLength(2);
    const lone = concat([header({ name: 'a' }), new Uint8Array(512), header({ name: 'b' }), END]);
    expectError(lone, 'DataLoss', /lone zero block at offset 512 followed by a header at offset 1024/);
    // One zero block and then the end of the stream is a complete archive.
    for (const chunk of CHUNKS) expect(feed(concat([header({ name: 'a' }), new Uint8Array(512)]), chunk)).toHaveLength(1);
  });

  it('rejects unknown types naming the entry and offset, or skips them on request', () => {
    const bytes = concat([header({ name: 'ok' }), header({ name: 'weird', type: 'M', size: 3 }), data('abc'), header({ name: 'after' }), END]);
    expectError(bytes, 'InvalidArgument', /'weird' at offset 512 has unsupported type "M"/);
    expect(feed(bytes, 321, { unknownTypes: 'skip' }).map((e) => e.path)).toEqual(['ok', 'after']);
  });

  it('caps metadata payloads', () => {
    const big = paxPayload([['comment', 'c'.repeat(5000)]]);
    const bytes = concat([header({ name: 'pax', type: 'x', size: big.length }), data(big), header({ name: 'f' }), END]);
    expectError(bytes, 'InvalidArgument', /over the 4096-byte limit/, { maxMetaSize: 4096 });
    expect(parseTar(bytes)[0]!.path).toBe('f');
  });
});

describe('tar header and PAX details', () => {
  it('decodes base-256 numbers, including negative ones', () => {
    const f = new Uint8Array([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]);
    expect(decodeNumber(f, 0, 12)).toBe(65536);
    expect(decodeNumber(new Uint8Array(8).fill(0xff), 0, 8)).toBe(-1);
    expect(decodeNumber(new TextEncoder().encode(' 0000755\0'), 0, 9)).toBe(0o755);
    expect(decodeNumber(new TextEncoder().encode('12x'), 0, 3)).toBeNaN();
    const bytes = concat([header({ name: 'big', size: 1000, base256Size: true }), data(new Uint8Array(1000)), END]);
    expect(parseTar(bytes)[0]!.size).toBe(1000);
  });

  it('joins the ustar prefix but not for GNU headers', () => {
    const ustar = header({ name: 'name', prefix: 'some/prefix' });
    expect(decodeHeader(ustar, 0).name).toBe('some/prefix/name');
    const gnu = header({ name: 'name', magic: 'gnu' });
    gnu.set(new TextEncoder().encode('1234567'), 345); // GNU atime lives there
    fixChecksum(gnu);
    expect(decodeHeader(gnu, 0).name).toBe('name');
  });

  it('applies per-entry PAX records; ignores global ones (as containerd); empty values keep the header value', () => {
    const g = paxPayload([['uid', '77'], ['uname', 'global'], ['mtime', '1.25']]);
    const x = paxPayload([['uname', ''], ['path', './over/ride/'], ['size', '3'], ['mtime', '1.25'], ['SCHILY.xattr.user.bin', new Uint8Array([0, 255, 10])]]);
    const bytes = concat([
      header({ name: 'g', type: 'g', size: g.length }), data(g),
      header({ name: 'x', type: 'x', size: x.length }), data(x),
      header({ name: 'short', size: 99, uname: 'hdr' }), data('abc'),
      header({ name: 'second' }),
      END,
    ]);
    for (const chunk of CHUNKS) {
      const [a, b] = feed(bytes, chunk);
      expect(a).toMatchObject({ path: 'over/ride', uid: 0, uname: 'hdr', mtime: 1, mtimeNsec: 250_000_000, size: 3 });
      expect(a!.xattrs!['user.bin']).toEqual(new Uint8Array([0, 255, 10]));
      expect(b).toMatchObject({ path: 'second', uid: 0, mtime: 1_700_000_000, mtimeNsec: 0, size: 0 });
      expect(b!.uname).toBeUndefined();
      expect(b!.dataOffset).toBe(512 * 7);
    }
    expect(() => parsePax(new TextEncoder().encode('9 a=\n'), 0)).toThrow(/record length "9" is not a number from 5 to the 5 bytes left/);
  });

  it('normalises paths and hardlink targets, keeps symlink targets and ".." verbatim', () => {
    expect(['./', '/', '.', '', './a/./b//c/', '/abs/path', 'a/../b', '../x'].map(normalizeTarPath))
      .toEqual(['', '', '', '', 'a/b/c', 'abs/path', 'a/../b', '../x']);
    const bytes = concat([
      header({ name: './d/', type: '5', mode: 0o40755 }),
      header({ name: './d/h', type: '1', linkname: '/d/./f', size: 10 }), // size ignored: no data
      header({ name: './d/s', type: '2', linkname: './f/' }),
      header({ name: 'old-dir/', type: '\0', magic: 'v7' }),
      header({ name: 'file7', type: '7', size: 1 }), data('z'),
      END,
    ]);
    const entries = parseTar(bytes);
    expect(entries.map((e) => [e.path, e.type, e.linkTarget, e.mode])).toEqual([
      ['d', 'dir', undefined, 0o755],
      ['d/h', 'hardlink', 'd/f', 0o644],
      ['d/s', 'symlink', './f/', 0o644],
      ['old-dir', 'dir', undefined, 0o644],
      ['file7', 'file', undefined, 0o644],
    ]);
    expect(entries[4]!.dataOffset).toBe(512 * 5);
  });

  it('streams data through onData without buffering it', () => {
    const seen: string[] = [];
    feed(twoFiles, 100, { onData: (e, chunk, pos) => seen.push(`${e.path}@${pos}+${chunk.length}`) });
    expect(seen.filter((s) => s.startsWith('a.txt'))).toEqual(['a.txt@0+5']);
    expect(seen.filter((s) => s.startsWith('b.txt')).reduce((n, s) => n + Number(s.split('+')[1]), 0)).toBe(600);
  });
});
