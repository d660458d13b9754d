import type { CacheWriter } from '../cache/types.js';
import { dataLoss, ImageError } from '../errors/image-fs-error.js';
import type { LayerCompression } from '../image/media-types.js';
import type { Descriptor, ImageSource } from '../image/types.js';
import { decompressStream } from './decompress-stream.js';
import { verifiedBlobChunks } from './fetch-blob.js';

/** Options of {@link pullLayerOnePass}. */
export interface OnePassOptions {
  /**
   * The blob's cache writer (keyed by the layer digest): it receives every compressed byte and is
   * committed here, which verifies the digest (so the stream is not hashed twice), once the whole
   * blob decompressed cleanly. It is aborted on any failure.
   */
  blobWriter?: CacheWriter;
  /** Cancels the download and the decompression. */
  signal?: AbortSignal;
}

/**
 * Bytes handed on at a time: the network delivers 16-64 KiB chunks, and each chunk costs a
 * decompressor job and a file write, so small chunks are joined up to this size first.
 */
const BATCH = 1 << 20;

/**
 * Joins the chunks pulled from `source` into batches of about {@link BATCH} bytes and writes each
 * batch to `writer` before passing it on (so the writer has every byte the consumer has seen).
 */
async function* tee(source: AsyncIterator<Uint8Array>, writer: CacheWriter | undefined): AsyncGenerator<Uint8Array> {
  let parts: Uint8Array[] = [];
  let size = 0;
  const flush = async (): Promise<Uint8Array> => {
    const batch = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    parts = [];
    size = 0;
    await writer?.write(batch);
    return batch;
  };
  let ended = false;
  try {
    for (;;) {
      const next = await source.next();
      if (next.done === true) break;
      parts.push(next.value);
      size += next.value.length;
      if (size >= BATCH) yield await flush();
    }
    ended = true;
  } finally {
    // Left early (the decompressor failed): the bytes pulled but not passed on still go to the writer.
    if (!ended && size > 0) await flush().catch(() => {});
  }
  if (size > 0) yield await flush();
}

function isDataLoss(error: unknown): boolean {
  return error instanceof ImageError && error.code === 'DataLoss';
}

/** The blob writer's digest check, in the layer's words. */
async function commitBlob(writer: CacheWriter, descriptor: Descriptor): Promise<void> {
  try {
    await writer.commit();
  } catch (error) {
    if (!isDataLoss(error)) throw error;
    throw dataLoss(`layer ${descriptor.digest} does not match its digest: ${(error as Error).message}`, {
      subject: descriptor.digest,
      cause: error,
      hint: 'the content is corrupt or was altered; fetch or copy the image again',
    });
  }
}

/**
 * The one-pass full pull of a layer: streams the blob from `source` (registry body, layout file
 * in big reads, or a foreign URL) into `blobWriter` and the decompressor (node:zlib gunzip, fzstd,
 * or none) at once; the uncompressed bytes go to `onTar` in order. Resolves only once the blob
 * matched its digest and size (checked by committing `blobWriter`, or by hashing when there is
 * none) and decompressed cleanly: the caller then verifies and commits what `onTar` wrote. When
 * decompression fails, the rest of the blob is still read so that a digest mismatch is what gets
 * reported. On any failure `blobWriter` is aborted.
 *
 * @param source - where the blob is.
 * @param descriptor - the layer descriptor.
 * @param compression - from the layer media type.
 * @param onTar - receives the uncompressed bytes (the chunk is the callee's to keep).
 * @param options - the blob's cache writer and an AbortSignal.
 * @throws ImageError `DataLoss` naming the layer for a digest or size mismatch or a corrupt
 *   stream; `Aborted`; whatever the source or the writers throw.
 * @example
 * ```ts
 * await pullLayerOnePass(source, layer, 'gzip', (c) => tarWriter.write(c), { blobWriter });
 * ```
 */
export async function pullLayerOnePass(
  source: ImageSource,
  descriptor: Descriptor,
  compression: LayerCompression,
  onTar: (chunk: Uint8Array) => Promise<void>,
  options: OnePassOptions = {},
): Promise<void> {
  const signal = options.signal === undefined ? {} : { signal: options.signal };
  const writer = options.blobWriter;
  const blob = verifiedBlobChunks(source, descriptor, { hash: writer === undefined, ...signal });
  try {
    try {
      await decompressStream(tee(blob, writer), compression, onTar, { subject: `layer ${descriptor.digest}`, ...signal });
    } catch (error) {
      // A corrupt stream is most likely a blob that does not match its digest: read the rest to say so.
      if (isDataLoss(error) && options.signal?.aborted !== true) {
        for (let next = await blob.next(); next.done !== true; next = await blob.next()) await writer?.write(next.value);
        if (writer !== undefined) await commitBlob(writer, descriptor);
      }
      throw error;
    }
    if (writer !== undefined) await commitBlob(writer, descriptor);
  } catch (error) {
    await writer?.abort();
    throw error;
  } finally {
    await blob.return(undefined).catch(() => {});
  }
}
