/**
 * Names as bytes, held in JavaScript strings.
 *
 * Tar names and link targets are bytes; most are UTF-8, some are not (Latin-1 archives, names
 * made by programs that never decoded them). Go's archive/tar, and so containerd, keeps them as
 * bytes. imagefs keeps them in ordinary strings with the bytes that are not valid UTF-8 mapped,
 * one byte each, to the lone surrogates U+DC80..U+DCFF (Python's "surrogateescape"). Valid UTF-8
 * never decodes to a lone surrogate, so the mapping is exact both ways, Maps keyed by names keep
 * working, and every name that is valid UTF-8 is its plain string.
 *
 * Where a name leaves imagefs as bytes (the index, the tree's byte pool, `export`, Buffer paths),
 * {@link encodeRawName} gives back the original bytes; where it leaves as text shaped like
 * `node:fs`'s (`readdir` with the `utf8` encoding), {@link displayName} decodes those bytes as Node
 * does (each invalid sequence becomes U+FFFD).
 */

// ignoreBOM: a name's leading EF BB BF is part of the name, not a byte-order mark to drop.
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lossyDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
const encoder = new TextEncoder();

/** First and last lone surrogate that stand for a raw byte (0x80..0xff). */
const ESC_FIRST = 0xdc80;
const ESC_LAST = 0xdcff;

/**
 * Decodes name bytes: valid UTF-8 as text, every byte of an invalid sequence as U+DC80 + (byte - 0x80).
 *
 * @example
 * ```ts
 * decodeRawName(Uint8Array.of(0x61, 0xe9)); // 'a\udce9'
 * encodeRawName('a\udce9');                  // Uint8Array [0x61, 0xe9]
 * ```
 */
export function decodeRawName(bytes: Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) { ascii = false; break; }
  if (ascii) return bytes.length <= 256 ? String.fromCharCode.apply(null, bytes as unknown as number[]) : lossyDecoder.decode(bytes);
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return decodeSlow(bytes);
  }
}

/** Length of the valid UTF-8 sequence starting at `i`, or 0 when the byte there starts none. */
function sequenceLength(b: Uint8Array, i: number): number {
  const c = b[i]!;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < b.length && b[i + k]! >= lo && b[i + k]! <= hi;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

function decodeSlow(bytes: Uint8Array): string {
  let out = '';
  let runStart = 0;
  let i = 0;
  while (i < bytes.length) {
    const n = sequenceLength(bytes, i);
    if (n > 0) { i += n; continue; }
    if (i > runStart) out += strictDecoder.decode(bytes.subarray(runStart, i));
    out += String.fromCharCode(ESC_FIRST + bytes[i]! - 0x80);
    i++;
    runStart = i;
  }
  if (i > runStart) out += strictDecoder.decode(bytes.subarray(runStart, i));
  return out;
}

/** True when `s` holds a lone surrogate (a raw byte, or text no UTF-8 can carry). */
export function hasLoneSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d <= 0xdfff) { i++; continue; }
    }
    return true;
  }
  return false;
}

/**
 * The bytes a name stands for: UTF-8, with U+DC80..U+DCFF (lone) as the raw bytes 0x80..0xff.
 * Other lone surrogates become U+FFFD's bytes, as `TextEncoder` writes them.
 */
export function encodeRawName(s: string): Uint8Array {
  if (!hasLoneSurrogate(s)) return encoder.encode(s);
  // Runs of text between raw bytes are encoded at once (TextEncoder turns other lone surrogates into U+FFFD).
  const parts: Uint8Array[] = [];
  let runStart = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { i++; continue; }
    }
    if (c < ESC_FIRST || c > ESC_LAST) continue;
    if (i > runStart) parts.push(encoder.encode(s.slice(runStart, i)));
    parts.push(Uint8Array.of(c - ESC_FIRST + 0x80));
    runStart = i + 1;
  }
  if (runStart < s.length) parts.push(encoder.encode(s.slice(runStart)));
  return Buffer.concat(parts);
}

/** The name as `node:fs` shows a name of these bytes with the `utf8` encoding (invalid bytes as U+FFFD). */
export function displayName(s: string): string {
  return hasLoneSurrogate(s) ? lossyDecoder.decode(encodeRawName(s)) : s;
}

/**
 * A path given by a caller (`string`, `Buffer`/`Uint8Array` or `file:` URL) as the name string
 * imagefs keys by: Buffers are taken as bytes; strings as raw-name strings, so that a path
 * `walk` or the CLI gave back (with U+DC80..U+DCFF standing for bytes that are not UTF-8) reaches
 * the same file. Other lone surrogates become U+FFFD, as Node encodes them.
 */
export function fromPathLike(path: string | Uint8Array | URL): string {
  if (typeof path === 'string') return hasLoneSurrogate(path) ? decodeRawName(encodeRawName(path)) : path;
  if (path instanceof Uint8Array) return decodeRawName(path);
  if (path instanceof URL) {
    if (path.protocol !== 'file:') throw new TypeError(`the URL must be of scheme file, got ${path.protocol}`);
    return decodeRawName(percentBytes(path.pathname));
  }
  throw new TypeError(`the path must be a string, a Buffer or a URL, got ${typeof path}`);
}

/** The bytes of a URL path, `%XX` escapes taken as raw bytes. */
function percentBytes(pathname: string): Uint8Array {
  const out: number[] = [];
  const raw = encoder.encode(pathname);
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x25 && i + 2 < raw.length) {
      const h = Number.parseInt(String.fromCharCode(raw[i + 1]!, raw[i + 2]!), 16);
      if (!Number.isNaN(h)) { out.push(h); i += 2; continue; }
    }
    out.push(raw[i]!);
  }
  return Uint8Array.from(out);
}
