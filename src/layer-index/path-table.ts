import type { TarEntry } from '../tar/entry.js';
import { encodeRawName } from '../tar/raw-name.js';
import { ByteReader, ByteWriter } from './bytes.js';

/**
 * 32-bit FNV-1a of the bytes of a path (a raw-name string, so bytes that are not UTF-8 hash as
 * themselves): the key of the path and directory tables.
 */
export function pathHash(path: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c >= 0x80) return hashBytes(encodeRawName(path));
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h >>> 0;
}

function hashBytes(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/** Sorts (hash, value) pairs by hash then value and writes them as two u32 arrays. */
function writeTable(hashes: number[], values: number[]): Uint8Array {
  const n = hashes.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => hashes[a]! - hashes[b]! || values[a]! - values[b]!);
  const out = new Uint8Array(n * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    view.setUint32(i * 4, hashes[order[i]!]!, true);
    view.setUint32((n + i) * 4, values[order[i]!]!, true);
  }
  return out;
}

/** The parent directory of a normalised path (`''` for top-level names). */
export function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/** The last component of a normalised path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** What the encoder learnt about the paths of a layer. */
export interface PathTables {
  /** Path table: `count` u32 hashes ascending, then `count` u32 entry indices. */
  pathTable: Uint8Array;
  pathCount: number;
  /** Directory table: `count` u32 hashes ascending, then `count` u32 record offsets. */
  dirTable: Uint8Array;
  /** The directory records the table points into. */
  dirRecords: Uint8Array;
  dirCount: number;
}

interface DirInfo {
  path: string;
  /** Entry indices of the direct children (last occurrence of each path), ascending. */
  children: number[];
  /** Names of children that have no entry of their own (implicit directories). */
  implicit: Set<string>;
}

/**
 * Builds the path and directory tables. Where a path occurs more than once, the last entry wins
 * (as when a tar is extracted). Directories that are implied by deeper paths but have no entry
 * get a directory record too, and their parents list them by name.
 */
export function buildPathTables(entries: readonly TarEntry[]): PathTables {
  const last = new Map<string, number>();
  entries.forEach((e, i) => last.set(e.path, i));
  const dirs = new Map<string, DirInfo>();
  const dir = (path: string): DirInfo => {
    let d = dirs.get(path);
    if (!d) dirs.set(path, (d = { path, children: [], implicit: new Set() }));
    return d;
  };
  for (const [path, index] of last) {
    if (path === '') continue;
    dir(parentOf(path)).children.push(index);
    // Make sure every ancestor is reachable from its own parent.
    let child = parentOf(path);
    while (child !== '' && !last.has(child)) {
      const parent = parentOf(child);
      const info = dir(parent);
      if (info.implicit.has(baseName(child))) break;
      info.implicit.add(baseName(child));
      dir(child);
      child = parent;
    }
  }
  const pathHashes: number[] = [];
  const pathIndices: number[] = [];
  for (const [path, index] of last) {
    pathHashes.push(pathHash(path));
    pathIndices.push(index);
  }

  const records = new ByteWriter();
  const dirHashes: number[] = [];
  const dirOffsets: number[] = [];
  for (const info of dirs.values()) {
    dirHashes.push(pathHash(info.path));
    dirOffsets.push(records.length);
    const own = last.get(info.path);
    if (own === undefined) {
      records.varint(0);
      records.name(info.path);
    } else {
      records.varint(own + 1);
    }
    info.children.sort((a, b) => a - b);
    records.varint(info.children.length);
    let prev = 0;
    for (const c of info.children) {
      records.varint(c - prev);
      prev = c;
    }
    records.varint(info.implicit.size);
    for (const name of [...info.implicit].sort()) records.name(name);
  }
  return {
    pathTable: writeTable(pathHashes, pathIndices), pathCount: pathHashes.length,
    dirTable: writeTable(dirHashes, dirOffsets), dirRecords: records.finish(), dirCount: dirHashes.length,
  };
}

/**
 * A sorted table of `count` u32 hashes followed by `count` u32 values, searched in place (no
 * decoding at open).
 */
export class HashTable {
  private readonly view: DataView;

  constructor(bytes: Uint8Array, private readonly offset: number, readonly count: number) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** The values stored under `hash`, in table order. */
  *find(hash: number): Generator<number> {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.view.getUint32(this.offset + mid * 4, true) < hash) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.count && this.view.getUint32(this.offset + i * 4, true) === hash; i++) {
      yield this.view.getUint32(this.offset + (this.count + i) * 4, true);
    }
  }
}

/** A decoded directory record. */
export interface DirRecord {
  /** Index of the directory's own entry, or -1 when it is implied by deeper paths. */
  entry: number;
  /** The directory's path when it has no entry (else read it from the entry). */
  path?: string;
  /** Entry indices of the direct children, ascending (stream order). */
  children: number[];
  /** Names of implicit child directories (no entry of their own), sorted. */
  implicit: string[];
}

/** Decodes the directory record at `reader.pos`. */
export function readDirRecord(reader: ByteReader): DirRecord {
  const own = reader.varint();
  const record: DirRecord = { entry: own - 1, children: [], implicit: [] };
  if (own === 0) record.path = reader.name();
  const n = reader.varint();
  let prev = 0;
  for (let i = 0; i < n; i++) record.children.push((prev += reader.varint()));
  const m = reader.varint();
  for (let i = 0; i < m; i++) record.implicit.push(reader.name());
  return record;
}
