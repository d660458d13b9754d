/**
 * Building a layer's seekable index in one streaming pass over its blob.
 * @module
 */
import { createHash, type Hash } from 'node:crypto';
import { dataLoss, ImageError, invalidArgument, throwIfAborted } from '../errors/image-fs-error.js';
import { HashOffload } from '../gzip/hash-offload.js';
import { DEFAULT_SPAN, GzipIndexBuilder } from '../gzip/index-builder.js';
import { isEncryptedLayer, layerCompression } from '../image/media-types.js';
import type { Descriptor } from '../image/types.js';
import type { Checkpoint } from '../layer-index/checkpoint.js';
import { encodeIndex } from '../layer-index/encode.js';
import { openIndex, type LayerIndex } from '../layer-index/layer-index.js';
import type { ReadAtSource } from '../source/read-at.js';
import type { TarEntry } from '../tar/entry.js';
import { TarStreamParser } from '../tar/parser.js';

/** Default size of each sequential read of the blob while indexing: 4 MiB. */
export const DEFAULT_INDEX_READ_SIZE = 4 * 1024 * 1024;

/** Options of {@link buildIndex}. */
export interface BuildIndexOptions {
  /** Target uncompressed bytes between checkpoints (and span digests). Default 1 MiB (`DEFAULT_SPAN`). */
  span?: number;
  /** The layer's diff_id (sha256 of the uncompressed tar); verified at the end when given. */
  diffId?: string;
  /** Bytes per sequential `readAt` of the blob. Default {@link DEFAULT_INDEX_READ_SIZE}. */
  readSize?: number;
  /**
   * Compute the sha256 digests (layer digest, span digests, diff_id) of a gzip layer on a worker
   * thread while this thread inflates (the bytes are copied to it). Default false: on the 2-core
   * machine it was measured on, the copy and the competition for cores cost about what the
   * hashing saved (docs/inflater.md); worth trying where spare cores exist.
   */
  hashOnWorker?: boolean;
  /** Cancels the build. */
  signal?: AbortSignal;
}

/** What a build measured. */
export interface BuildIndexStats {
  /** Size of the layer blob in bytes. */
  compressedSize: number;
  /** Size of the uncompressed tar in bytes. */
  uncompressedSize: number;
  /** Tar entries recorded. */
  entries: number;
  /** Checkpoints (span starts) recorded. */
  checkpoints: number;
  /** Size of the encoded index in bytes. */
  indexSize: number;
  /** `indexSize / compressedSize`. */
  ratio: number;
  /** Wall time of the build, in milliseconds. */
  ms: number;
  /** `readAt` calls made on the blob. */
  reads: number;
}

/** What {@link buildIndex} returns. */
export interface BuiltLayerIndex {
  /** The encoded index (docs/index-format.md); its sha256 is its digest when stored. */
  bytes: Uint8Array;
  /** The same index, opened. */
  index: LayerIndex;
  /** Counters of the build. */
  stats: BuildIndexStats;
}

/**
 * The error for a layer whose compression cannot be indexed (zstd), or that imagefs cannot
 * read at all (encrypted, unknown); `undefined` for gzip and plain tar layers.
 */
export function notIndexableReason(descriptor: Descriptor): ImageError | undefined {
  const compression = layerCompression(descriptor.mediaType);
  const subject = descriptor.digest;
  if (compression === 'zstd') {
    return invalidArgument(`layer ${subject} is zstd, which is not seekable without a table of contents; it can only be read whole`, {
      subject, hint: 'recompress the image with gzip (or zstd:chunked) to stream it; imagefs reads zstd layers whole',
    });
  }
  if (compression === undefined) {
    return invalidArgument(`layer ${subject} has media type '${descriptor.mediaType}', which imagefs cannot index`, {
      subject, hint: isEncryptedLayer(descriptor.mediaType) ? 'decrypt the image first' : 'only tar and tar+gzip layers can be indexed',
    });
  }
  return undefined;
}

/**
 * Reads a blob front to back in `readSize` chunks with one read ahead, so that fetching the next
 * chunk overlaps processing the current one.
 */
async function* sequentialChunks(source: ReadAtSource, readSize: number, signal: AbortSignal | undefined, counter: { reads: number }): AsyncGenerator<Uint8Array> {
  const read = (at: number): Promise<Uint8Array> | undefined => {
    if (at >= source.size) return undefined;
    counter.reads++;
    const p = source.readAt(at, Math.min(readSize, source.size - at), { signal });
    p.catch(() => {}); // observed when awaited; avoid an unhandled rejection if the consumer stops early
    return p;
  };
  let next = read(0);
  for (let at = 0; next !== undefined; at += readSize) {
    const chunk = await next;
    next = read(at + readSize);
    yield chunk;
  }
}

/**
 * Builds the seekable index of one layer in one streaming pass over its blob: gzip layers (any
 * number of members) go through {@link GzipIndexBuilder} (checkpoints about every `span`
 * uncompressed bytes at deflate block boundaries, span digests) into the tar parser; plain tar
 * layers go straight into the tar parser, with a checkpoint and a span digest every `span` bytes
 * so that lazy reads of them are verified too. The layer digest (and `diffId` when given) is
 * verified at the end: nothing is returned for a blob that does not match its descriptor.
 *
 * @param layerSource - the layer blob (for instance `source.openBlob(descriptor)`); read sequentially.
 * @param descriptor - the layer's descriptor (digest, size, media type).
 * @throws ImageError `InvalidArgument` for zstd (not seekable), encrypted or unknown layers;
 *   `DataLoss` for a digest or diff_id mismatch, a size mismatch, corrupt gzip or tar.
 *
 * @example
 * ```ts
 * const blob = await source.openBlob(layer);
 * const { bytes, index, stats } = await buildIndex(blob, layer, { diffId: image.config.rootfs.diff_ids[0] });
 * console.log(stats.entries, stats.checkpoints, bytes.length);
 * ```
 */
export async function buildIndex(layerSource: ReadAtSource, descriptor: Descriptor, options: BuildIndexOptions = {}): Promise<BuiltLayerIndex> {
  const started = performance.now();
  const span = options.span ?? DEFAULT_SPAN;
  const readSize = options.readSize ?? DEFAULT_INDEX_READ_SIZE;
  if (!Number.isSafeInteger(span) || span < 1) throw new TypeError(`options.span must be a positive integer (bytes), got ${span}`);
  if (!Number.isSafeInteger(readSize) || readSize < 1) throw new TypeError(`options.readSize must be a positive integer (bytes), got ${readSize}`);
  const refused = notIndexableReason(descriptor);
  if (refused) throw refused;
  throwIfAborted(options.signal);
  const subject = `layer ${descriptor.digest}`;
  if (layerSource.size !== descriptor.size) {
    throw dataLoss(`${subject} has ${layerSource.size} bytes, its descriptor says ${descriptor.size}`, { subject: descriptor.digest, hint: 'the registry or layout serves another blob; push the image again' });
  }
  const entries: TarEntry[] = [];
  const tar = new TarStreamParser((e) => entries.push(e), { subject: descriptor.digest });
  const diffHash = options.diffId === undefined ? undefined : createHash('sha256');
  const counter = { reads: 0 };
  const chunks = sequentialChunks(layerSource, readSize, options.signal, counter);
  let checkpoints: Checkpoint[];
  let spanDigests: Uint8Array[];
  let uncompressedSize: number;
  let offloadedDiffId: string | undefined;
  try {
    if (layerCompression(descriptor.mediaType) === 'gzip') {
      const offload = options.hashOnWorker === true ? new HashOffload({ diffId: diffHash !== undefined }) : undefined;
      try {
        const builder = new GzipIndexBuilder({
          span, subject: descriptor.digest, reuseOutput: true,
          ...(offload === undefined ? { expectedDigest: descriptor.digest } : { hashSink: offload }),
          onOutput: offload === undefined || diffHash === undefined
            ? (chunk) => { diffHash?.update(chunk); tar.push(chunk); }
            : (chunk) => { offload.output(chunk); tar.push(chunk); },
        });
        for await (const chunk of chunks) {
          throwIfAborted(options.signal);
          builder.push(chunk);
          if (offload !== undefined) await offload.drain();
        }
        const gz = builder.finish();
        checkpoints = gz.checkpoints;
        uncompressedSize = gz.uncompressedSize;
        spanDigests = gz.spanDigests;
        if (offload !== undefined) {
          const hashed = await offload.finish();
          if (hashed.digest !== descriptor.digest) {
            throw dataLoss(`gzip blob ${descriptor.digest} is unreadable: the blob's digest is ${hashed.digest}, not ${descriptor.digest}`, {
              subject: descriptor.digest, hint: 'fetch the layer again; if it persists, the blob in the registry is corrupt',
            });
          }
          if (hashed.spanDigests.length !== checkpoints.length) throw new Error(`internal: ${hashed.spanDigests.length} span digests for ${checkpoints.length} checkpoints`);
          spanDigests = hashed.spanDigests;
          offloadedDiffId = hashed.diffId;
        }
      } finally {
        offload?.close();
      }
    } else {
      ({ checkpoints, spanDigests } = await plainSpans(chunks, span, descriptor, tar, diffHash, options.signal));
      uncompressedSize = descriptor.size;
    }
    tar.end();
  } catch (error) {
    if (error instanceof ImageError && error.subject === undefined) {
      throw new ImageError(error.code, `${subject}: ${error.message}`, { subject: descriptor.digest, cause: error, hint: error.hint });
    }
    throw error;
  } finally {
    await chunks.return(undefined);
  }
  if (diffHash !== undefined && (offloadedDiffId ?? `sha256:${diffHash.digest('hex')}`) !== options.diffId) {
    throw dataLoss(`uncompressed ${subject} does not match its diff_id ${options.diffId}`, { subject: descriptor.digest, hint: 'the image config and the layer disagree; rebuild or push the image again' });
  }
  const bytes = encodeIndex({
    layer: { digest: descriptor.digest, mediaType: descriptor.mediaType, compressedSize: descriptor.size, uncompressedSize },
    entries, checkpoints, spanDigests,
  });
  const index = openIndex(bytes);
  return {
    bytes,
    index,
    stats: {
      compressedSize: descriptor.size, uncompressedSize, entries: entries.length, checkpoints: checkpoints.length,
      indexSize: bytes.length, ratio: descriptor.size === 0 ? 0 : bytes.length / descriptor.size,
      ms: performance.now() - started, reads: counter.reads,
    },
  };
}

/** The plain-tar pass: feeds the tar parser and cuts the blob into `span`-byte verified spans. */
async function plainSpans(
  chunks: AsyncIterable<Uint8Array>, span: number, descriptor: Descriptor, tar: TarStreamParser, diffHash: Hash | undefined, signal: AbortSignal | undefined,
): Promise<{ checkpoints: Checkpoint[]; spanDigests: Uint8Array[] }> {
  const whole = createHash('sha256');
  const checkpoints: Checkpoint[] = [];
  const spanDigests: Uint8Array[] = [];
  let spanHash = createHash('sha256');
  let offset = 0;
  for await (const chunk of chunks) {
    throwIfAborted(signal);
    whole.update(chunk);
    diffHash?.update(chunk);
    tar.push(chunk);
    for (let at = 0; at < chunk.length;) {
      if (offset % span === 0) {
        if (offset > 0) spanDigests.push(new Uint8Array(spanHash.digest()));
        spanHash = createHash('sha256');
        checkpoints.push({ compressedOffset: offset, bitOffset: 0, uncompressedOffset: offset });
      }
      const n = Math.min(chunk.length - at, span - (offset % span));
      spanHash.update(chunk.subarray(at, at + n));
      at += n;
      offset += n;
    }
  }
  if (checkpoints.length > 0) spanDigests.push(new Uint8Array(spanHash.digest()));
  const digest = `sha256:${whole.digest('hex')}`;
  if (digest !== descriptor.digest) {
    throw dataLoss(`layer ${descriptor.digest} is unreadable: the blob's digest is ${digest}`, { subject: descriptor.digest, hint: 'fetch the layer again; if it persists, the blob in the registry is corrupt' });
  }
  return { checkpoints, spanDigests };
}
