import type { LimitFunction } from 'p-limit';
import type { ImageSource, ResolvedImage } from '../image/types.js';
import { openWholeLayer } from '../layer/whole-layer.js';
import type { LayerContent } from '../layer/types.js';
import type { ImageFsEventListener } from './events.js';

/** How {@link openImage} serves layers. */
export interface LayerStrategyOptions {
  /**
   * `auto` (default): stream each layer through a seekable index when one can be had, otherwise
   * download it whole; `full`: download every layer whole (verified), never stream.
   */
  mode?: 'auto' | 'full';
}

/**
 * Makes every layer of `image` readable, in parallel under `limit`, base first. On failure the
 * layers already opened are closed before the error is rethrown.
 */
export async function openLayers(
  source: ImageSource,
  image: ResolvedImage,
  options: LayerStrategyOptions & { signal?: AbortSignal },
  limit: LimitFunction,
  emit: ImageFsEventListener,
): Promise<LayerContent[]> {
  const settled = await Promise.allSettled(
    image.layers.map((descriptor, position) =>
      limit(async () => {
        const started = performance.now();
        const layer = await openWholeLayer(source, descriptor, { diffId: image.config.rootfs.diff_ids[position], signal: options.signal });
        emit({ type: 'layer', digest: descriptor.digest, position, mode: 'whole', how: 'whole', ms: performance.now() - started });
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
