import { inflateRawSync } from 'node:zlib';
import { dataLoss, invalidArgument } from '../errors/image-fs-error.js';
import type { TarEntry } from '../tar/entry.js';
import { normalizeTarPath } from '../tar/path.js';
import { decodeRawName, encodeRawName, hasLoneSurrogate } from '../tar/raw-name.js';
import { ByteReader } from './bytes.js';
import { MAX_WINDOW_SIZE, SPAN_DIGEST_SIZE, type Checkpoint } from './checkpoint.js';
import { decodeBlock } from './entry-codec.js';
import { readHeader, Section, type IndexHeader } from './format.js';
import { HashTable, pathHash, readDirRecord, type DirRecord } from './path-table.js';
import type { IndexedLayer } from './types.js';

/** Options of {@link openIndex}. */
export interface OpenIndexOptions {
  /** The digest (`sha256:<hex>`) the index blob must have, for instance from its descriptor. */
  expectedDigest?: string;
  /** Fields of the layer the index must describe; any mismatch is an `InvalidArgument` error. */
  expectedLayer?: Partial<IndexedLayer>;
}

/** Where a checkpoint's window lives in the windows section. */
interface WindowRef {
  offset: number;
  rawLength: number;
  packedLength: number;
}

const BLOCK_CACHE = 16;

/**
 * A path as the index keys it: normalised, and as the raw-name string of its bytes, so that a
 * lone surrogate that is not a raw byte (U+D800..U+DC7F, U+DD00..U+DFFF) finds the entry of the
 * bytes it encodes to (U+FFFD's) and lookups compare bytes, not spellings.
 */
function pathKey(path: string): string {
  const p = normalizeTarPath(path);
  return hasLoneSurrogate(p) ? decodeRawName(encodeRawName(p)) : p;
}

/**
 * A layer index opened for reading. Opening verifies the index and reads its header, string
 * table and checkpoint positions; entries are decoded a block at a time when asked for, and
 * checkpoint windows are inflated on demand.
 *
 * @example
 * ```ts
 * const index = openIndex(bytes, { expectedDigest: descriptor.digest });
 * const passwd = index.lookup('etc/passwd');
 * const etc = index.children('etc');
 * ```
 */
export class LayerIndex {
  /** The layer the index describes. */
  readonly layer: IndexedLayer;
  /** Number of tar entries (stream order, duplicates included). */
  readonly entryCount: number;
  /** Size of the index in bytes. */
  readonly byteLength: number;
  /** @internal Entries decoded so far (tests check that opening decodes none). */
  decodedEntries = 0;

  private readonly strings: string[] = [];
  private readonly checkpointList: Checkpoint[] = [];
  private readonly windowRefs: (WindowRef | undefined)[] = [];
  private readonly paths: HashTable;
  private readonly dirs: HashTable;
  private readonly blocks = new Map<number, TarEntry[]>();

  /** Use {@link openIndex}. */
  constructor(private readonly bytes: Uint8Array, private readonly header: IndexHeader) {
    this.byteLength = bytes.length;
    this.entryCount = header.entries;
    const layer = this.reader(Section.Layer);
    this.layer = { digest: layer.string(), mediaType: layer.string(), compressedSize: layer.varint(), uncompressedSize: layer.varint() };
    const strings = this.reader(Section.Strings);
    for (let i = 0; i < header.strings; i++) this.strings.push(strings.name());
    const cps = this.reader(Section.Checkpoints);
    let c = 0;
    let u = 0;
    let windowAt = header.sections[Section.Windows]![0];
    for (let i = 0; i < header.checkpoints; i++) {
      c += cps.varint();
      u += cps.varint();
      const flags = cps.u8();
      const cp: Checkpoint = { compressedOffset: c, bitOffset: flags & 7, uncompressedOffset: u };
      if (flags & 8) cp.memberStart = true;
      this.checkpointList.push(cp);
      if (flags & 16) {
        const ref = { offset: windowAt, rawLength: cps.varint(), packedLength: cps.varint() };
        if (ref.rawLength > MAX_WINDOW_SIZE) throw dataLoss(`the index is corrupt: the window of checkpoint ${i} declares ${ref.rawLength} bytes, over the ${MAX_WINDOW_SIZE} a deflate window can hold`);
        windowAt += ref.packedLength;
        this.windowRefs.push(ref);
      } else {
        this.windowRefs.push(undefined);
      }
    }
    const [wOff, wLen] = header.sections[Section.Windows]!;
    if (windowAt > wOff + wLen) throw dataLoss('the index is corrupt: checkpoint windows run past their section');
    const sizes: [Section, number][] = [
      [Section.BlockOffsets, 4 * Math.ceil(header.entries / Math.max(1, header.blockSize))],
      [Section.PathTable, 8 * header.paths],
      [Section.DirTable, 8 * header.dirs],
      [Section.SpanDigests, SPAN_DIGEST_SIZE * header.spanDigests],
    ];
    for (const [section, size] of sizes) {
      if (header.sections[section]![1] !== size) throw dataLoss(`the index is corrupt: section ${Section[section]} has the wrong size`);
    }
    this.paths = new HashTable(bytes, header.sections[Section.PathTable]![0], header.paths);
    this.dirs = new HashTable(bytes, header.sections[Section.DirTable]![0], header.dirs);
  }

  private reader(section: Section, from = 0): ByteReader {
    const [offset, length] = this.header.sections[section]!;
    return new ByteReader(this.bytes, offset + from, offset + length, Section[section]);
  }

  private block(b: number): TarEntry[] {
    let entries = this.blocks.get(b);
    if (entries) {
      this.blocks.delete(b);
      this.blocks.set(b, entries);
      return entries;
    }
    const size = this.header.blockSize;
    const offsets = this.reader(Section.BlockOffsets, b * 4);
    const count = Math.min(size, this.entryCount - b * size);
    entries = decodeBlock(this.reader(Section.EntryBlocks, offsets.u32()), count, this.strings);
    this.decodedEntries += count;
    this.blocks.set(b, entries);
    if (this.blocks.size > BLOCK_CACHE) this.blocks.delete(this.blocks.keys().next().value!);
    return entries;
  }

  /** The entry at stream position `i` (0 ≤ i < entryCount). Throws a RangeError otherwise. */
  entryAt(i: number): TarEntry {
    if (!Number.isInteger(i) || i < 0 || i >= this.entryCount) throw new RangeError(`entry ${i} is outside 0..${this.entryCount - 1}`);
    return this.block(Math.floor(i / this.header.blockSize))[i % this.header.blockSize]!;
  }

  /** Entry `i` named by one of the index's own tables: out of range is a corrupt index (`DataLoss`), not a caller's mistake. */
  private tableEntry(i: number): TarEntry {
    if (!Number.isInteger(i) || i < 0 || i >= this.entryCount) throw dataLoss(`the index is corrupt: its tables name entry ${i}, but it has ${this.entryCount}`);
    return this.entryAt(i);
  }

  /** Every entry in stream order, decoded block by block. */
  *[Symbol.iterator](): Iterator<TarEntry> {
    const size = this.header.blockSize;
    for (let b = 0; b * size < this.entryCount; b++) yield* this.block(b);
  }

  /** All entries in stream order, as an array (decodes everything). */
  entries(): TarEntry[] {
    return [...this];
  }

  /**
   * The stream index of the entry for `path` (the last one when the tar repeats it), or -1. Paths
   * are raw-name strings (see `src/tar/raw-name.ts`) and match byte for byte.
   */
  indexOf(path: string): number {
    const p = pathKey(path);
    for (const i of this.paths.find(pathHash(p))) if (this.tableEntry(i).path === p) return i;
    return -1;
  }

  /** The entry for `path` (normalised first; the last one when the tar repeats it). */
  lookup(path: string): TarEntry | undefined {
    const i = this.indexOf(path);
    return i < 0 ? undefined : this.entryAt(i);
  }

  private dirRecord(path: string): DirRecord | undefined {
    const p = pathKey(path);
    for (const offset of this.dirs.find(pathHash(p))) {
      const record = readDirRecord(this.reader(Section.DirRecords, offset));
      const recordPath = record.entry >= 0 ? this.tableEntry(record.entry).path : record.path;
      if (recordPath === p) return record;
    }
    return undefined;
  }

  /**
   * Stream indices of the direct children of `dir` that have entries (ascending), or undefined
   * when nothing lies under `dir`. Paths repeated in the tar appear once (their last entry).
   */
  childIndices(dir: string): number[] | undefined {
    return this.dirRecord(dir)?.children;
  }

  /** The entries directly under `dir` (stream order), or undefined when nothing lies under it. */
  children(dir: string): TarEntry[] | undefined {
    return this.childIndices(dir)?.map((i) => this.tableEntry(i));
  }

  /**
   * The names directly under `dir`, sorted, including directories that only deeper paths imply
   * (tars may omit a directory's own entry); undefined when nothing lies under `dir`.
   */
  readdir(dir: string): string[] | undefined {
    const record = this.dirRecord(dir);
    if (!record) return undefined;
    const names = record.children.map((i) => {
      const p = this.tableEntry(i).path;
      return p.slice(p.lastIndexOf('/') + 1);
    });
    return [...names, ...record.implicit].sort();
  }

  /** Number of checkpoints. */
  get checkpointCount(): number {
    return this.checkpointList.length;
  }

  /** Checkpoint `i` with its window inflated (a fresh object each call). */
  checkpoint(i: number): Checkpoint {
    const cp = this.checkpointList[i];
    if (!cp) throw new RangeError(`checkpoint ${i} is outside 0..${this.checkpointList.length - 1}`);
    const window = this.window(i);
    return window === undefined ? { ...cp } : { ...cp, window };
  }

  /** The positions of every checkpoint, without windows (cheap). */
  checkpointPositions(): readonly Checkpoint[] {
    return this.checkpointList;
  }

  /** The window of checkpoint `i`, inflated; undefined when it was stored without one. */
  window(i: number): Uint8Array | undefined {
    const ref = this.windowRefs[i];
    if (!ref) return undefined;
    if (ref.rawLength === 0) return new Uint8Array(0);
    let raw: Uint8Array;
    try {
      // Bounded by the declared size (itself at most 32 KiB): a window that inflates to more is corrupt,
      // and must not allocate what a forged deflate stream asks for.
      raw = inflateRawSync(this.bytes.subarray(ref.offset, ref.offset + ref.packedLength), { maxOutputLength: ref.rawLength + 1 });
    } catch (cause) {
      throw dataLoss(`the index is corrupt: the window of checkpoint ${i} does not inflate`, { cause });
    }
    if (raw.length !== ref.rawLength) throw dataLoss(`the index is corrupt: the window of checkpoint ${i} has the wrong size`);
    return new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
  }

  /**
   * The checkpoint to resume from to read `uncompressedOffset`: the last one at or before it,
   * or -1 when there is none.
   */
  findCheckpoint(uncompressedOffset: number): number {
    let lo = 0;
    let hi = this.checkpointList.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.checkpointList[mid]!.uncompressedOffset <= uncompressedOffset) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /** Number of span digests (0 or `checkpointCount`). */
  get spanDigestCount(): number {
    return this.header.spanDigests;
  }

  /** The sha256 of span `i`'s compressed bytes (32 bytes, a view into the index). */
  spanDigest(i: number): Uint8Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.header.spanDigests) throw new RangeError(`span ${i} has no digest`);
    const [offset] = this.header.sections[Section.SpanDigests]!;
    return this.bytes.subarray(offset + i * SPAN_DIGEST_SIZE, offset + (i + 1) * SPAN_DIGEST_SIZE);
  }
}

/**
 * Opens an encoded layer index: checks magic, version, sha256 trailer and `expectedDigest`,
 * reads the header; entries are decoded lazily.
 *
 * @throws ImageError `InvalidArgument` (not an index, unsupported version, another layer's
 * index) or `DataLoss` (truncated, corrupt, digest mismatch).
 *
 * @example
 * ```ts
 * const index = openIndex(await readFile('layer.idx'), { expectedLayer: { digest: layer.digest } });
 * ```
 */
export function openIndex(bytes: Uint8Array, options: OpenIndexOptions = {}): LayerIndex {
  const header = readHeader(bytes, options.expectedDigest);
  const index = new LayerIndex(bytes, header);
  for (const [key, value] of Object.entries(options.expectedLayer ?? {})) {
    const actual = index.layer[key as keyof IndexedLayer];
    if (value !== undefined && actual !== value) {
      throw invalidArgument(`the layer index describes a layer with ${key} ${String(actual)}, not ${String(value)}`, {
        hint: 'Use the index built for this layer, or rebuild it.',
      });
    }
  }
  return index;
}
