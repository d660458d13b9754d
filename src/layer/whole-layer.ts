import { createHash } from 'node:crypto';
import { ImageError, invalidArgument } from '../errors/image-fs-error.js';
import { getOrFetch } from '../cache/get-or-fetch.js';
import { DiskCache } from '../cache/disk-cache.js';
import { NoCache } from '../cache/no-cache.js';
import { TieredCache } from '../cache/tiered-cache.js';
import type { BlobCache } from '../cache/types.js';
import { dataLoss } from '../errors/image-fs-error.js';
import { isEncryptedLayer, layerCompression, type LayerCompression } from '../image/media-types.js';
import { parseDigest } from '../image/digest.js';
import type { Descriptor, ImageSource } from '../image/types.js';
import type { ReadAtSource, ReadOptions } from '../source/read-at.js';
import type { TarEntry } from '../tar/entry.js';
import { TarStreamParser } from '../tar/parser.js';
import { ChunkListSource } from './chunk-list-source.js';
import { decompressStream } from './decompress-stream.js';
import { pullLayerOnePass } from './one-pass-pull.js';
import type { LayerContent } from './types.js';

/** Options of {@link openWholeLayer}. */
export interface WholeLayerOptions extends ReadOptions {
  /**
   * The layer's diff_id from the image config (digest of the uncompressed tar). When given, the
   * uncompressed bytes are verified against it before the layer is served.
   */
  diffId?: string;
  /**
   * Where the blob and its uncompressed tar are kept: the blob under its digest, the tar under
   * `layer-tar/<digest>` (verified against `diffId` on commit). `data` then reads from the cache
   * (from disk for a {@link DiskCache}), and a later open that finds the tar downloads nothing.
   * Default: none (the tar is held in memory, as chunks, for the layer's lifetime).
   */
  cache?: BlobCache;
  /**
   * With a cache that may not keep an entry (a memory cache smaller than the layer), up to this
   * many bytes are also kept in memory during the fetch to serve it anyway. Default: unbounded for
   * memory caches, 0 for a {@link DiskCache} or {@link TieredCache} (which keep what they commit).
   */
  fallbackMaxBytes?: number;
  /**
   * Without a cache (or with a `NoCache`) the uncompressed tar is held in memory; a layer whose
   * tar grows past this many bytes stops with `ResourceExhausted` before more is held. Default
   * {@link DEFAULT_WHOLE_LAYER_MEMORY} (1 GiB).
   */
  maxMemoryBytes?: number;
}

/** The default bound on a whole layer's tar held in memory (no disk cache): 1 GiB. */
export const DEFAULT_WHOLE_LAYER_MEMORY = 1024 * 1024 * 1024;

/** The derived cache key of a layer's uncompressed tar. */
export function layerTarKey(layerDigest: string): string {
  return `layer-tar/${layerDigest}`;
}

function compressionOf(descriptor: Descriptor): LayerCompression {
  const compression = layerCompression(descriptor.mediaType);
  if (compression === undefined) {
    throw invalidArgument(`layer ${descriptor.digest} has media type '${descriptor.mediaType}', which imagefs cannot read`, {
      subject: descriptor.digest,
      hint: isEncryptedLayer(descriptor.mediaType)
        ? 'decrypt the image first (skopeo copy --decryption-key ...)'
        : 'only tar, tar+gzip and tar+zstd layers (OCI or Docker) are supported',
    });
  }
  return compression;
}

/** Feeds a tar parser, keeping its first error for later (a diff_id mismatch is reported first). */
class EntryCollector {
  readonly entries: TarEntry[] = [];
  error: unknown;
  private readonly parser: TarStreamParser;
  constructor(private readonly descriptor: Descriptor) {
    this.parser = new TarStreamParser((e) => this.entries.push(e), { subject: descriptor.digest });
  }
  push(chunk: Uint8Array): void {
    if (this.error !== undefined) return;
    try { this.parser.push(chunk); } catch (e) { this.error = e; }
  }
  /** Ends the stream and returns the entries, or throws the parse error naming the layer. */
  finish(): TarEntry[] {
    if (this.error === undefined) {
      try { this.parser.end(); } catch (e) { this.error = e; }
    }
    if (this.error === undefined) return this.entries;
    const error = this.error;
    if (!(error instanceof ImageError)) throw error;
    const subject = `layer ${this.descriptor.digest}`;
    throw new ImageError(error.code, `${subject}: ${error.message}`, { subject: this.descriptor.digest, cause: error, hint: error.hint || 'the layer is corrupt; fetch or copy the image again' });
  }
}

/**
 * Reads a layer whole, in one pass: streams the entire blob (registry body, layout file, or a
 * foreign layer's `urls`), and as the bytes arrive stores them in the cache, decompresses them
 * (gzip with any number of members, zstd, or none), stores and hashes the uncompressed tar and
 * parses its entries. The blob is verified against the descriptor's digest and size at the end of
 * the stream, the tar against `diffId` when given; only then is anything committed or served.
 *
 * Nothing is served before it is verified: a digest mismatch is reported in preference to a
 * decompression error, and a diff_id mismatch before any tar error. With `cache`, the blob (under
 * its digest) and the tar (`layer-tar/<digest>`) are committed only when both check out; a
 * mismatch leaves nothing behind. A cached tar is served without a download; a cached blob is
 * decompressed from the cache.
 *
 * @param source - where the blob comes from.
 * @param descriptor - the layer descriptor from the manifest.
 * @param options - the expected diff_id, a cache and an AbortSignal.
 * @throws ImageError `InvalidArgument` for a media type imagefs cannot read (encrypted,
 *   unknown); `DataLoss` naming the layer digest for a digest or diff_id mismatch or a corrupt or
 *   truncated stream; whatever the source throws.
 *
 * @example
 * ```ts
 * const image = await source.resolve();
 * const layer = await openWholeLayer(source, image.layers[0]!, { diffId: image.config.rootfs.diff_ids[0], cache });
 * for (const e of await layer.entries()) console.log(e.path);
 * ```
 */
export async function openWholeLayer(source: ImageSource, descriptor: Descriptor, options: WholeLayerOptions = {}): Promise<LayerContent> {
  const compression = compressionOf(descriptor);
  if (options.cache === undefined || options.cache instanceof NoCache) return openInMemory(source, descriptor, compression, options);
  return openThroughCache(source, descriptor, compression, options.cache, options);
}

async function openInMemory(source: ImageSource, descriptor: Descriptor, compression: LayerCompression, options: WholeLayerOptions): Promise<LayerContent> {
  const subject = `layer ${descriptor.digest}`;
  const signal = options.signal === undefined ? {} : { signal: options.signal };
  const diffHash = options.diffId === undefined ? undefined : createHash(parseDigest(options.diffId, `diff_id of ${subject}`).algorithm);
  const chunks: Uint8Array[] = [];
  const collector = new EntryCollector(descriptor);
  const limit = options.maxMemoryBytes ?? DEFAULT_WHOLE_LAYER_MEMORY;
  if (!Number.isSafeInteger(limit) || limit < 0) throw new TypeError(`openWholeLayer: maxMemoryBytes must be a non-negative integer, got ${String(limit)}`);
  let held = 0;
  // One pass: download (verified against the digest when the stream ends), decompress, hash, parse.
  await pullLayerOnePass(source, descriptor, compression, async (chunk) => {
    diffHash?.update(chunk);
    collector.push(chunk);
    // Once the tar is refused (corrupt, or over a tar limit) nothing will be served: hold nothing
    // (the stream still runs to its end so that a digest mismatch is reported first).
    if (collector.error !== undefined) {
      chunks.length = 0;
      return;
    }
    held += chunk.length;
    if (held > limit) {
      chunks.length = 0;
      throw new ImageError('ResourceExhausted', `${subject} uncompresses to more than ${limit} bytes, the bound on a layer held in memory (maxMemoryBytes)`, {
        subject: descriptor.digest,
        hint: 'open the image with a disk cache (--cache DIR, or the cache option) so whole layers stream to disk, or raise maxMemoryBytes',
      });
    }
    chunks.push(chunk);
  }, signal);
  if (diffHash !== undefined) {
    const algorithm = options.diffId!.slice(0, options.diffId!.indexOf(':'));
    const actual = `${algorithm}:${diffHash.digest('hex')}`;
    if (actual !== options.diffId) {
      throw dataLoss(`uncompressed ${subject} (diff_id) does not match its digest: expected ${options.diffId}, got ${actual}`, {
        subject: `uncompressed ${subject} (diff_id)`,
        hint: 'the content is corrupt or was altered; fetch or copy the image again',
      });
    }
  }
  const entries = collector.finish();
  return new WholeLayer(descriptor, entries, new ChunkListSource(chunks));
}

function defaultFallback(cache: BlobCache): number {
  return cache instanceof DiskCache || cache instanceof TieredCache ? 0 : Number.MAX_SAFE_INTEGER;
}

async function openThroughCache(
  source: ImageSource, descriptor: Descriptor, compression: LayerCompression, cache: BlobCache, options: WholeLayerOptions,
): Promise<LayerContent> {
  const subject = `layer ${descriptor.digest}`;
  const signal = options.signal === undefined ? {} : { signal: options.signal };
  const fallbackMaxBytes = options.fallbackMaxBytes ?? defaultFallback(cache);
  const tarKey = layerTarKey(descriptor.digest);
  let data = await cache.get(tarKey, signal);
  let collected: EntryCollector | undefined;
  if (data === undefined) {
    const tarOptions = { ...(options.diffId === undefined ? {} : { expectedDigest: options.diffId }), fallbackMaxBytes, ...signal };
    const blob = await cache.get(descriptor.digest, signal);
    if (blob !== undefined) {
      // The blob is cached (verified when it was written): decompress it from there.
      try {
        data = await getOrFetch(cache, tarKey, async (writer, fetchSignal) => {
          const collector = new EntryCollector(descriptor);
          await decompressStream(blob, compression, async (chunk) => {
            await writer.write(chunk);
            collector.push(chunk);
          }, { subject, signal: fetchSignal });
          collected = collector;
        }, tarOptions);
      } finally {
        await blob.close?.();
      }
    } else {
      // One pass: download, store the blob, decompress into the tar entry, parse. The blob is
      // committed (verifying its digest) once it decompressed cleanly, then the tar (verifying the
      // diff_id); on any failure the blob is deleted again (it may have been committed before the
      // tar failed or the tar's decompression failed), so a failure leaves nothing.
      try {
        data = await getOrFetch(cache, tarKey, async (writer, fetchSignal) => {
          const blobWriter = await cache.create(descriptor.digest, { expectedSize: descriptor.size });
          const collector = new EntryCollector(descriptor);
          await pullLayerOnePass(source, descriptor, compression, async (chunk) => {
            await writer.write(chunk);
            collector.push(chunk);
          }, { blobWriter, signal: fetchSignal });
          collected = collector;
        }, tarOptions);
      } catch (error) {
        await cache.delete(descriptor.digest).catch(() => {});
        throw error;
      }
    }
  }
  try {
    return new WholeLayer(descriptor, await entriesOf(data, descriptor, collected, options.signal), data);
  } catch (error) {
    await data.close?.();
    throw error;
  }
}

/** The entries gathered while the tar was written, or parsed again from the cached tar. */
async function entriesOf(data: ReadAtSource, descriptor: Descriptor, collected: EntryCollector | undefined, signal: AbortSignal | undefined): Promise<TarEntry[]> {
  if (collected !== undefined) return collected.finish();
  const collector = new EntryCollector(descriptor);
  await decompressStream(data, 'none', async (chunk) => collector.push(chunk), { subject: `layer ${descriptor.digest}`, ...(signal ? { signal } : {}) });
  return collector.finish();
}

/** A {@link LayerContent} read whole: its entries in memory, its tar in memory or in a cache. */
class WholeLayer implements LayerContent {
  readonly mode = 'whole' as const;
  constructor(
    readonly descriptor: Descriptor,
    private list: readonly TarEntry[] | undefined,
    readonly data: ReadAtSource,
  ) {}

  /**
   * The entries gathered while the layer was read, handed over once and then forgotten (the merge
   * needs them once; keeping every layer's table after it would cost memory for nothing). A later
   * call parses them again from the verified tar.
   */
  async entries(options?: ReadOptions): Promise<readonly TarEntry[]> {
    const list = this.list;
    this.list = undefined;
    return list ?? entriesOf(this.data, this.descriptor, undefined, options?.signal);
  }

  async close(): Promise<void> {
    await this.data.close?.();
  }
}
