/**
 * A zstd:chunked layer served lazily through its own TOC: no imagefs index is needed.
 * @module
 */
import { decompress } from 'fzstd';
import { invalidArgument } from '../errors/image-fs-error.js';
import { EstargzChunkReader } from '../estargz/chunk-reader.js';
import { layerCompression } from '../image/media-types.js';
import type { Descriptor, ImageSource } from '../image/types.js';
import type { ReadOptions } from '../source/read-at.js';
import { readZstdChunkedToc, zstdChunkedChecksumOf, type ZstdChunkedToc } from './toc.js';
import { zstdTocToLayout } from './toc-entries.js';
import { TocLayer, type TocLayerContent } from '../estargz/toc-layer.js';

/** Options of {@link openZstdChunkedLayer}. */
export interface ZstdChunkedLayerOptions extends ReadOptions {
  /** Bytes of verified chunks kept in memory. Default 8 MiB. */
  cacheBytes?: number;
  /** Largest TOC accepted (uncompressed bytes). Default 128 MiB. */
  maxTocSize?: number;
}

/** A lazily read zstd:chunked layer, with its TOC and read counters. */
export type ZstdChunkedLayerContent = TocLayerContent<ZstdChunkedToc>;

/** True when the descriptor announces a zstd:chunked layer imagefs can read lazily: zstd, with a manifest-checksum annotation. */
export function isZstdChunkedLayer(descriptor: Descriptor): boolean {
  return layerCompression(descriptor.mediaType) === 'zstd' && zstdChunkedChecksumOf(descriptor) !== undefined;
}

/**
 * Decompresses one chunk's zstd frames into exactly `size` bytes (the chunk; the digest check
 * that follows catches a short or wrong output). A frame header's declared content size never
 * drives the allocation: the frames come from the registry unverified.
 */
async function unzstd(compressed: Uint8Array, size: number): Promise<Uint8Array> {
  return decompress(compressed, new Uint8Array(size));
}

/**
 * Opens a zstd:chunked layer lazily: one read at open (the compressed TOC, located by the
 * manifest-position annotation, or two with the footer), the TOC verified against the
 * descriptor's manifest-checksum annotation, then `entries()` from the TOC and `data` over a
 * virtual stream of the regular files' contents, every chunk's frames decompressed with fzstd and
 * checked against the TOC's sha256 before any byte is returned. Nothing is hidden: the TOC lives
 * in a skippable frame, outside the tar.
 *
 * A layer without the checksum annotation is refused: the caller should read it whole.
 *
 * @throws ImageError `InvalidArgument` (not zstd, no annotation, a TOC that cannot serve verified
 *   reads), `DataLoss` (no position, TOC checksum mismatch, corrupt TOC).
 * @example
 * ```ts
 * const layer = await openZstdChunkedLayer(source, descriptor);
 * const e = (await layer.entries()).find((x) => x.path === 'etc/hosts')!;
 * const bytes = await layer.data.readAt(e.dataOffset, e.size);
 * ```
 */
export async function openZstdChunkedLayer(source: ImageSource, descriptor: Descriptor, options: ZstdChunkedLayerOptions = {}): Promise<ZstdChunkedLayerContent> {
  const subject = descriptor.digest;
  if (layerCompression(descriptor.mediaType) !== 'zstd') {
    throw invalidArgument(`layer ${subject} has media type ${descriptor.mediaType}; zstd:chunked layers are zstd`, { subject });
  }
  const signal = options.signal === undefined ? {} : { signal: options.signal };
  const blob = await source.openBlob(descriptor, signal);
  try {
    const read = await readZstdChunkedToc(blob, descriptor, { ...signal, ...(options.maxTocSize === undefined ? {} : { maxTocSize: options.maxTocSize }) });
    const layout = zstdTocToLayout(read.toc, { subject, tocOffset: read.position.offset });
    const data = new EstargzChunkReader(layout.chunks, layout.size, blob, {
      subject, inflate: unzstd, format: 'zstd:chunked', ...(options.cacheBytes === undefined ? {} : { cacheBytes: options.cacheBytes }),
    });
    return new TocLayer<ZstdChunkedToc>(descriptor, read.toc, layout.entries, data);
  } catch (error) {
    await blob.close?.();
    throw error;
  }
}
