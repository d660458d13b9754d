import type { LimitFunction } from 'p-limit';
import type { BlobCache } from '../cache/types.js';
import { DEFAULT_MIN_LAZY_LAYER_SIZE } from '../eligibility/rules.js';
import type { Descriptor, ImageSource, ResolvedImage } from '../image/types.js';
import { IndexStore } from '../index-store/index-store.js';
import type { LocalIndexCache } from '../index-store/local-index-cache.js';
import type { IndexRegistry } from '../index-store/registry-indexes.js';
import { isEstargzLayer, openEstargzLayer } from '../estargz/estargz-layer.js';
import { isZstdChunkedLayer, openZstdChunkedLayer } from '../zstd-chunked/zstd-chunked-layer.js';
import { buildIndex, notIndexableReason } from '../layer/build-index.js';
import { openIndexedLayer, type IndexedLayerOptions } from '../layer/indexed-layer.js';
import { openWholeLayer } from '../layer/whole-layer.js';
import type { LayerContent } from '../layer/types.js';
import type { ImageFsEventListener, LayerHow } from './events.js';
import { ImageError } from '../errors/image-fs-error.js';

/** How {@link openImage} serves layers. */
export interface LayerStrategyOptions {
  /**
   * `auto` (default): stream each layer through a seekable index when one can be had, otherwise
   * download it whole; `full`: download every layer whole (verified), never stream.
   */
  mode?: 'auto' | 'full';
  /**
   * What `auto` does with a gzip or plain tar layer that has no stored index (and is at least
   * `minLazyLayerSize`): `whole` (default) downloads it whole; `on-the-fly` builds its index from
   * one full read (event `how: 'indexed-now'`), keeps it in the local index cache, and then reads
   * the layer lazily.
   */
  indexing?: 'on-the-fly' | 'whole';
  /**
   * Layers without a stored index under this size (bytes) are pulled whole, whatever `indexing`
   * says. Default 10 MiB (as SOCI). A layer WITH a stored index is read lazily at any size.
   */
  minLazyLayerSize?: number;
  /** Where indexes are kept on this machine (looked up before the registry). Default: none. */
  indexCache?: LocalIndexCache;
  /** Look for indexes among the image's referrers in the registry (registry sources only). Default true. */
  registryIndexes?: boolean;
  /** A ready index store (replaces `indexCache` and `registryIndexes`). */
  indexStore?: IndexStore;
  /** Span (uncompressed bytes between checkpoints) of indexes built on the fly. Default 1 MiB (`DEFAULT_SPAN`). */
  span?: number;
  /**
   * Where lazily read layers keep decoded spans, so that many small reads in one span cost one
   * fetch. Default: a MemoryCache that `openImage` makes, bounded by GKE's memory reservation for
   * this machine, and closes with the image.
   */
  spanCache?: BlobCache;
  /**
   * Where verified compressed spans of lazily read layers are kept in memory, so that no span is
   * fetched twice while it is held. Default: a MemoryCache that `openImage` makes (bounded like
   * `spanCache`) and closes with the image.
   */
  compressedCache?: BlobCache;
  /**
   * Where layers read whole keep their blob and uncompressed tar (see `openWholeLayer`); `data`
   * then reads from it (from disk for a `DiskCache`). Default: none (tars held in memory).
   * A persistent cache (anything but a `NoCache`) also keeps the verified compressed spans of lazily
   * read layers (`blob-range/<layer>/<start>-<end>`) and their whole blobs, so another process
   * reading the same files fetches nothing again.
   */
  cache?: BlobCache;
  /**
   * Compressed bytes fetched ahead of a sequential reader (export, a read of every file) in one
   * request, per layer. Default 64 MiB with a persistent `cache`, else a quarter of the memory
   * cache's bound.
   */
  readaheadMaxBytes?: number;
  /**
   * Download every lazily read layer whole into `cache` in the background, at lower priority than
   * reads (see `BackgroundDownload`); reads then move to the local copy. Needs a persistent
   * `cache`. Progress comes as `progress` and `downloaded` events. Default false.
   */
  background?: boolean;
  /**
   * Without a persistent `cache`, a layer read whole is held in memory: its tar may take at most
   * this many bytes (`ResourceExhausted` past it). Default 1 GiB (see `openWholeLayer`).
   */
  wholeLayerMemoryBytes?: number;
  /**
   * Positions (0 = base) of layers to read whole whatever index exists, each with the reason the
   * layer events report. `openImage` sets it from the eligibility analysis.
   */
  wholeLayers?: ReadonlyMap<number, string>;
}

/** What lazily read layers of one image share: caches, the store, the foreground counter. */
export type LazyLayerOptions = Pick<IndexedLayerOptions, 'compressedCache' | 'store' | 'priority' | 'readaheadMaxBytes' | 'onStoreError' | 'onForeground' | 'onCache'>;

/** True when the source can list referrers and read verified blobs (a `RegistrySource`). */
function asIndexRegistry(source: ImageSource): IndexRegistry | undefined {
  const s = source as Partial<IndexRegistry>;
  return typeof s.getReferrers === 'function' && typeof s.readBlobVerified === 'function' && typeof s.fetchManifest === 'function'
    ? (source as unknown as IndexRegistry)
    : undefined;
}

/**
 * The index store {@link openLayers} looks indexes up in: `options.indexStore`, else one over
 * `options.indexCache` and (unless `registryIndexes: false`) the registry `source`, reporting SOCI
 * indexes and ignored indexes as events. `openImage` asks it for the image's startup profile too.
 */
export function layerIndexStore(source: ImageSource, options: Pick<LayerStrategyOptions, 'indexStore' | 'indexCache' | 'registryIndexes'>, emit: ImageFsEventListener): IndexStore {
  if (options.indexStore !== undefined) return options.indexStore;
  const registry = options.registryIndexes === false ? undefined : asIndexRegistry(source);
  return new IndexStore({
    ...(options.indexCache === undefined ? {} : { cache: options.indexCache }),
    ...(registry === undefined ? {} : { registry }),
    onSociIndex: (imageDigest, soci) => emit({ type: 'soci-index', reference: source.reference, imageDigest, digest: soci.digest }),
    onOutdatedIndex: (digest, error) => emit({ type: 'index-ignored', digest, why: `${(error as Error).message}; run \`imagefs index REF --push\` to store a current one` }),
    onIgnoredIndex: (digest, why) => emit({ type: 'index-ignored', digest, why }),
  });
}

/**
 * Makes every layer of `image` readable, in parallel under `limit`, base first: lazily through a
 * stored index (local cache, then registry referrers), or through an index built now from a full
 * read (`indexing: 'on-the-fly'`), or whole. Emits one `layer` event per layer saying which. On
 * failure the layers already opened are closed before the error is rethrown.
 */
export async function openLayers(
  source: ImageSource,
  image: ResolvedImage,
  options: LayerStrategyOptions & { signal?: AbortSignal },
  limit: LimitFunction,
  emit: ImageFsEventListener,
  lazy: LazyLayerOptions = {},
): Promise<LayerContent[]> {
  const auto = (options.mode ?? 'auto') === 'auto';
  const store = layerIndexStore(source, options, emit);
  const minLazy = options.minLazyLayerSize ?? DEFAULT_MIN_LAZY_LAYER_SIZE;
  const signal = options.signal === undefined ? {} : { signal: options.signal };
  const spanCache = { ...lazy, ...(options.spanCache === undefined ? {} : { spanCache: options.spanCache }) };

  type Opened = { layer: LayerContent; how: LayerHow; why?: string };
  const openOne = async (descriptor: Descriptor, position: number): Promise<Opened> => {
    const diffId = image.config.rootfs.diff_ids[position];
    const whole = async (why: string): Promise<Opened> =>
      ({ layer: await openWholeLayer(source, descriptor, { ...(diffId === undefined ? {} : { diffId }), ...(options.cache === undefined ? {} : { cache: options.cache }), ...(options.wholeLayerMemoryBytes === undefined ? {} : { maxMemoryBytes: options.wholeLayerMemoryBytes }), ...signal }), how: 'whole', why });
    if (!auto) return whole("mode 'full' pulls every layer whole");
    const ineligible = options.wholeLayers?.get(position);
    if (ineligible !== undefined) return whole(ineligible);
    // Layers with their own verified table of contents. One imagefs cannot read that way (an
    // InvalidArgument: a chunk kind it does not know, a TOC version) is pulled whole instead; a
    // TOC that fails its digest (DataLoss) is an error, never a fallback.
    const ownToc = async (open: () => Promise<LayerContent>, how: LayerHow): Promise<Opened> => {
      try {
        return { layer: await open(), how };
      } catch (error) {
        if (error instanceof ImageError && error.code === 'InvalidArgument') return whole(`its ${how} table of contents cannot be used: ${error.message}`);
        throw error;
      }
    };
    if (isZstdChunkedLayer(descriptor) && (descriptor.urls?.length ?? 0) === 0) return ownToc(() => openZstdChunkedLayer(source, descriptor, signal), 'zstd-chunked');
    const refused = notIndexableReason(descriptor);
    if (refused !== undefined) return whole(refused.message);
    if ((descriptor.urls?.length ?? 0) > 0) return whole('a non-distributable layer is fetched whole from its URL');
    if (isEstargzLayer(descriptor)) return ownToc(() => openEstargzLayer(source, descriptor, signal), 'estargz');
    const found = await store.find(image, descriptor, signal);
    if (found !== undefined) return { layer: await openIndexedLayer(source, descriptor, found.index, { ...signal, ...spanCache }), how: 'index' };
    if (descriptor.size < minLazy) return whole(`no stored index, and the layer is under ${minLazy} bytes: an index would not pay`);
    if (options.indexing !== 'on-the-fly') return whole("no stored index (run 'imagefs index --push REF' once, or open with indexing: 'on-the-fly')");
    const blob = await source.openBlob(descriptor, signal);
    let built;
    try {
      built = await buildIndex(blob, descriptor, { ...(options.span === undefined ? {} : { span: options.span }), ...(diffId === undefined ? {} : { diffId }), ...signal });
    } finally {
      await blob.close?.();
    }
    await store.save(descriptor, built.bytes, signal);
    return { layer: await openIndexedLayer(source, descriptor, built.index, { ...signal, ...spanCache }), how: 'indexed-now' };
  };

  const settled = await Promise.allSettled(
    image.layers.map((descriptor, position) =>
      limit(async () => {
        const started = performance.now();
        const { layer, how, why } = await openOne(descriptor, position);
        emit({ type: 'layer', digest: descriptor.digest, position, mode: layer.mode, how, ms: performance.now() - started, ...(why === undefined ? {} : { why }) });
        return layer;
      }),
    ),
  );
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.allSettled(settled.map((s) => (s.status === 'fulfilled' ? s.value.close() : undefined)));
    throw failed.reason;
  }
  return settled.map((s) => (s as PromiseFulfilledResult<LayerContent>).value);
}
