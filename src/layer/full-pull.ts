import pLimit from 'p-limit';
import type { BlobCache } from '../cache/types.js';
import { validateResolvedImage } from '../eligibility/validate-image.js';
import type { ImageSource, ResolvedImage } from '../image/types.js';
import type { LayerContent } from './types.js';
import { openWholeLayer } from './whole-layer.js';

/** Options of {@link pullImage}. */
export interface PullImageOptions {
  /**
   * Where blobs and uncompressed tars go (see {@link openWholeLayer}); a later pull that finds the
   * tars in the cache downloads nothing. Default: none (tars held in memory).
   */
  cache?: BlobCache;
  /** Most layers downloaded at once. Default 4. */
  concurrency?: number;
  /** Cancels the pull; layers already opened are closed. */
  signal?: AbortSignal;
  /** Called as each layer is ready, with its position (0 = base) and the time it took in ms. */
  onLayer?: (layer: LayerContent, position: number, ms: number) => void;
}

/**
 * The full pull: downloads every layer of a resolved image whole, in parallel (bounded by
 * `concurrency`), each in one pass (streamed, stored, decompressed and hashed at once; see
 * {@link openWholeLayer}) and verified against its digest and its diff_id before anything is
 * committed or served, through the cache when there is one. The image is validated first
 * (one diff_id per layer, known digest algorithms). On any failure the layers already opened are
 * closed and the first error is thrown; a mismatch leaves nothing in the cache.
 *
 * @param source - where the blobs are (registry or layout).
 * @param image - the image `source.resolve()` gave.
 * @param options - cache, concurrency, signal, per-layer callback.
 * @returns the layers, base first, each `mode: 'whole'`.
 * @example
 * ```ts
 * const cache = await DiskCache.open('/var/cache/imagefs');
 * const layers = await pullImage(source, await source.resolve(), { cache, concurrency: 4 });
 * ```
 */
export async function pullImage(source: ImageSource, image: ResolvedImage, options: PullImageOptions = {}): Promise<LayerContent[]> {
  validateResolvedImage(image);
  const concurrency = options.concurrency ?? 4;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new TypeError(`pullImage option 'concurrency' must be an integer >= 1 (got ${String(concurrency)})`);
  const limit = pLimit(concurrency);
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  try {
    const settled = await Promise.allSettled(image.layers.map((descriptor, position) => limit(async () => {
      const started = performance.now();
      const diffId = image.config.rootfs.diff_ids[position];
      try {
        const layer = await openWholeLayer(source, descriptor, {
          ...(diffId === undefined ? {} : { diffId }),
          ...(options.cache === undefined ? {} : { cache: options.cache }),
          signal: controller.signal,
        });
        options.onLayer?.(layer, position, performance.now() - started);
        return layer;
      } catch (error) {
        controller.abort(error); // stop the other downloads: one failure fails the pull
        throw error;
      }
    })));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed !== undefined) {
      await Promise.allSettled(settled.map((s) => (s.status === 'fulfilled' ? s.value.close() : undefined)));
      // Report the real failure, not the aborts it caused in the other layers.
      const first = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected' && (s.reason as { code?: string })?.code !== 'Aborted');
      throw (first ?? failed).reason;
    }
    return settled.map((s) => (s as PromiseFulfilledResult<LayerContent>).value);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}
