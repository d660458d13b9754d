/** Hand-made tar blocks for the tar parser tests: exact control over every header byte. */

/** Fields of a hand-made header; strings are written as UTF-8, numbers as octal. */
export interface HeaderSpec {
  name: string;
  type?: string;
  size?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkname?: string;
  uname?: string;
  gname?: string;
  devMajor?: number;
  devMinor?: number;
  prefix?: string;
  magic?: 'ustar' | 'gnu' | 'v7';
  /** Base-256 encode the size field instead of octal. */
  base256Size?: boolean;
}

const enc = new TextEncoder();

function writeString(block: Uint8Array, s: string, at: number, len: number): void {
  const bytes = enc.encode(s);
  if (bytes.length > len) throw new Error(`field too long: ${s}`);
  block.set(bytes, at);
}

function writeOctal(block: Uint8Array, n: number, at: number, len: number): void {
  writeString(block, n.toString(8).padStart(len - 1, '0'), at, len - 1);
}

/** Writes the checksum of a block in place (unsigned sum). */
export function fixChecksum(block: Uint8Array): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += block[i]!;
  writeString(block, sum.toString(8).padStart(6, '0'), 148, 6);
  block[154] = 0;
  block[155] = 0x20;
}

/** One 512-byte header block. */
export function header(spec: HeaderSpec): Uint8Array {
  const b = new Uint8Array(512);
  writeString(b, spec.name, 0, 100);
  writeOctal(b, spec.mode ?? 0o644, 100, 8);
  writeOctal(b, spec.uid ?? 0, 108, 8);
  writeOctal(b, spec.gid ?? 0, 116, 8);
  if (spec.base256Size) {
    b[124] = 0x80;
    let v = spec.size ?? 0;
    for (let i = 135; i > 124; i--) {
      b[i] = v % 256;
      v = Math.floor(v / 256);
    }
  } else {
    writeOctal(b, spec.size ?? 0, 124, 12);
  }
  writeOctal(b, spec.mtime ?? 1_700_000_000, 136, 12);
  b[156] = (spec.type ?? '0').charCodeAt(0);
  writeString(b, spec.linkname ?? '', 157, 100);
  const magic = spec.magic ?? 'ustar';
  if (magic === 'ustar') {
    writeString(b, 'ustar\u000000', 257, 8);
  } else if (magic === 'gnu') {
    writeString(b, 'ustar  ', 257, 8);
  }
  if (magic !== 'v7') {
    writeString(b, spec.uname ?? '', 265, 32);
    writeString(b, spec.gname ?? '', 297, 32);
    writeOctal(b, spec.devMajor ?? 0, 329, 8);
    writeOctal(b, spec.devMinor ?? 0, 337, 8);
  }
  if (spec.prefix) writeString(b, spec.prefix, 345, 155);
  fixChecksum(b);
  return b;
}

/** Data padded to a multiple of 512. */
export function data(bytes: Uint8Array | string): Uint8Array {
  const raw = typeof bytes === 'string' ? enc.encode(bytes) : bytes;
  const out = new Uint8Array(Math.ceil(raw.length / 512) * 512);
  out.set(raw);
  return out;
}

/** A PAX payload from key/value pairs (values as strings or raw bytes). */
export function paxPayload(records: [string, string | Uint8Array][]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [key, value] of records) {
    const v = typeof value === 'string' ? enc.encode(value) : value;
    const body = 1 + enc.encode(key).length + 1 + v.length + 1; // ' ' key '=' value '\n'
    let len = body + String(body).length;
    if (String(len).length !== String(body).length) len = body + String(len).length;
    parts.push(concat([enc.encode(`${len} ${key}=`), v, enc.encode('\n')]));
  }
  return concat(parts);
}

/** Concatenates byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The two zero blocks that end an archive. */
export const END = new Uint8Array(1024);
