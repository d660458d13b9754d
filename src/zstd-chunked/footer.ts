/**
 * Where a zstd:chunked layer keeps its TOC ("manifest"): the `manifest-position` annotation
 * (`offset:length:lengthUncompressed:type`) or, lacking it, the footer at the end of the blob (a
 * zstd skippable frame whose payload starts with the same four little-endian u64 and ends with
 * the magic `GnUlInUx`).
 * @module
 */
import { dataLoss } from '../errors/image-fs-error.js';
import type { Descriptor } from '../image/types.js';
import type { ReadAtSource, ReadOptions } from '../source/read-at.js';

/** Position annotations, newest name first. */
export const ZSTD_CHUNKED_POSITION_ANNOTATIONS: readonly string[] = [
  'io.github.containers.zstd-chunked.manifest-position',
  'io.containers.zstd-chunked.manifest-position',
];

/** The magic that ends a zstd:chunked footer: `GnUlInUx`. */
export const ZSTD_CHUNKED_FOOTER_MAGIC: Uint8Array = new TextEncoder().encode('GnUlInUx');

/** True when `tail` (the last bytes of a blob) ends with the zstd:chunked footer magic. */
export function endsWithZstdChunkedFooter(tail: Uint8Array): boolean {
  const m = ZSTD_CHUNKED_FOOTER_MAGIC;
  if (tail.length < m.length) return false;
  const start = tail.length - m.length;
  for (let i = 0; i < m.length; i++) if (tail[start + i] !== m[i]) return false;
  return true;
}

/** Skippable frame magic of the footer (0x184D2A50, little endian). */
const SKIPPABLE_MAGIC = 0x184d2a50;
/** Footer frame sizes tried from the end of the blob (v1 is 48 bytes; later writers append fields). */
const FOOTER_SIZES = [48, 64, 72];

/** Where the TOC is: its compressed bytes are blob bytes [offset, offset + length). */
export interface ZstdChunkedPosition {
  /** Offset of the TOC's zstd frame (inside its skippable frame). */
  offset: number;
  /** Compressed length. */
  length: number;
  /** Uncompressed (JSON) length. */
  lengthUncompressed: number;
  /** Manifest type (1: the CRFS-like JSON TOC). */
  type: number;
}

/** Parses `offset:length:lengthUncompressed:type`; undefined when malformed. */
export function parseZstdChunkedPosition(value: string): ZstdChunkedPosition | undefined {
  const parts = value.split(':');
  if (parts.length !== 4 || parts.some((p) => !/^\d+$/.test(p))) return undefined;
  const [offset, length, lengthUncompressed, type] = parts.map(Number) as [number, number, number, number];
  if (![offset, length, lengthUncompressed, type].every(Number.isSafeInteger)) return undefined;
  return { offset, length, lengthUncompressed, type };
}

/** The position annotation of a descriptor, parsed, when it has one. */
export function zstdChunkedPositionOf(descriptor: Descriptor): ZstdChunkedPosition | undefined {
  for (const name of ZSTD_CHUNKED_POSITION_ANNOTATIONS) {
    const value = descriptor.annotations?.[name];
    if (typeof value === 'string') return parseZstdChunkedPosition(value);
  }
  return undefined;
}

/**
 * Parses the footer out of the last bytes of a blob: finds the skippable frame that ends exactly
 * at the end of `tail` and ends with the magic, and reads its first four u64 fields.
 * @returns the position, or undefined when `tail` holds no footer.
 */
export function parseZstdChunkedFooter(tail: Uint8Array): ZstdChunkedPosition | undefined {
  if (!endsWithZstdChunkedFooter(tail)) return undefined;
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  for (const size of FOOTER_SIZES) {
    if (tail.length < size) continue;
    const at = tail.length - size;
    if (view.getUint32(at, true) !== SKIPPABLE_MAGIC || view.getUint32(at + 4, true) !== size - 8) continue;
    const u64 = (i: number): number => Number(view.getBigUint64(at + 8 + 8 * i, true));
    const position = { offset: u64(0), length: u64(1), lengthUncompressed: u64(2), type: u64(3) };
    // A field past 2^53 cannot be a real offset or length (and would lose bits as a number).
    if (![position.offset, position.length, position.lengthUncompressed, position.type].every(Number.isSafeInteger)) return undefined;
    return position;
  }
  return undefined;
}

/**
 * Where the TOC of a zstd:chunked blob is: from the descriptor's position annotation when it has
 * one, else from the footer (one read of the last 72 bytes).
 * @throws ImageError `DataLoss` when neither tells, or the position lies outside the blob.
 */
export async function findZstdChunkedToc(blob: ReadAtSource, descriptor: Descriptor, options: ReadOptions = {}): Promise<ZstdChunkedPosition> {
  const subject = descriptor.digest;
  let position = zstdChunkedPositionOf(descriptor);
  if (position === undefined) {
    const n = Math.min(blob.size, FOOTER_SIZES[FOOTER_SIZES.length - 1]!);
    position = parseZstdChunkedFooter(await blob.readAt(blob.size - n, n, options));
  }
  if (position === undefined) throw dataLoss('the zstd:chunked layer has neither a manifest-position annotation nor a footer', { subject, hint: 'read the layer whole (mode: full)' });
  if (position.length <= 0 || position.offset + position.length > blob.size) {
    throw dataLoss(`the zstd:chunked TOC position ${position.offset}+${position.length} lies outside the ${blob.size}-byte blob`, { subject, hint: 'the layer or its annotation is wrong; rebuild the image' });
  }
  return position;
}
