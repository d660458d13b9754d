/**
 * GNU sparse files, read as Go's archive/tar reads them: the old GNU `'S'` header map (with its
 * extension blocks), the PAX formats 0.0 / 0.1 (map in PAX records) and 1.0 (map at the start of
 * the entry's data), and the checks Go makes on a map before it serves the file.
 */
import { decodeNumber } from './header.js';
import type { PaxRecords } from './pax.js';
import { paxString } from './pax.js';
import { parseGoInt } from './time.js';

/** Which GNU sparse format an entry uses. */
export type SparseFormat = 'gnu-old' | 'pax-0.x' | 'pax-1.0';

/** Size of one old GNU sparse descriptor (offset and numbytes, 12 bytes each). */
const DESCRIPTOR = 24;

/**
 * Reads up to `count` old GNU sparse descriptors starting at `start` of `block` into `out`
 * (flattened offset/length pairs). Like GNU tar, BSD tar and Go, it stops at the first descriptor
 * whose offset field starts with a NUL byte.
 *
 * @returns undefined, or the description of a malformed number.
 */
export function readOldGnuSparse(block: Uint8Array, start: number, count: number, out: number[]): string | undefined {
  for (let i = 0; i < count; i++) {
    const at = start + i * DESCRIPTOR;
    if (block[at] === 0) break;
    const offset = decodeNumber(block, at, 12);
    const length = decodeNumber(block, at + 12, 12);
    if (Number.isNaN(offset) || Number.isNaN(length)) return `sparse descriptor at byte ${at} of its block is malformed`;
    out.push(offset, length);
  }
  return undefined;
}

/**
 * The PAX sparse format an entry's records announce, as Go's `readGNUSparsePAXHeaders` tells it:
 * `GNU.sparse.major`/`minor` 0/0 or 0/1 → 0.x, 1/0 → 1.0, any other version → not sparse; without
 * a version, a non-empty `GNU.sparse.map` → 0.x; else not sparse.
 */
export function paxSparseFormat(records: PaxRecords | undefined): 'pax-0.x' | 'pax-1.0' | undefined {
  if (!records) return undefined;
  const major = paxString(records, 'GNU.sparse.major') ?? '';
  const minor = paxString(records, 'GNU.sparse.minor') ?? '';
  if (major === '0' && (minor === '0' || minor === '1')) return 'pax-0.x';
  if (major === '1' && minor === '0') return 'pax-1.0';
  if (major !== '' || minor !== '') return undefined;
  return (paxString(records, 'GNU.sparse.map') ?? '') !== '' ? 'pax-0.x' : undefined;
}

/**
 * The map of a PAX 0.0 / 0.1 sparse file: `GNU.sparse.numblocks` entries in `GNU.sparse.map`
 * (`offset,length,...`; 0.0's repeated `GNU.sparse.offset`/`numbytes` records are joined into
 * that map by {@link parsePax}).
 *
 * @returns the flattened map, or why it is malformed.
 */
export function parseSparseMap0x(records: PaxRecords): number[] | string {
  const countText = paxString(records, 'GNU.sparse.numblocks') ?? '';
  const count = parseGoInt(countText);
  if (typeof count !== 'number' || count < 0) return `GNU.sparse.numblocks=${JSON.stringify(countText.slice(0, 40))} is not a valid count`;
  const text = paxString(records, 'GNU.sparse.map') ?? '';
  const parts = text === '' ? [] : text.split(',');
  if (parts.length !== 2 * count) return `GNU.sparse.map has ${parts.length} numbers, GNU.sparse.numblocks=${count} needs ${2 * count}`;
  const map: number[] = [];
  for (const part of parts) {
    const n = parseGoInt(part);
    if (typeof n !== 'number') return `GNU.sparse.map holds ${JSON.stringify(part.slice(0, 40))}, not a valid number`;
    map.push(n);
  }
  return map;
}

/**
 * Reads the map of a PAX 1.0 sparse file from the first blocks of the entry's data: decimal
 * numbers each ending in `\n`, the count first, then offset/length pairs; whole 512-byte blocks.
 * Feed it blocks until {@link SparseMap1x0Reader.push} says the map is complete.
 */
export class SparseMap1x0Reader {
  private readonly blocks: Uint8Array[] = [];
  private newlines = 0;
  private needed = 1;
  private countKnown = false;

  /** Bytes of map read so far (whole blocks). */
  get length(): number {
    return this.blocks.length * 512;
  }

  /**
   * Adds the next block (it is copied).
   * @returns true when the map is complete, false when it needs more blocks, or why it is malformed.
   */
  push(block: Uint8Array): boolean | string {
    this.blocks.push(block.slice(0, 512));
    for (let i = 0; i < 512; i++) if (block[i] === 0x0a) this.newlines++;
    if (!this.countKnown && this.newlines >= 1) {
      const first = this.tokens(1)[0]!;
      const count = parseGoInt(first);
      if (typeof count !== 'number' || count < 0) return `its entry count ${JSON.stringify(first.slice(0, 40))} is not a valid count`;
      this.countKnown = true;
      this.needed = 1 + 2 * count;
    }
    return this.countKnown && this.newlines >= this.needed;
  }

  /** The map, once {@link SparseMap1x0Reader.push} returned true; or why a number is malformed. */
  map(): number[] | string {
    const tokens = this.tokens(this.needed);
    const map: number[] = [];
    for (let i = 1; i < tokens.length; i++) {
      const n = parseGoInt(tokens[i]!);
      if (typeof n !== 'number') return `it holds ${JSON.stringify(tokens[i]!.slice(0, 40))}, not a valid number`;
      map.push(n);
    }
    return map;
  }

  private tokens(n: number): string[] {
    const out: string[] = [];
    let current = '';
    for (const block of this.blocks) {
      for (let i = 0; i < block.length; i++) {
        const c = block[i]!;
        if (c === 0x0a) {
          out.push(current);
          current = '';
          if (out.length === n) return out;
        } else {
          current += String.fromCharCode(c);
        }
      }
    }
    return out;
  }
}

/**
 * Checks a sparse map against the file's logical size as Go's `validateSparseEntries` (and BSD
 * tar) do: size not negative; offsets and lengths not negative; no overflow; every segment
 * within the size; segments in order and not overlapping (zero-length segments are allowed).
 *
 * @returns undefined when the map is valid, else what is wrong with it.
 */
export function validateSparseMap(map: readonly number[], size: number): string | undefined {
  if (size < 0) return `its size ${size} is negative`;
  let previousEnd = 0;
  for (let i = 0; i + 1 < map.length; i += 2) {
    const offset = map[i]!;
    const length = map[i + 1]!;
    const n = i / 2;
    if (offset < 0 || length < 0) return `sparse segment ${n} (offset ${offset}, length ${length}) is negative`;
    if (!Number.isSafeInteger(offset + length)) return `sparse segment ${n} (offset ${offset}, length ${length}) overflows`;
    if (offset + length > size) return `sparse segment ${n} (offset ${offset}, length ${length}) ends past the file size ${size}`;
    if (previousEnd > offset) return `sparse segment ${n} (offset ${offset}) overlaps or precedes the segment before it (ending at ${previousEnd})`;
    previousEnd = offset + length;
  }
  return undefined;
}

/** The map without its zero-length segments (GNU tar ends a file that ends in a hole with one). */
export function compactSparseMap(map: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < map.length; i += 2) if (map[i + 1]! > 0) out.push(map[i]!, map[i + 1]!);
  return out;
}

/** The number of stored data bytes a map describes: the sum of its segments' lengths. */
export function sparseDataLength(map: readonly number[]): number {
  let n = 0;
  for (let i = 1; i < map.length; i += 2) n += map[i]!;
  return n;
}
