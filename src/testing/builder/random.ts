/**
 * A small seeded pseudo-random generator for test data: the same seed always gives the same bytes,
 * on every machine and Node version. Not for cryptography.
 *
 * The generator is mulberry32 (32-bit state, period 2^32), which is plenty for test content and
 * fast enough to make tens of megabytes per second in plain TypeScript.
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** A function returning the next 32-bit unsigned value of a seeded sequence. */
export type Random32 = () => number;

/**
 * Makes a seeded generator of 32-bit unsigned integers (mulberry32).
 *
 * @param seed - Any integer; it is reduced modulo 2^32.
 * @example
 * ```ts
 * const next = seededRandom(42);
 * next(); // always the same first value for seed 42
 * ```
 */
export function seededRandom(seed: number): Random32 {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/**
 * Returns `size` deterministic pseudo-random bytes for `seed`. Such bytes do not compress, which
 * makes them good for tests about compressed offsets and spans.
 *
 * @param seed - Any integer.
 * @param size - Number of bytes (>= 0).
 * @example
 * ```ts
 * const a = randomBytes(1, 1024);
 * const b = randomBytes(1, 1024); // equal to a
 * ```
 */
export function randomBytes(seed: number, size: number): Uint8Array {
  if (!Number.isSafeInteger(size) || size < 0) throw new TypeError(`randomBytes: size must be a non-negative integer, got ${size}`);
  const out = new Uint8Array(size);
  const next = seededRandom(seed);
  const words = Math.floor(size / 4);
  if (LITTLE_ENDIAN) {
    const u32 = new Uint32Array(out.buffer, 0, words);
    for (let i = 0; i < words; i++) u32[i] = next();
  } else {
    const view = new DataView(out.buffer);
    for (let i = 0; i < words; i++) view.setUint32(i * 4, next(), true);
  }
  if (size % 4 !== 0) {
    const last = next();
    for (let i = words * 4, shift = 0; i < size; i++, shift += 8) out[i] = (last >>> shift) & 0xff;
  }
  return out;
}

/**
 * Returns `size` deterministic bytes that compress well (text-like: words from a small vocabulary
 * separated by spaces and newlines), for tests that want a realistic compression ratio.
 *
 * @param seed - Any integer.
 * @param size - Number of bytes (>= 0).
 */
export function compressibleBytes(seed: number, size: number): Uint8Array {
  if (!Number.isSafeInteger(size) || size < 0) throw new TypeError(`compressibleBytes: size must be a non-negative integer, got ${size}`);
  const words = ['alpha', 'beta', 'gamma', 'delta', 'layer', 'image', 'tar', 'gzip', 'node', 'lazy', 'span', 'index', 'root', 'etc', 'usr', 'lib'];
  const next = seededRandom(seed);
  const out = new Uint8Array(size);
  let i = 0;
  while (i < size) {
    const r = next();
    const word = words[r & 15]!;
    for (let k = 0; k < word.length && i < size; k++) out[i++] = word.charCodeAt(k);
    if (i < size) out[i++] = (r >>> 8) % 11 === 0 ? 10 : 32;
  }
  return out;
}
