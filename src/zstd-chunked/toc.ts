/**
 * The zstd:chunked table of contents ("manifest"): located by the position annotation or the
 * footer, checked against the `manifest-checksum` annotation, decompressed with fzstd, parsed.
 * @module
 */
import { createHash } from 'node:crypto';
import { decompress } from 'fzstd';
import { dataLoss, invalidArgument } from '../errors/image-fs-error.js';
import type { Descriptor } from '../image/types.js';
import type { ReadAtSource, ReadOptions } from '../source/read-at.js';
import { findZstdChunkedToc, type ZstdChunkedPosition } from './footer.js';

/** Checksum annotations (sha256 of the compressed TOC bytes), newest name first. */
export const ZSTD_CHUNKED_CHECKSUM_ANNOTATIONS: readonly string[] = [
  'io.github.containers.zstd-chunked.manifest-checksum',
  'io.containers.zstd-chunked.manifest-checksum',
];
/** Default bound on the TOC JSON size (uncompressed). */
export const DEFAULT_MAX_ZSTD_TOC_SIZE = 128 * 1024 * 1024;

/** One entry of a zstd:chunked TOC, as the JSON has it. */
export interface ZstdChunkedTocEntry {
  /** `dir`, `reg`, `symlink`, `hardlink`, `char`, `block`, `fifo`, or `chunk` (continues the `reg` of the same name). */
  type: string;
  /** Path in the layer. */
  name: string;
  /** Symlink target, or the hardlink's target path. */
  linkName?: string;
  /** Mode bits. */
  mode?: number;
  /** File size (`reg`). */
  size?: number;
  /** Owner. */
  uid?: number;
  /** Group. */
  gid?: number;
  /** Owner name. */
  userName?: string;
  /** Group name. */
  groupName?: string;
  /** Modification time, RFC 3339. */
  modtime?: string;
  /** Device major. */
  devMajor?: number;
  /** Device minor. */
  devMinor?: number;
  /** Name → base64 value. */
  xattrs?: Record<string, string>;
  /** sha256 of the whole file. */
  digest?: string;
  /** Compressed offset of the chunk's first zstd frame. */
  offset?: number;
  /** Compressed offset where the file's (or chunk's) frames end. */
  endOffset?: number;
  /** Uncompressed chunk size. */
  chunkSize?: number;
  /** Offset of the chunk in the file. */
  chunkOffset?: number;
  /** sha256 of the uncompressed chunk. */
  chunkDigest?: string;
  /** Chunk kind in newer writers (`zeros` for a hole). */
  chunkType?: string;
}

/** A zstd:chunked TOC document. */
export interface ZstdChunkedToc {
  /** Format version (1). */
  version: number;
  /** Entries in tar order. */
  entries: ZstdChunkedTocEntry[];
}

/** What {@link readZstdChunkedToc} read. */
export interface ZstdChunkedTocRead {
  /** The parsed TOC. */
  toc: ZstdChunkedToc;
  /** Where it was. */
  position: ZstdChunkedPosition;
  /** `sha256:` of the compressed TOC bytes (equal to the checksum annotation). */
  checksum: string;
}

/** The manifest-checksum annotation of a layer descriptor, when it has one. */
export function zstdChunkedChecksumOf(descriptor: Descriptor): string | undefined {
  for (const name of ZSTD_CHUNKED_CHECKSUM_ANNOTATIONS) {
    const value = descriptor.annotations?.[name];
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

/**
 * Reads and verifies the TOC of a zstd:chunked blob: one read of the compressed TOC (plus one of
 * the footer when the position annotation is missing), whose sha256 must equal the descriptor's
 * manifest-checksum annotation before it is decompressed and parsed.
 *
 * @throws ImageError `InvalidArgument` (no checksum annotation, a TOC over `maxTocSize`, not a
 *   version 1 JSON TOC), `DataLoss` (no position, checksum mismatch, corrupt zstd).
 * @example
 * ```ts
 * const { toc } = await readZstdChunkedToc(blob, descriptor);
 * ```
 */
export async function readZstdChunkedToc(blob: ReadAtSource, descriptor: Descriptor, options: ReadOptions & { maxTocSize?: number } = {}): Promise<ZstdChunkedTocRead> {
  const subject = descriptor.digest;
  const expected = zstdChunkedChecksumOf(descriptor);
  if (expected === undefined) throw invalidArgument(`layer ${subject} has no zstd:chunked manifest-checksum annotation, so its TOC cannot be verified`, { subject, hint: 'read the layer whole (mode: full)' });
  const maxTocSize = options.maxTocSize ?? DEFAULT_MAX_ZSTD_TOC_SIZE;
  const signal = options.signal === undefined ? {} : { signal: options.signal };
  const position = await findZstdChunkedToc(blob, descriptor, signal);
  if (position.type !== 1) throw invalidArgument(`the zstd:chunked TOC has manifest type ${position.type}; only type 1 (JSON) is read`, { subject, hint: 'read the layer whole (mode: full)' });
  if (position.lengthUncompressed > maxTocSize) throw invalidArgument(`the zstd:chunked TOC is ${position.lengthUncompressed} bytes, over ${maxTocSize}`, { subject, hint: 'raise maxTocSize, or read the layer whole' });
  const compressed = await blob.readAt(position.offset, position.length, signal);
  const checksum = `sha256:${createHash('sha256').update(compressed).digest('hex')}`;
  if (checksum !== expected) {
    throw dataLoss(`the zstd:chunked TOC has checksum ${checksum}, but its manifest-checksum annotation says ${expected}`, { subject, hint: 'the layer or its manifest annotation is wrong; rebuild the image' });
  }
  let json: Uint8Array;
  try {
    // Into a buffer of the declared size (checked against maxTocSize above): the frame header's own
    // content size never drives the allocation.
    json = decompress(compressed, new Uint8Array(position.lengthUncompressed));
  } catch (cause) {
    throw dataLoss(`the zstd:chunked TOC at ${position.offset} does not decompress: ${(cause as Error).message}`, { subject, cause, hint: 'the blob is corrupt; push it again' });
  }
  if (json.length !== position.lengthUncompressed) {
    throw dataLoss(`the zstd:chunked TOC decompresses to ${json.length} bytes, not the ${position.lengthUncompressed} its position says`, { subject, hint: 'the layer or its annotation is wrong; rebuild the image' });
  }
  let toc: ZstdChunkedToc;
  try {
    toc = JSON.parse(new TextDecoder().decode(json)) as ZstdChunkedToc;
  } catch (cause) {
    throw invalidArgument(`the zstd:chunked TOC is not JSON: ${(cause as Error).message}`, { subject, cause });
  }
  if (typeof toc !== 'object' || toc === null || toc.version !== 1 || !Array.isArray(toc.entries)) {
    throw invalidArgument(`the zstd:chunked TOC is not a version 1 TOC with entries (version ${String((toc as { version?: unknown } | null)?.version)})`, { subject, hint: 'read the layer whole' });
  }
  return { toc, position, checksum };
}
