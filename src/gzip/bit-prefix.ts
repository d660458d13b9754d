/**
 * Starting raw inflate at any bit of a byte, without `inflatePrime` (which node:zlib lacks).
 *
 * A deflate block may start at bit k (0-7, LSB first) of byte B. We put in front of it a synthetic
 * run of EMPTY, non-final deflate blocks whose total length L satisfies L ≡ k (mod 8), and lay it
 * out so that its last k bits fill the low k bits of a copy of B. The inflater then decodes the empty
 * blocks (no output, history untouched: the dictionary stays the window) and meets the real block
 * exactly at bit k of B. Two kinds of empty block suffice:
 * - fixed Huffman: BFINAL=0, BTYPE=01, end-of-block code 0000000: 10 bits (≡ 2 mod 8);
 * - dynamic Huffman: one 1-bit literal/length code (end-of-block), one 1-bit distance code, with the
 *   code-length code sent as 19 entries: 93 bits (≡ 5 mod 8).
 * Sums: k=2,4,6 → 1-3 fixed blocks; k=5 → dynamic; k=7,1,3 → dynamic + 1-3 fixed blocks.
 * @module
 */

class BitWriter {
  readonly bits: number[] = [];
  put(value: number, count: number): void {
    for (let i = 0; i < count; i++) this.bits.push((value >>> i) & 1);
  }
}

function emptyFixedBlock(w: BitWriter): void {
  w.put(0, 1); // BFINAL
  w.put(1, 2); // BTYPE = fixed
  w.put(0, 7); // end of block (code 256 = 0000000)
}

const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

function emptyDynamicBlock(w: BitWriter): void {
  w.put(0, 1); // BFINAL
  w.put(2, 2); // BTYPE = dynamic
  w.put(0, 5); // HLIT: 257 literal/length codes
  w.put(0, 5); // HDIST: 1 distance code
  w.put(15, 4); // HCLEN: 19 code-length codes (the last, for 15, is 0: +3 bits over the minimum)
  // Code-length code: symbols 1 and 18, both 1 bit long (a complete code: 1 → '0', 18 → '1').
  for (const sym of CODE_LENGTH_ORDER) w.put(sym === 1 || sym === 18 ? 1 : 0, 3);
  w.put(1, 1); w.put(138 - 11, 7); // 18: literals 0..137 unused
  w.put(1, 1); w.put(118 - 11, 7); // 18: literals 138..255 unused
  w.put(0, 1); // 1: end-of-block (256) has a 1-bit code
  w.put(0, 1); // 1: distance 0 has a 1-bit code
  w.put(0, 1); // end of block
}

/** A synthetic prefix for one bit offset: whole bytes, then `tailBits` bits that go under byte B. */
interface Prefix {
  head: Uint8Array;
  tail: number;
}

function buildPrefix(k: number): Prefix {
  const w = new BitWriter();
  const fixedCount = k % 2 === 0 ? k / 2 : ([2, 0, 3, 0, 0, 0, 1][k - 1] as number);
  if (k % 2 === 1) emptyDynamicBlock(w);
  for (let i = 0; i < fixedCount; i++) emptyFixedBlock(w);
  if (w.bits.length % 8 !== k) throw new Error(`internal: prefix for bit ${k} has ${w.bits.length} bits`);
  const n = (w.bits.length - k) / 8;
  const head = new Uint8Array(n);
  for (let i = 0; i < n * 8; i++) head[i >> 3] = (head[i >> 3] as number) | ((w.bits[i] as number) << (i & 7));
  let tail = 0;
  for (let i = 0; i < k; i++) tail |= (w.bits[n * 8 + i] as number) << i;
  return { head, tail };
}

const PREFIXES: readonly Prefix[] = Array.from({ length: 8 }, (_, k) => buildPrefix(k));

/**
 * The bytes to feed a raw inflater (whose dictionary is the window) before `bytes[offset + 1 ...]`
 * so that decoding starts at bit `bitOffset` of `bytes[offset]`. For `bitOffset` 0 it returns an
 * empty array and the caller continues at `bytes[offset]` itself; see {@link resumeOffset}.
 *
 * @example
 * ```ts
 * const primer = primeInput(blob, cp.compressedOffset, cp.bitOffset);
 * inflater.write(Z_NO_FLUSH, primer, 0, primer.length, out, 0, out.length);
 * const next = resumeOffset(cp.compressedOffset, cp.bitOffset); // continue from here
 * ```
 */
export function primeInput(bytes: Uint8Array, offset: number, bitOffset: number): Uint8Array {
  if (!Number.isInteger(bitOffset) || bitOffset < 0 || bitOffset > 7) throw new RangeError(`bit offset ${bitOffset} is not in 0..7`);
  if (bitOffset === 0) return new Uint8Array(0);
  const { head, tail } = PREFIXES[bitOffset] as Prefix;
  const primer = new Uint8Array(head.length + 1);
  primer.set(head);
  const mask = (1 << bitOffset) - 1;
  primer[head.length] = ((bytes[offset] as number) & ~mask) | (tail & mask);
  return primer;
}

/** Where the unmodified compressed bytes resume after {@link primeInput}'s primer. */
export function resumeOffset(offset: number, bitOffset: number): number {
  return bitOffset === 0 ? offset : offset + 1;
}
