import pLimit from 'p-limit';
import { MemoryCache } from '../cache/memory-cache.js';
import { throwIfAborted } from '../errors/image-fs-error.js';
import { planLayerModes } from '../eligibility/open-plan.js';
import { validateResolvedImage } from '../eligibility/validate-image.js';
import { ImageFs, type ImageFsOptions } from '../fs/image-fs.js';
import { ImageTree } from '../overlay/image-tree.js';
import { mergeLayers } from '../overlay/merge.js';
import type { ImageSource, Platform, ResolvedImage } from '../image/types.js';
import type { LayerContent } from '../layer/types.js';
import type { RegistryClientOptions } from '../registry/options.js';
import type { ImageFsEventListener } from './events.js';
import { openLayers, type LayerStrategyOptions } from './open-layers.js';
import { openSource } from './open-source.js';

/** Options of {@link openImage}. Sizes are in bytes, times in milliseconds. */
export interface OpenImageOptions extends RegistryClientOptions, LayerStrategyOptions, Pick<ImageFsOptions, 'strict' | 'onWarning'> {
  /** The platform to pick from a multi-platform image. Default: the host's. */
  platform?: Platform;
  /** Cancels opening (resolving, downloading, merging). */
  signal?: AbortSignal;
  /** Receives what happened (pulling, each layer's path, fallbacks, pulled). */
  onImageEvent?: ImageFsEventListener;
  /** The image, when the caller has resolved the source already (saves fetching the manifest again). */
  resolved?: ResolvedImage;
  /** Most layers opened at once. Default 4. */
  layerConcurrency?: number;
}

/**
 * Opens an image as a read-only {@link ImageFs}: resolves the reference, makes every layer
 * readable (lazily through a seekable index where there is one, whole and verified otherwise)
 * and merges them as containerd would unpack them.
 *
 * @param ref - `oci:DIR[:TAG]`, a registry reference, or an {@link ImageSource} (then owned:
 *   closing the ImageFs closes it)
 * @example
 * ```ts
 * const fs = await openImage('oci:./layout:latest');
 * console.log(await fs.readFile('/etc/os-release', 'utf8'));
 * await fs.close();
 * ```
 */
export async function openImage(ref: string | ImageSource, options: OpenImageOptions = {}): Promise<ImageFs> {
  const source = typeof ref === 'string' ? openSource(ref, registryOptionsOf(options)) : ref;
  const started = performance.now();
  const emit = options.onImageEvent ?? (() => {});
  let layers: LayerContent[] = [];
  let spanCache: MemoryCache | undefined; // made here, so closed with the image
  try {
    emit({ type: 'pulling', reference: source.reference });
    const resolved = options.resolved ?? (await source.resolve({ platform: options.platform, signal: options.signal }));
    validateResolvedImage(resolved); // one diff_id per layer, known digest algorithms (InvalidArgument naming the descriptor)
    // auto: the eligibility analysis decides which layers must be whole and says why (never silent).
    const plan = (options.mode ?? 'auto') === 'auto'
      ? await planLayerModes(source, resolved, {
        ...registryOptionsOf(options),
        ...(options.minLazyLayerSize === undefined ? {} : { minLazyLayerSize: options.minLazyLayerSize }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        onFallback: (reasons) => emit({ type: 'fallback', reference: source.reference, reasons }),
      })
      : undefined;
    spanCache = options.spanCache === undefined ? new MemoryCache() : undefined;
    const withSpans = spanCache === undefined ? options : { ...options, spanCache };
    const layerOptions = plan === undefined || plan.whole.size === 0 ? withSpans : { ...withSpans, wholeLayers: plan.whole };
    layers = await openLayers(source, resolved, layerOptions, pLimit(options.layerConcurrency ?? 4), emit);
    throwIfAborted(options.signal);
    const tree = await mergeLayers(layers, { signal: options.signal, strict: options.strict, onWarning: options.onWarning });
    const fs = new ImageFs(new ImageTree(tree, layers.map((l) => l.data)), { dev: devOf(resolved), closers: [...layers, source, ...(spanCache ? [spanCache] : [])] });
    emit({ type: 'pulled', reference: source.reference, digest: resolved.digest, ms: performance.now() - started, streaming: layers.some((l) => l.mode === 'lazy') });
    return fs;
  } catch (error) {
    await Promise.allSettled([...layers.map((l) => l.close()), source.close(), spanCache?.close()]);
    throw error;
  }
}

/** The options of openImage that are not the registry client's (the client rejects unknown ones). */
const OPEN_IMAGE_ONLY = new Set<string>([
  'platform', 'signal', 'onImageEvent', 'resolved', 'layerConcurrency', 'strict', 'onWarning',
  'mode', 'indexing', 'minLazyLayerSize', 'indexCache', 'registryIndexes', 'indexStore', 'span',
  'cache', 'wholeLayers', 'spanCache',
]);

/** The registry client options among `options`. */
function registryOptionsOf(options: OpenImageOptions): RegistryClientOptions {
  return Object.fromEntries(Object.entries(options).filter(([key]) => !OPEN_IMAGE_ONLY.has(key))) as RegistryClientOptions;
}

/** A stable device number for an image: from its manifest digest. */
function devOf(image: ResolvedImage): number {
  return parseInt(image.digest.slice(-8), 16) >>> 0 || 1;
}
