import type { Descriptor, ImageSource } from '../image/types.js';
import type { ReadOptions } from '../source/read-at.js';
import { endsWithZstdChunkedFooter, ZSTD_CHUNKED_FOOTER_MAGIC, ZSTD_CHUNKED_POSITION_ANNOTATIONS } from '../zstd-chunked/footer.js';
import { ZSTD_CHUNKED_CHECKSUM_ANNOTATIONS } from '../zstd-chunked/toc.js';

/** The annotations zstd:chunked layers carry (the older `io.containers.` prefix and the newer one). */
export const ZSTD_CHUNKED_ANNOTATIONS: readonly string[] = [...ZSTD_CHUNKED_CHECKSUM_ANNOTATIONS, ...ZSTD_CHUNKED_POSITION_ANNOTATIONS];


/** Bytes read from the end of a zstd layer to look for the footer (the v1 footer frame is 48, v2 up to 64). */
export const ZSTD_FOOTER_PROBE_BYTES = 64;

/** True when the descriptor says the layer is zstd:chunked (its table of contents is annotated). */
export function hasZstdChunkedAnnotation(descriptor: Descriptor): boolean {
  const annotations = descriptor.annotations ?? {};
  return ZSTD_CHUNKED_ANNOTATIONS.some((name) => typeof annotations[name] === 'string');
}

/**
 * Whether a zstd layer can be read at random: it is zstd:chunked, told by its annotations or,
 * lacking them, by the footer magic `GnUlInUx` at the very end of the blob (one read of the last
 * {@link ZSTD_FOOTER_PROBE_BYTES} bytes). Plain zstd (one frame, no table of contents) is not.
 *
 * @param source - where the blob is.
 * @param descriptor - a zstd layer descriptor.
 * @param options - an AbortSignal.
 * @example
 * ```ts
 * if (await isSeekableZstd(source, layer)) console.log('zstd:chunked');
 * ```
 */
export async function isSeekableZstd(source: ImageSource, descriptor: Descriptor, options: ReadOptions = {}): Promise<boolean> {
  if (hasZstdChunkedAnnotation(descriptor)) return true;
  if (descriptor.size < ZSTD_CHUNKED_FOOTER_MAGIC.length) return false;
  const blob = await source.openBlob(descriptor, options);
  try {
    const length = Math.min(ZSTD_FOOTER_PROBE_BYTES, blob.size);
    return endsWithZstdChunkedFooter(await blob.readAt(blob.size - length, length, options));
  } finally {
    await blob.close?.();
  }
}
