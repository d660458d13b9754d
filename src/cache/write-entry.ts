/**
 * Writing one cache entry whole: create, fill, commit, or abort on any failure.
 * @module
 */
import type { BlobCache, CacheCreateOptions, CacheWriter } from './types.js';

/**
 * Creates the entry `key` in `cache`, lets `fill` write it and commits it (which verifies it as
 * `options` say: digest key, `expectedDigest`, `expectedSize`); on any failure the writer is
 * aborted (nothing partial is published) and the error rethrown.
 *
 * @example
 * ```ts
 * await writeEntry(cache, layer.digest, async (w) => { for await (const c of chunks) await w.write(c); }, { expectedSize: layer.size });
 * ```
 */
export async function writeEntry(cache: BlobCache, key: string, fill: (writer: CacheWriter) => Promise<void>, options?: CacheCreateOptions): Promise<void> {
  const writer = await cache.create(key, options);
  try {
    await fill(writer);
    await writer.commit();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/**
 * {@link writeEntry} of one buffer.
 *
 * @example
 * ```ts
 * await putEntry(cache, 'layer-index/' + layer.digest, bytes, { expectedSize: bytes.length });
 * ```
 */
export function putEntry(cache: BlobCache, key: string, bytes: Uint8Array, options?: CacheCreateOptions): Promise<void> {
  return writeEntry(cache, key, (writer) => writer.write(bytes), options);
}
