import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Decompress } from 'fzstd';
import { aborted, dataLoss, ImageError, throwIfAborted } from '../errors/image-fs-error.js';
import type { LayerCompression } from '../image/media-types.js';
import type { ReadAtSource } from '../source/read-at.js';

/** Options of {@link decompressStream}. */
export interface DecompressStreamOptions {
  /** Names the layer in errors (`layer sha256:...`). */
  subject: string;
  /** Bytes read from the compressed source at a time. Default 4 MiB. */
  readSize?: number;
  /** Cancels the decompression. */
  signal?: AbortSignal;
}

/**
 * Reads a source front to back in `readSize` chunks, one read ahead of the consumer.
 *
 * @param source - what to read.
 * @param readSize - bytes per read.
 * @param signal - cancels the reads.
 * @example
 * ```ts
 * for await (const chunk of readChunks(blob, 4 << 20, undefined)) hash.update(chunk);
 * ```
 */
export async function* readChunks(source: ReadAtSource, readSize: number, signal: AbortSignal | undefined): AsyncGenerator<Uint8Array> {
  let next: Promise<Uint8Array> | undefined;
  const read = (at: number): Promise<Uint8Array> | undefined => {
    if (at >= source.size) return undefined;
    const p = source.readAt(at, Math.min(readSize, source.size - at), signal ? { signal } : {});
    p.catch(() => {}); // awaited below; avoid an unhandled rejection when the consumer stops early
    return p;
  };
  next = read(0);
  for (let at = 0; next !== undefined;) {
    const chunk = await next;
    at += chunk.length;
    next = read(at); // one read ahead
    yield chunk;
  }
}

function corrupt(subject: string, compression: LayerCompression, error: unknown): ImageError {
  if (error instanceof ImageError) return error;
  return dataLoss(`${subject} is not a valid ${compression} stream: ${(error as Error).message}`, {
    subject,
    cause: error,
    hint: 'the blob is corrupt or truncated; fetch or copy the image again',
  });
}

/**
 * Decompresses a whole layer blob as a stream, handing each output chunk to `onChunk` (awaited,
 * so a slow consumer slows the reads): gzip with any number of members through node:zlib, zstd
 * (skippable frames included, as zstd:chunked writes them) through fzstd, or no compression. At
 * most one read-size chunk of input and a few of output are held at a time.
 *
 * @param blob - the compressed blob: a random-access source (read in `readSize` chunks), or the
 *   chunks themselves (a download in progress: the caller verifies them before using the output).
 * @param compression - from the layer media type.
 * @param onChunk - receives the uncompressed bytes in order; the chunk is the callee's to keep.
 * @param options - the subject for errors, the read size and an AbortSignal.
 * @throws ImageError `DataLoss` naming the subject for a corrupt or truncated stream; `Aborted`.
 * @example
 * ```ts
 * await decompressStream(blob, 'gzip', async (c) => { await writer.write(c); }, { subject: 'layer sha256:..' });
 * ```
 */
export async function decompressStream(
  blob: ReadAtSource | AsyncIterable<Uint8Array>,
  compression: LayerCompression,
  onChunk: (chunk: Uint8Array) => Promise<void>,
  options: DecompressStreamOptions,
): Promise<void> {
  const { subject, signal } = options;
  const readSize = options.readSize ?? 4 << 20;
  throwIfAborted(signal);
  const input = (): AsyncIterable<Uint8Array> => (Symbol.asyncIterator in blob ? blob : readChunks(blob, readSize, signal));
  if (compression === 'none') {
    for await (const chunk of input()) await onChunk(chunk);
    return;
  }
  if (compression === 'gzip') {
    let consumerError: { error: unknown } | undefined; // the pipeline reports it as a mere abort
    try {
      await pipeline(
        Readable.from(input()),
        createGunzip({ chunkSize: 1 << 20 }),
        async (output: AsyncIterable<Buffer>) => {
          for await (const chunk of output) {
            try {
              await onChunk(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
            } catch (error) {
              consumerError = { error };
              throw error;
            }
          }
        },
        signal ? { signal } : {},
      );
    } catch (error) {
      if (signal?.aborted) throw aborted(signal);
      if (consumerError !== undefined) throw consumerError.error;
      throw corrupt(subject, compression, error);
    }
    return;
  }
  let pending: Uint8Array[] = [];
  const zstd = new Decompress((data) => {
    if (data.length > 0) pending.push(data.slice());
  });
  try {
    for await (const chunk of input()) {
      zstd.push(chunk);
      const out = pending;
      pending = [];
      for (const c of out) await onChunk(c);
    }
    zstd.push(new Uint8Array(0), true);
    for (const c of pending) await onChunk(c);
  } catch (error) {
    if (signal?.aborted) throw aborted(signal);
    throw corrupt(subject, compression, error);
  }
}
