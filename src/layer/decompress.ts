import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import { dataLoss } from '../errors/image-fs-error.js';
import type { LayerCompression } from '../image/media-types.js';

const gunzipAsync = promisify(gunzip);

/**
 * Decompresses a whole layer blob.
 *
 * - `gzip`: node:zlib `gunzip`, which reads every member of a multi-member stream (eStargz
 *   layers are one member per file).
 * - `zstd`: the pure-JS `fzstd` decoder; several frames and skippable frames (zstd:chunked's
 *   TOC) are read in order. fzstd does not check the optional frame checksum, so callers that
 *   know the layer's diff_id should verify it (as {@link openWholeLayer} does).
 * - `none`: the bytes themselves.
 *
 * @param bytes - the compressed blob.
 * @param compression - how it is compressed (from the layer media type).
 * @param subject - names the layer in errors (for instance `layer sha256:...`).
 * @throws ImageError `DataLoss` naming `subject` when the stream is corrupt or truncated.
 *
 * @example
 * ```ts
 * const tar = await decompressLayer(blob, 'gzip', `layer ${descriptor.digest}`);
 * ```
 */
export async function decompressLayer(bytes: Uint8Array, compression: LayerCompression, subject: string): Promise<Uint8Array> {
  try {
    switch (compression) {
      case 'gzip': {
        const out = await gunzipAsync(bytes);
        return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      }
      case 'zstd':
        return zstdDecompress(bytes);
      case 'none':
        return bytes;
    }
  } catch (error) {
    throw dataLoss(`${subject} is not a valid ${compression} stream: ${(error as Error).message}`, {
      subject,
      cause: error,
      hint: 'the blob is corrupt or truncated; fetch or copy the image again',
    });
  }
}
