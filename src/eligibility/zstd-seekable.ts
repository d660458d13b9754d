import type { Descriptor, ImageSource } from '../image/types.js';
import type { ReadOptions } from '../source/read-at.js';

/** The annotations zstd:chunked layers carry (the older `io.containers.` prefix and the newer one). */
export const ZSTD_CHUNKED_ANNOTATIONS: readonly string[] = [
  'io.github.containers.zstd-chunked.manifest-checksum',
  'io.github.containers.zstd-chunked.manifest-position',
  'io.containers.zstd-chunked.manifest-checksum',
  'io.containers.zstd-chunked.manifest-position',
];

/** The magic that ends a zstd:chunked footer: `GnUlInUx`. */
export const ZSTD_CHUNKED_FOOTER_MAGIC: Uint8Array = new TextEncoder().encode('GnUlInUx');

/** Bytes read from the end of a zstd layer to look for the footer (the v1 footer frame is 48, v2 up to 64). */
export const ZSTD_FOOTER_PROBE_BYTES = 64;

/** True when the descriptor says the layer is zstd:chunked (its table of contents is annotated). */
export function hasZstdChunkedAnnotation(descriptor: Descriptor): boolean {
  const annotations = descriptor.annotations ?? {};
  return ZSTD_CHUNKED_ANNOTATIONS.some((name) => typeof annotations[name] === 'string');
}

/** True when `tail` (the last bytes of a blob) ends with the zstd:chunked footer magic. */
export function endsWithZstdChunkedFooter(tail: Uint8Array): boolean {
  const m = ZSTD_CHUNKED_FOOTER_MAGIC;
  if (tail.length < m.length) return false;
  const start = tail.length - m.length;
  for (let i = 0; i < m.length; i++) if (tail[start + i] !== m[i]) return false;
  return true;
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
