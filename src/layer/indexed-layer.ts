/**
 * A layer served lazily through its seekable index: entries from the index, bytes from the
 * registry (or layout) one verified range at a time.
 * @module
 */
import { invalidArgument } from '../errors/image-fs-error.js';
import type { GzipSpanIndex } from '../gzip/checkpoint.js';
import { layerCompression } from '../image/media-types.js';
import type { Descriptor, ImageSource } from '../image/types.js';
import { checkIndexBounds } from '../layer-index/bounds.js';
import { openIndex, type LayerIndex } from '../layer-index/layer-index.js';
import type { ReadAtSource, ReadOptions } from '../source/read-at.js';
import type { TarEntry } from '../tar/entry.js';
import { notIndexableReason } from './build-index.js';
import type { LayerContent } from './types.js';
import type { BlobCache } from '../cache/types.js';
import { CompressedSpans, type CompressedSpansOptions, type SpanFetchStats } from './compressed-spans.js';
import { LazyLayerData } from './lazy-layer-data.js';
import { spanBounds } from './span-keys.js';

/** Options of {@link openIndexedLayer}. */
export interface IndexedLayerOptions extends ReadOptions, Omit<CompressedSpansOptions, 'memory'> {
  /**
   * The digest the index blob must have (from the descriptor it was found by). The index's own
   * sha256 trailer is always checked; this binds it to a stored descriptor too.
   */
  expectedIndexDigest?: string;
  /**
   * Where decoded spans are kept, so that many reads in one span fetch and inflate it once
   * (`openImage` passes a bounded MemoryCache). Default: none.
   */
  spanCache?: BlobCache;
  /**
   * Where verified compressed spans are kept in memory, so that no span is fetched twice while it
   * is held (`openImage` passes a bounded MemoryCache). Default: none. `store` (a `DiskCache`)
   * keeps them across processes.
   */
  compressedCache?: BlobCache;
}

/** A {@link LayerContent} served through an index, with the counters of its reader. */
export interface IndexedLayerContent extends LayerContent {
  readonly mode: 'lazy';
  /** The opened index. */
  readonly index: LayerIndex;
  /** Fetches made on the blob, bytes fetched and local hits so far. */
  readonly stats: SpanFetchStats;
  /** The layer's compressed spans (what the background download fills). */
  readonly spans: CompressedSpans;
}

/** Views a stored {@link LayerIndex} as what the span readers need (windows inflated on demand). */
export function spanIndexOf(index: LayerIndex): GzipSpanIndex {
  return {
    compressedSize: index.layer.compressedSize,
    uncompressedSize: index.layer.uncompressedSize,
    positions: index.checkpointPositions(),
    window: (i) => index.window(i),
    spanDigest: (i) => index.spanDigest(i),
  };
}

/**
 * Checks that an index belongs to `descriptor` and can serve verified reads: same layer digest
 * and size (`openIndex` checks those), the same compression family, and one span digest per
 * checkpoint starting at offset 0.
 *
 * @throws ImageError `InvalidArgument` when the index describes another layer or cannot verify reads;
 *   `DataLoss` when its bytes are corrupt or do not match `expectedIndexDigest`.
 */
export function openLayerIndex(descriptor: Descriptor, index: Uint8Array | LayerIndex, expectedIndexDigest?: string): LayerIndex {
  const opened = index instanceof Uint8Array
    ? openIndex(index, { expectedLayer: { digest: descriptor.digest, compressedSize: descriptor.size }, ...(expectedIndexDigest === undefined ? {} : { expectedDigest: expectedIndexDigest }) })
    : index;
  const subject = descriptor.digest;
  if (opened.layer.digest !== descriptor.digest || opened.layer.compressedSize !== descriptor.size) {
    throw invalidArgument(`the layer index describes layer ${opened.layer.digest} (${opened.layer.compressedSize} bytes), not ${descriptor.digest} (${descriptor.size} bytes)`, { subject, hint: 'use the index built for this layer, or rebuild it' });
  }
  if (layerCompression(opened.layer.mediaType) !== layerCompression(descriptor.mediaType)) {
    throw invalidArgument(`the layer index of ${subject} was built for media type ${opened.layer.mediaType}, not ${descriptor.mediaType}`, { subject, hint: 'rebuild the index' });
  }
  const positions = opened.checkpointPositions();
  if (positions.length === 0 || positions[0]!.uncompressedOffset !== 0 || opened.spanDigestCount !== positions.length) {
    throw invalidArgument(`the layer index of ${subject} has no verifiable spans (${positions.length} checkpoints, ${opened.spanDigestCount} span digests)`, { subject, hint: 'rebuild the index with imagefs index' });
  }
  // Bytes handed in directly have not been through the index store, which checks what it did not build.
  if (index instanceof Uint8Array) checkIndexBounds(opened);
  return opened;
}

/**
 * Opens a layer lazily through its index: `entries()` come from the index (no blob read), and
 * `data` reads the uncompressed tar span by span ({@link LazyLayerData}): each compressed span is
 * fetched once (one range request per run of missing spans, shared by concurrent readers), verified
 * against its digest in the index before a byte is returned, and kept in `compressedCache` and
 * `store` when given (a whole blob already in `store` is read instead of the network).
 *
 * The index must be bound to this exact layer: its recorded layer digest and size must match the
 * descriptor, and its own sha256 trailer (and `expectedIndexDigest` when given) must hold.
 *
 * @param source - where the blob comes from (a registry or a layout).
 * @param descriptor - the layer descriptor from the manifest.
 * @param index - the encoded index (from a store or {@link buildIndex}), or an opened one.
 * @throws ImageError `InvalidArgument` (zstd layer, index of another layer), `DataLoss` (corrupt
 *   index, index digest mismatch); whatever `source.openBlob` throws.
 *
 * @example
 * ```ts
 * const layer = await openIndexedLayer(source, descriptor, indexBytes);
 * const entry = (await layer.entries()).find((e) => e.path === 'etc/passwd')!;
 * const bytes = await layer.data.readAt(entry.dataOffset, entry.size);
 * ```
 */
export async function openIndexedLayer(source: ImageSource, descriptor: Descriptor, index: Uint8Array | LayerIndex, options: IndexedLayerOptions = {}): Promise<IndexedLayerContent> {
  const refused = notIndexableReason(descriptor);
  if (refused) throw refused;
  const opened = openLayerIndex(descriptor, index, options.expectedIndexDigest);
  const blob = await source.openBlob(descriptor, options);
  try {
    const index = spanIndexOf(opened);
    const bounds = spanBounds(index.positions, index.compressedSize, index.uncompressedSize);
    const spans = new CompressedSpans(blob, descriptor.digest, bounds, (i) => index.spanDigest(i), {
      ...(options.compressedCache === undefined ? {} : { memory: options.compressedCache }),
      ...(options.store === undefined ? {} : { store: options.store }),
      ...(options.priority === undefined ? {} : { priority: options.priority }),
      ...(options.readaheadMaxBytes === undefined ? {} : { readaheadMaxBytes: options.readaheadMaxBytes }),
      ...(options.onStoreError === undefined ? {} : { onStoreError: options.onStoreError }),
      ...(options.onForeground === undefined ? {} : { onForeground: options.onForeground }),
      ...(options.onCache === undefined ? {} : { onCache: options.onCache }),
    });
    const compression = layerCompression(descriptor.mediaType) === 'gzip' ? 'gzip' : 'none';
    if (compression === 'none') checkPlainIndex(index, blob.size);
    else if (blob.size !== index.compressedSize) throw new TypeError(`the blob has ${blob.size} bytes but the index expects ${index.compressedSize}`);
    const data = new LazyLayerData(spans, index, compression, options.spanCache);
    return new IndexedLayer(descriptor, opened, data, spans);
  } catch (error) {
    await blob.close?.();
    throw error;
  }
}

/** A plain tar's index must cut the blob into spans that are their own bytes. */
function checkPlainIndex(index: GzipSpanIndex, blobSize: number): void {
  if (index.compressedSize !== index.uncompressedSize || blobSize !== index.compressedSize) {
    throw new TypeError('an uncompressed layer index must have equal compressed, uncompressed and blob sizes');
  }
  if (index.positions.some((p) => p.compressedOffset !== p.uncompressedOffset || p.bitOffset !== 0)) {
    throw new TypeError('an uncompressed layer index must have checkpoints with equal offsets and bit offset 0');
  }
}

/** A {@link LayerContent} whose entries come from an index and whose bytes are read lazily. */
class IndexedLayer implements IndexedLayerContent {
  readonly mode = 'lazy' as const;
  constructor(
    readonly descriptor: Descriptor,
    readonly index: LayerIndex,
    readonly data: ReadAtSource,
    readonly spans: CompressedSpans,
  ) {}

  get stats(): SpanFetchStats {
    return this.spans.stats;
  }

  /**
   * Decodes the entries from the index on each call, keeping nothing: the merge needs them once,
   * and holding every layer's table after the merge would cost memory for nothing.
   */
  async entries(_options?: ReadOptions): Promise<readonly TarEntry[]> {
    return this.index.entries();
  }

  async close(): Promise<void> {
    await this.data.close?.();
  }
}
