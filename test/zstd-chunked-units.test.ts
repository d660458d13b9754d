// Units of src/zstd-chunked: the footer and position parsers, and the TOC → layout conversion
// (chunk placement, and the TOCs it must refuse because their bytes could not be verified).
import { describe, expect, it } from 'vitest';
import { parseZstdChunkedFooter, parseZstdChunkedPosition, zstdTocToLayout, type ZstdChunkedToc } from '../src/zstd-chunked/index.js';

const D = (c: string): string => `sha256:${c.repeat(64)}`;

function footer(offset: number, length: number, lengthUncompressed: number, type: number): Uint8Array {
  const b = new Uint8Array(48);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x184d2a50, true);
  v.setUint32(4, 40, true);
  [offset, length, lengthUncompressed, type].forEach((n, i) => v.setBigUint64(8 + 8 * i, BigInt(n), true));
  b.set(new TextEncoder().encode('GnUlInUx'), 40);
  return b;
}

describe('zstd:chunked footer and position', () => {
  it('parses the 48-byte footer at the end of a longer tail', () => {
    const tail = new Uint8Array(72);
    tail.set(footer(300361, 520, 1552, 1), 24);
    expect(parseZstdChunkedFooter(tail)).toEqual({ offset: 300361, length: 520, lengthUncompressed: 1552, type: 1 });
    const noMagic = tail.slice();
    noMagic[71] = 0;
    expect(parseZstdChunkedFooter(noMagic)).toBeUndefined();
  });
  it('parses the position annotation and refuses malformed ones', () => {
    expect(parseZstdChunkedPosition('10:20:30:1')).toEqual({ offset: 10, length: 20, lengthUncompressed: 30, type: 1 });
    expect(parseZstdChunkedPosition('10:20:30')).toBeUndefined();
    expect(parseZstdChunkedPosition('10:-2:30:1')).toBeUndefined();
  });
});

describe('zstdTocToLayout', () => {
  const base = { version: 1 };
  it('places chunks in a virtual stream and maps them to their frames', () => {
    const toc: ZstdChunkedToc = {
      ...base,
      entries: [
        { type: 'dir', name: 'a/', mode: 0o755, modtime: '2023-11-14T22:13:20.123456789Z' },
        { type: 'reg', name: 'a/one', size: 3, offset: 100, endOffset: 120, digest: D('a'), modtime: '1969-12-31T23:59:59.5Z' },
        { type: 'reg', name: 'a/big', size: 10, offset: 200, endOffset: 400, chunkSize: 6, chunkDigest: D('b') },
        { type: 'chunk', name: 'a/big', offset: 300, chunkOffset: 6, chunkSize: 4, chunkDigest: D('c') },
        { type: 'hardlink', name: 'a/h', linkName: 'a/one' },
      ],
    };
    const layout = zstdTocToLayout(toc, { subject: 'x', tocOffset: 500 });
    expect(layout.size).toBe(13);
    expect(layout.entries.map((e) => [e.path, e.type, e.dataOffset])).toEqual([['a', 'dir', 0], ['a/one', 'file', 0], ['a/big', 'file', 3], ['a/h', 'hardlink', 0]]);
    expect(layout.entries.map((e) => [e.mtime, e.mtimeNsec])).toEqual([[1_700_000_000, 123_456_789], [-1, 500_000_000], [0, 0], [0, 0]]);
    expect(layout.chunks).toEqual([
      { virtualOffset: 0, size: 3, memberStart: 100, memberEnd: 120, digest: D('a') },
      { virtualOffset: 3, size: 6, memberStart: 200, memberEnd: 300, digest: D('b') },
      { virtualOffset: 9, size: 4, memberStart: 300, memberEnd: 400, digest: D('c') },
    ]);
  });
  it('refuses chunks that cannot be verified or do not cover the file', () => {
    const noDigest: ZstdChunkedToc = { ...base, entries: [{ type: 'reg', name: 'f', size: 10, offset: 10, endOffset: 50, chunkSize: 5, chunkDigest: D('a') }, { type: 'chunk', name: 'f', offset: 30, chunkOffset: 5, chunkSize: 5 }] };
    expect(() => zstdTocToLayout(noDigest, { subject: 'x', tocOffset: 100 })).toThrow(expect.objectContaining({ code: 'InvalidArgument', message: expect.stringMatching(/no sha256/) }));
    const gap: ZstdChunkedToc = { ...base, entries: [{ type: 'reg', name: 'f', size: 10, offset: 10, endOffset: 50, chunkSize: 4, chunkDigest: D('a') }, { type: 'chunk', name: 'f', offset: 30, chunkOffset: 5, chunkSize: 5, chunkDigest: D('b') }] };
    expect(() => zstdTocToLayout(gap, { subject: 'x', tocOffset: 100 })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    const zeros: ZstdChunkedToc = { ...base, entries: [{ type: 'reg', name: 'f', size: 4, offset: 10, endOffset: 50, chunkDigest: D('a'), chunkType: 'zeros' }] };
    expect(() => zstdTocToLayout(zeros, { subject: 'x', tocOffset: 100 })).toThrow(expect.objectContaining({ code: 'InvalidArgument', message: expect.stringMatching(/zeros/) }));
    const pastToc: ZstdChunkedToc = { ...base, entries: [{ type: 'reg', name: 'f', size: 4, offset: 10, endOffset: 150, digest: D('a') }] };
    expect(() => zstdTocToLayout(pastToc, { subject: 'x', tocOffset: 100 })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });
});
