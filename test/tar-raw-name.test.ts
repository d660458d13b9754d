import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { decodeRawName, displayName, encodeRawName, fromPathLike, hasLoneSurrogate } from '../src/tar/raw-name.js';

/** Deterministic byte strings biased towards UTF-8 edge cases. */
function samples(count: number): Uint8Array[] {
  let seed = 12345;
  const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8;
  const pieces = [
    [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0xef, 0xbb, 0xbf], [0xed, 0xa0, 0x80], [0xed, 0xb2, 0x80],
    [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xf4, 0x90, 0x80, 0x80], [0xf8], [0xff], [0x80], [0xe2, 0x82], [0xf0, 0x9f], [0x61], [0x2f],
  ];
  const out: Uint8Array[] = [];
  for (let n = 0; n < count; n++) {
    const parts: number[] = [];
    const len = next() % 8;
    for (let i = 0; i < len; i++) {
      if (next() % 3 === 0) parts.push(next() & 0xff);
      else parts.push(...pieces[next() % pieces.length]!);
    }
    out.push(Uint8Array.from(parts));
  }
  return out;
}

describe('raw names (surrogateescape)', () => {
  const inputs = samples(1500);

  it('decodes exactly as Python bytes.decode("utf-8", "surrogateescape") (the oracle)', () => {
    const hex = inputs.map((b) => Buffer.from(b).toString('hex'));
    const script = 'import json,sys\nfor l in sys.stdin.read().split():\n  print(json.dumps(bytes.fromhex(l[1:]).decode("utf-8","surrogateescape")))';
    const out = execFileSync('python3', ['-c', script], { input: hex.map((h) => `x${h}`).join('\n') }).toString().trim().split('\n');
    expect(out.length).toBe(inputs.length);
    inputs.forEach((b, i) => expect(decodeRawName(b), hex[i]).toBe(JSON.parse(out[i]!)));
  });

  it('round-trips every byte string, and valid UTF-8 decodes to its plain string', () => {
    for (const b of inputs) expect(Buffer.from(encodeRawName(decodeRawName(b))).equals(Buffer.from(b))).toBe(true);
    for (let i = 0; i < 256; i++) expect(Array.from(encodeRawName(decodeRawName(Uint8Array.of(0x61, i))))).toEqual([0x61, i]);
    expect(decodeRawName(new TextEncoder().encode('ünïcødé-名前-😀'))).toBe('ünïcødé-名前-😀');
    expect(hasLoneSurrogate('ünïcødé-😀')).toBe(false);
    expect(hasLoneSurrogate(decodeRawName(Uint8Array.of(0x61, 0xe9)))).toBe(true);
  });

  it('keeps a leading byte-order mark (EF BB BF) as part of the name', () => {
    const bom = Uint8Array.of(0xef, 0xbb, 0xbf, 0x61);
    expect(decodeRawName(bom)).toBe('\ufeffa');
    expect(Array.from(encodeRawName(decodeRawName(bom)))).toEqual(Array.from(bom));
    expect(decodeRawName(Uint8Array.of(0xff, 0xef, 0xbb, 0xbf))).toBe('\udcff\ufeff');
    expect(displayName(decodeRawName(Uint8Array.of(0xef, 0xbb, 0xbf, 0xe9)))).toBe(Buffer.from([0xef, 0xbb, 0xbf, 0xe9]).toString('utf8'));
  });

  it('displays names as Node shows such bytes with the utf8 encoding', () => {
    for (const b of inputs) expect(displayName(decodeRawName(b))).toBe(Buffer.from(b).toString('utf8'));
  });

  it('takes Buffers as bytes, strings as what Node would pass to the kernel, file: URLs by their bytes', () => {
    const raw = Buffer.from([0x64, 0x2f, 0xe9, 0x78]);
    expect(fromPathLike(raw)).toBe('d/\udce9x');
    expect(fromPathLike('d/é')).toBe('d/é');
    expect(fromPathLike('d/\udce9')).toBe('d/\udce9'); // a raw-name string (as walk gives it) addresses the byte 0xe9
    expect(fromPathLike('d/\udc00')).toBe('d/\ufffd'); // other lone surrogates encode as Node encodes them
    expect(fromPathLike(new URL('file:///d/%E9x'))).toBe('/d/\udce9x');
    expect(() => fromPathLike(new URL('http://x/y'))).toThrow(TypeError);
  });
});
