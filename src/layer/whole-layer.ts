import { ImageError, invalidArgument } from '../errors/image-fs-error.js';
import { isEncryptedLayer, layerCompression } from '../image/media-types.js';
import type { Descriptor, ImageSource } from '../image/types.js';
import { verifyDigest } from '../image/digest.js';
import { BufferSource, type ReadAtSource, type ReadOptions } from '../source/read-at.js';
import type { TarEntry } from '../tar/entry.js';
import { parseTar } from '../tar/parser.js';
import { decompressLayer } from './decompress.js';
import type { LayerContent } from './types.js';

/** Options of {@link openWholeLayer}. */
export interface WholeLayerOptions extends ReadOptions {
  /**
   * The layer's diff_id from the image config (digest of the uncompressed tar). When given, the
   * uncompressed bytes are verified against it before they are parsed.
   */
  diffId?: string;
}

/**
 * Reads a layer whole: downloads (or reads) the entire blob, verifies it against the
 * descriptor's digest, decompresses it (gzip with any number of members, zstd, or none),
 * verifies the uncompressed bytes against `diffId` when given, and parses its tar entries. The
 * uncompressed tar stays in memory; `data` serves it.
 *
 * Nothing is trusted before it is verified: a digest mismatch fails before decompression, a
 * diff_id mismatch before parsing.
 *
 * @param source - where the blob comes from.
 * @param descriptor - the layer descriptor from the manifest.
 * @param options - the expected diff_id and an AbortSignal.
 * @throws ImageError `InvalidArgument` for a media type imagefs cannot read (encrypted,
 *   unknown); `DataLoss` naming the layer digest for a digest mismatch or a corrupt or truncated
 *   stream; whatever `source.openBlob` throws.
 *
 * @example
 * ```ts
 * const image = await source.resolve();
 * const layer = await openWholeLayer(source, image.layers[0]!, { diffId: image.config.rootfs.diff_ids[0] });
 * for (const e of await layer.entries()) console.log(e.path);
 * ```
 */
export async function openWholeLayer(source: ImageSource, descriptor: Descriptor, options: WholeLayerOptions = {}): Promise<LayerContent> {
  const subject = `layer ${descriptor.digest}`;
  const compression = layerCompression(descriptor.mediaType);
  if (compression === undefined) {
    throw invalidArgument(`${subject} has media type '${descriptor.mediaType}', which imagefs cannot read`, {
      subject: descriptor.digest,
      hint: isEncryptedLayer(descriptor.mediaType)
        ? 'decrypt the image first (skopeo copy --decryption-key ...)'
        : 'only tar, tar+gzip and tar+zstd layers (OCI or Docker) are supported',
    });
  }
  const blob = await source.openBlob(descriptor, options);
  let compressed: Uint8Array;
  try {
    compressed = await blob.readAt(0, blob.size, options);
  } finally {
    await blob.close?.();
  }
  verifyDigest(compressed, descriptor.digest, subject);
  const tar = await decompressLayer(compressed, compression, subject);
  if (options.diffId !== undefined) verifyDigest(tar, options.diffId, `uncompressed ${subject} (diff_id)`);
  let entries: TarEntry[];
  try {
    entries = parseTar(tar, { subject });
  } catch (error) {
    if (!(error instanceof ImageError)) throw error;
    throw new ImageError(error.code, `${subject}: ${error.message}`, { subject: descriptor.digest, cause: error, hint: error.hint || 'the layer is corrupt; fetch or copy the image again' });
  }
  return new WholeLayer(descriptor, entries, new BufferSource(tar));
}

/** A {@link LayerContent} whose uncompressed tar is held in memory. */
class WholeLayer implements LayerContent {
  readonly mode = 'whole' as const;
  constructor(
    readonly descriptor: Descriptor,
    private readonly list: readonly TarEntry[],
    readonly data: ReadAtSource,
  ) {}

  async entries(_options?: ReadOptions): Promise<readonly TarEntry[]> {
    return this.list;
  }

  async close(): Promise<void> {
    await this.data.close?.();
  }
}
