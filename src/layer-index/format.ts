import { createHash } from 'node:crypto';
import { dataLoss, invalidArgument } from '../errors/image-fs-error.js';

/** The first 8 bytes of every imagefs layer index. */
export const INDEX_MAGIC = 'IMGFSIDX';
/**
 * The format version this code writes and reads. Version 2 keeps times as integer seconds and
 * nanoseconds (with atime and ctime), sparse maps, and names as their exact bytes; version 1
 * indexes are refused (rebuild them).
 */
export const INDEX_VERSION = 2;
/** Bytes of the fixed header, section table included. */
export const HEADER_SIZE = 120;
/** Bytes of the sha256 trailer. */
export const TRAILER_SIZE = 32;
/** Entries per block unless the encoder is told otherwise. */
export const DEFAULT_BLOCK_SIZE = 32;

/** The sections of an index, in file order; the value is the slot in the section table. */
export enum Section {
  Layer = 0,
  Strings = 1,
  BlockOffsets = 2,
  EntryBlocks = 3,
  PathTable = 4,
  DirTable = 5,
  DirRecords = 6,
  Checkpoints = 7,
  Windows = 8,
  SpanDigests = 9,
}
/** How many sections the table has. */
export const SECTION_COUNT = 10;

/** The counts in the fixed header. */
export interface IndexCounts {
  entries: number;
  blockSize: number;
  paths: number;
  dirs: number;
  checkpoints: number;
  spanDigests: number;
  strings: number;
}

/** The parsed fixed header. */
export interface IndexHeader extends IndexCounts {
  version: number;
  /** `[offset, length]` of each section, absolute. */
  sections: [number, number][];
}

const COUNT_FIELDS: (keyof IndexCounts)[] = ['entries', 'blockSize', 'paths', 'dirs', 'checkpoints', 'spanDigests', 'strings'];

/** Writes the fixed header into the first {@link HEADER_SIZE} bytes of `out`. */
export function writeHeader(out: Uint8Array, counts: IndexCounts, sections: [number, number][]): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out.set(new TextEncoder().encode(INDEX_MAGIC), 0);
  view.setUint16(8, INDEX_VERSION, true);
  view.setUint16(10, 0, true);
  COUNT_FIELDS.forEach((field, i) => view.setUint32(12 + i * 4, counts[field], true));
  sections.forEach(([offset, length], i) => {
    view.setUint32(40 + i * 8, offset, true);
    view.setUint32(44 + i * 8, length, true);
  });
}

/**
 * Checks magic, version, trailer and (optionally) the digest of the whole index, then parses the
 * fixed header and checks every section lies inside the file.
 *
 * @throws ImageError `InvalidArgument` (not an index, unsupported version) or `DataLoss`
 * (truncated, checksum or digest mismatch, sections out of bounds).
 */
export function readHeader(bytes: Uint8Array, expectedDigest?: string): IndexHeader {
  const hint = 'Rebuild the index (imagefs index REF) or delete the cached copy.';
  if (bytes.length < 10 || new TextDecoder().decode(bytes.subarray(0, 8)) !== INDEX_MAGIC) {
    throw invalidArgument(`not an imagefs layer index: the first bytes are not "${INDEX_MAGIC}"`, { hint });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(8, true);
  if (version !== INDEX_VERSION) {
    const error = invalidArgument(`layer index version ${version} is not supported (this imagefs reads version ${INDEX_VERSION})`, {
      hint: version < INDEX_VERSION
        ? 'The index was made by an older imagefs: rebuild it (imagefs index REF) or delete the cached copy.'
        : 'Upgrade imagefs, or rebuild the index with this version (imagefs index REF).',
    });
    versionErrors.add(error);
    throw error;
  }
  if (bytes.length < HEADER_SIZE + TRAILER_SIZE) throw dataLoss(`layer index is truncated: ${bytes.length} bytes`, { hint });
  if (expectedDigest !== undefined) {
    const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (actual !== expectedDigest) throw dataLoss(`layer index digest is ${actual}, expected ${expectedDigest}`, { hint });
  }
  const body = bytes.subarray(0, bytes.length - TRAILER_SIZE);
  const trailer = bytes.subarray(bytes.length - TRAILER_SIZE);
  const sum = createHash('sha256').update(body).digest();
  if (!sum.equals(trailer)) {
    throw dataLoss('layer index is corrupt or truncated: its sha256 trailer does not match its content', { hint });
  }
  if (view.getUint16(10, true) !== 0) throw invalidArgument('layer index uses flags this imagefs does not know', { hint });
  const header = { version, sections: [] } as unknown as IndexHeader;
  COUNT_FIELDS.forEach((field, i) => (header[field] = view.getUint32(12 + i * 4, true)));
  for (let i = 0; i < SECTION_COUNT; i++) {
    const offset = view.getUint32(40 + i * 8, true);
    const length = view.getUint32(44 + i * 8, true);
    if (offset < HEADER_SIZE || offset + length > body.length) {
      throw dataLoss(`layer index is corrupt: section ${Section[i]} [${offset}, +${length}) is outside the file`, { hint });
    }
    header.sections.push([offset, length]);
  }
  if (header.blockSize === 0 && header.entries > 0) throw dataLoss('layer index is corrupt: block size 0', { hint });
  return header;
}

const versionErrors = new WeakSet<object>();

/**
 * True when `error` is the `InvalidArgument` that {@link readHeader} (and so `openIndex`) throws
 * for an index of another format version: a well-formed index this imagefs cannot read, which a
 * caller may treat as "no index" (rebuild it) rather than as an index bound to another layer.
 *
 * @example
 * ```ts
 * try { openIndex(bytes); } catch (e) { if (isUnsupportedIndexVersion(e)) rebuild(); else throw e; }
 * ```
 */
export function isUnsupportedIndexVersion(error: unknown): boolean {
  return typeof error === 'object' && error !== null && versionErrors.has(error);
}

/** Appends the sha256 trailer of `body`. */
export function withTrailer(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + TRAILER_SIZE);
  out.set(body);
  out.set(createHash('sha256').update(body).digest(), body.length);
  return out;
}
