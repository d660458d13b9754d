import { deflateRawSync } from 'node:zlib';
import { invalidArgument } from '../errors/image-fs-error.js';
import { ByteWriter } from './bytes.js';
import { MAX_WINDOW_SIZE, SPAN_DIGEST_SIZE, type Checkpoint } from './checkpoint.js';
import { encodeBlock, type StringRefs } from './entry-codec.js';
import { DEFAULT_BLOCK_SIZE, HEADER_SIZE, SECTION_COUNT, Section, withTrailer, writeHeader } from './format.js';
import { buildPathTables } from './path-table.js';
import type { LayerIndexData } from './types.js';

/** Options of {@link encodeIndex}. */
export interface EncodeIndexOptions {
  /**
   * Entries per block (default 32). Looking an entry up decodes at most one block; smaller
   * blocks mean faster random access and a slightly larger index.
   */
  blockSize?: number;
}

/** Collects the strings entries refer to (owner names, xattr names, kept as raw names); reference 0 is "absent". */
class StringTable implements StringRefs {
  readonly values: string[] = [];
  private readonly refs = new Map<string, number>();
  ref(value: string | undefined): number {
    if (value === undefined) return 0;
    let r = this.refs.get(value);
    if (r === undefined) {
      this.values.push(value);
      this.refs.set(value, (r = this.values.length));
    }
    return r;
  }
}

function checkCheckpoints(checkpoints: readonly Checkpoint[], spanDigests: readonly Uint8Array[]): void {
  let prev: Checkpoint | undefined;
  for (const [i, cp] of checkpoints.entries()) {
    const ok = Number.isSafeInteger(cp.compressedOffset) && cp.compressedOffset >= 0 &&
      Number.isSafeInteger(cp.uncompressedOffset) && cp.uncompressedOffset >= 0 &&
      Number.isInteger(cp.bitOffset) && cp.bitOffset >= 0 && cp.bitOffset <= 7 &&
      (cp.window === undefined || cp.window.length <= MAX_WINDOW_SIZE);
    const ordered = !prev || (cp.compressedOffset >= prev.compressedOffset && cp.uncompressedOffset >= prev.uncompressedOffset);
    if (!ok || !ordered) throw invalidArgument(`checkpoint ${i} is malformed or out of order`);
    prev = cp;
  }
  if (spanDigests.length !== 0 && spanDigests.length !== checkpoints.length) {
    throw invalidArgument(`${spanDigests.length} span digests for ${checkpoints.length} checkpoints; give one per checkpoint or none`);
  }
  for (const [i, d] of spanDigests.entries()) {
    if (d.length !== SPAN_DIGEST_SIZE) throw invalidArgument(`span digest ${i} is ${d.length} bytes, not ${SPAN_DIGEST_SIZE}`);
  }
}

/**
 * Encodes a layer index (format in docs/index-format.md): the layer it binds to, its tar
 * entries, its checkpoints with their windows (deflate-compressed) and span digests, and a
 * sha256 trailer.
 *
 * @throws ImageError `InvalidArgument` when checkpoints are out of order or digests malformed.
 *
 * @example
 * ```ts
 * const bytes = encodeIndex({ layer, entries: parseTar(tar), checkpoints: [], spanDigests: [] });
 * const index = openIndex(bytes);
 * ```
 */
export function encodeIndex(data: LayerIndexData, options: EncodeIndexOptions = {}): Uint8Array {
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!Number.isInteger(blockSize) || blockSize < 1) throw new TypeError(`blockSize must be a positive integer, got ${blockSize}`);
  checkCheckpoints(data.checkpoints, data.spanDigests);
  const { entries } = data;
  const strings = new StringTable();

  const blocks = new ByteWriter();
  const blockOffsets = new ByteWriter();
  for (let start = 0; start < entries.length; start += blockSize) {
    blockOffsets.u32(blocks.length);
    encodeBlock(blocks, entries.slice(start, start + blockSize), strings);
  }
  const paths = buildPathTables(entries);

  const layer = new ByteWriter();
  layer.string(data.layer.digest);
  layer.string(data.layer.mediaType);
  layer.varint(data.layer.compressedSize);
  layer.varint(data.layer.uncompressedSize);

  const stringSection = new ByteWriter();
  for (const s of strings.values) stringSection.name(s);

  const checkpoints = new ByteWriter();
  const windows = new ByteWriter();
  let prevC = 0;
  let prevU = 0;
  for (const cp of data.checkpoints) {
    checkpoints.varint(cp.compressedOffset - prevC);
    checkpoints.varint(cp.uncompressedOffset - prevU);
    checkpoints.u8(cp.bitOffset | (cp.memberStart ? 8 : 0) | (cp.window ? 16 : 0));
    if (cp.window) {
      const packed = cp.window.length === 0 ? new Uint8Array(0) : deflateRawSync(cp.window, { level: 6 });
      checkpoints.varint(cp.window.length);
      checkpoints.varint(packed.length);
      windows.bytes(packed);
    }
    prevC = cp.compressedOffset;
    prevU = cp.uncompressedOffset;
  }
  const digests = new ByteWriter();
  for (const d of data.spanDigests) digests.bytes(d);

  const parts: Uint8Array[] = [];
  parts[Section.Layer] = layer.finish();
  parts[Section.Strings] = stringSection.finish();
  parts[Section.BlockOffsets] = blockOffsets.finish();
  parts[Section.EntryBlocks] = blocks.finish();
  parts[Section.PathTable] = paths.pathTable;
  parts[Section.DirTable] = paths.dirTable;
  parts[Section.DirRecords] = paths.dirRecords;
  parts[Section.Checkpoints] = checkpoints.finish();
  parts[Section.Windows] = windows.finish();
  parts[Section.SpanDigests] = digests.finish();

  const out = new ByteWriter();
  out.bytes(new Uint8Array(HEADER_SIZE));
  const sections: [number, number][] = [];
  for (let i = 0; i < SECTION_COUNT; i++) {
    out.align(4);
    sections.push([out.length, parts[i]!.length]);
    out.bytes(parts[i]!);
  }
  if (out.length > 0xffff_ffff - 64) throw invalidArgument('the layer index would exceed 4 GiB');
  const body = out.finish();
  writeHeader(body, {
    entries: entries.length, blockSize, paths: paths.pathCount, dirs: paths.dirCount,
    checkpoints: data.checkpoints.length, spanDigests: data.spanDigests.length, strings: strings.values.length,
  }, sections);
  return withTrailer(body);
}
