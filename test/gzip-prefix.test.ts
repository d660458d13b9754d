import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { findBitOffset } from '../src/gzip/bit-offset-trial.js';
import { primeInput } from '../src/gzip/bit-prefix.js';
import { parseGzipHeader } from '../src/gzip/gzip-member.js';
import { inflateFrom } from '../src/gzip/inflate-from.js';
import { NativeInflater, nativeInflateProblem } from '../src/gzip/native-inflate.js';
import { compressibleBytes, randomBytes } from '../src/testing/builder/index.js';
import { gzipWithAllHeaderFields } from './gzip-fixtures.js';

/** `raw` shifted so that it starts at bit `k` of byte 0; the low k bits of byte 0 are `garbage`. */
function shiftBits(raw: Uint8Array, k: number, garbage: number): Uint8Array {
  const out = new Uint8Array(raw.length + 1);
  out[0] = garbage & ((1 << k) - 1);
  for (let i = 0; i < raw.length; i++) {
    out[i] = out[i]! | ((raw[i]! << k) & 0xff);
    if (k > 0) out[i + 1] = raw[i]! >> (8 - k);
  }
  return out;
}

/** A stored block starting at bit k of byte 0 (low k bits `garbage`), then a final empty fixed block. */
function storedAt(k: number, data: Uint8Array, garbage: number): Uint8Array {
  const headerEnd = k + 3; // BFINAL=0, BTYPE=00: three zero bits, then pad to a byte boundary
  const start = Math.ceil(headerEnd / 8);
  const out = new Uint8Array(start + 4 + data.length + 2);
  out[0] = garbage & ((1 << k) - 1);
  new DataView(out.buffer).setUint16(start, data.length, true);
  new DataView(out.buffer).setUint16(start + 2, ~data.length & 0xffff, true);
  out.set(data, start + 4);
  out.set([0x03, 0x00], start + 4 + data.length);
  return out;
}

const text = compressibleBytes(11, 200_000);
const window = randomBytes(12, 32 * 1024);
const streams = {
  dynamic: zlib.deflateRawSync(text, { dictionary: window }),
  fixed: zlib.deflateRawSync(text.subarray(0, 3000), { strategy: zlib.constants.Z_FIXED, dictionary: window }),
};

describe('native inflate', () => {
  it('is available on this Node', () => {
    expect(nativeInflateProblem).toBeUndefined();
  });

  it('reports corrupt data as an error and can be reset', () => {
    const inf = new NativeInflater();
    const out = new Uint8Array(100);
    expect(() => inf.write(zlib.constants.Z_NO_FLUSH, new Uint8Array([0xff, 0xff, 0xff]), 0, 3, out, 0, 100)).toThrow(/invalid/);
    inf.reset();
    const raw = zlib.deflateRawSync(Buffer.from('hello'));
    const step = inf.write(zlib.constants.Z_NO_FLUSH, raw, 0, raw.length, out, 0, 100);
    expect(Buffer.from(out.subarray(0, step.produced)).toString()).toBe('hello');
    inf.close();
  });

  it('refuses out-of-range offsets instead of letting the native side abort', () => {
    const inf = new NativeInflater();
    expect(() => inf.write(0, new Uint8Array(4), 2, 3, new Uint8Array(4), 0, 4)).toThrow(RangeError);
    inf.close();
  });
});

describe('resuming at any bit (synthetic empty-block prefix)', () => {
  for (let k = 0; k < 8; k++) {
    for (const [kind, raw] of Object.entries(streams)) {
      it(`resumes a ${kind} block at bit ${k}`, () => {
        const truth = zlib.inflateRawSync(raw, { dictionary: window });
        for (const garbage of [0x00, 0xff, 0x5a]) {
          const shifted = shiftBits(raw, k, garbage);
          const got = inflateFrom({ compressedOffset: 0, bitOffset: k, uncompressedOffset: 0, window }, shifted, 100, truth.length - 100);
          expect(Buffer.from(got).equals(truth.subarray(100))).toBe(true);
        }
      });
    }
    it(`resumes a stored block at bit ${k}`, () => {
      const data = randomBytes(13, 5000);
      for (const garbage of [0x00, 0xff]) {
        const got = inflateFrom({ compressedOffset: 0, bitOffset: k, uncompressedOffset: 0, window }, storedAt(k, data, garbage), 10, 4990);
        expect(Buffer.from(got).equals(data.subarray(10))).toBe(true);
      }
    });
  }

  it('builds a primer only for bits 1-7, replacing exactly the low bits of the first byte', () => {
    expect(primeInput(new Uint8Array([0xab]), 0, 0).length).toBe(0);
    for (let k = 1; k < 8; k++) {
      const primer = primeInput(new Uint8Array([0xff]), 0, k);
      expect(primer.at(-1)! >> k).toBe(0xff >> k);
    }
    expect(() => primeInput(new Uint8Array([0]), 0, 8)).toThrow(RangeError);
  });

  it('finds the bit offset of a boundary by trial, for every k', () => {
    const truth = zlib.inflateRawSync(streams.dynamic, { dictionary: window }).subarray(0, 1024);
    for (let k = 0; k < 8; k++) {
      const shifted = shiftBits(streams.dynamic, k, 0xa5);
      // What zlib reports after a boundary at bit k of byte 0: k>0 → 1 byte consumed, k=0 → 0.
      const consumed = k === 0 ? 0 : 1;
      expect(findBitOffset(shifted, 0, consumed, window, truth)).toEqual({ compressedOffset: 0, bitOffset: k });
    }
  });

  it('finds nothing when no start decodes to the truth', () => {
    const shifted = shiftBits(streams.dynamic, 3, 0);
    expect(findBitOffset(shifted, 0, 1, window, new TextEncoder().encode('not what follows'))).toBeUndefined();
  });
});

describe('gzip header', () => {
  it('parses FEXTRA, FNAME, FCOMMENT and FHCRC, and node:zlib agrees on the member', () => {
    const data = compressibleBytes(3, 1000);
    const member = gzipWithAllHeaderFields(data);
    expect(Buffer.from(zlib.gunzipSync(member)).equals(data)).toBe(true);
    const h = parseGzipHeader(member);
    expect(h).toEqual({ status: 'ok', length: 12 + 7 + 20 + 2 });
    for (let cut = 0; cut < 41; cut += 5) expect(parseGzipHeader(member.subarray(0, cut)).status).toBe('incomplete');
  });

  it('rejects a bad magic, method, reserved flags and header CRC', () => {
    const member = gzipWithAllHeaderFields(new Uint8Array(10));
    const bad = (i: number, v: number): Uint8Array => { const c = member.slice(); c[i] = v; return c; };
    expect(parseGzipHeader(bad(0, 0x1e))).toMatchObject({ status: 'invalid', reason: /magic/ });
    expect(parseGzipHeader(bad(2, 7))).toMatchObject({ status: 'invalid', reason: /method/ });
    expect(parseGzipHeader(bad(3, 0x20))).toMatchObject({ status: 'invalid', reason: /reserved/ });
    expect(parseGzipHeader(bad(39, member[39]! ^ 1))).toMatchObject({ status: 'invalid', reason: /CRC16/ });
  });
});
