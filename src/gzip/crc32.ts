/**
 * CRC-32 (the gzip checksum). Uses `zlib.crc32` (native, Node >= 20.15) and falls back to a table
 * implementation on older Node 20 releases.
 * @module
 */
import zlib from 'node:zlib';

type Crc32 = (data: Uint8Array, initial?: number) => number;

const native = (zlib as unknown as { crc32?: Crc32 }).crc32;

let table: Uint32Array | undefined;

function crc32Table(data: Uint8Array, initial = 0): number {
  if (table === undefined) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = ~initial >>> 0;
  for (let i = 0; i < data.length; i++) crc = (table[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return ~crc >>> 0;
}

/**
 * The CRC-32 of `data`, continuing from `initial` (the CRC of the bytes before).
 *
 * @example
 * ```ts
 * crc32(Buffer.from('hello')); // 0x3610a686
 * ```
 */
export const crc32: Crc32 = native ?? crc32Table;
