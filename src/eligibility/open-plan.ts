import type { ImageSource, ResolvedImage } from '../image/types.js';
import type { RegistryClientOptions } from '../registry/options.js';
import type { EligibilityReason, EligibilityReport } from './report.js';
import { isRegistrySource, probeRangeSupport, probeTarget } from './range-probe.js';
import { applyEligibilityRules, type EligibilityFacts } from './rules.js';
import { validateResolvedImage } from './validate-image.js';
import { hasZstdChunkedAnnotation } from './zstd-seekable.js';

/** Options of {@link planLayerModes}. */
export interface LayerPlanOptions extends RegistryClientOptions {
  /** Layers under this size (bytes) are pulled whole. Default 10 MiB. */
  minLazyLayerSize?: number;
  /** Cancels the probe. */
  signal?: AbortSignal;
  /** Receives the `fallback` event (the reasons) when some of the image is not streamed. */
  onFallback?: (reasons: EligibilityReason[]) => void;
}

/** What {@link planLayerModes} decided. */
export interface LayerModes {
  /** The eligibility report the plan came from. */
  report: EligibilityReport;
  /**
   * Positions (0 = base) that must be pulled whole whatever index exists, each with the reason
   * (`CODE: message`): every layer when the
   * registry ignores Range or the manifest is schema 1, else the layers with a reason other than `SMALL_LAYER` (a small layer
   * with a stored index may still be read lazily).
   */
  whole: Map<number, string>;
}

/**
 * The eligibility analysis as `openImage` runs it in `auto` mode: cheap (the manifest and config
 * are already resolved; at most one 1-byte Range probe per registry, whose failure only means
 * "unknown"; zstd layers count as seekable only by their annotations), and never silent: when any
 * reason applies, `onFallback` receives them all before any layer is opened.
 *
 * @param source - the image's source.
 * @param image - the resolved image (validated here: `InvalidArgument` naming the descriptor).
 * @param options - the registry client options (for the probe), the threshold, a signal.
 * @example
 * ```ts
 * const { whole } = await planLayerModes(source, image, { onFallback: (r) => console.warn(r) });
 * ```
 */
export async function planLayerModes(source: ImageSource, image: ResolvedImage, options: LayerPlanOptions = {}): Promise<LayerModes> {
  validateResolvedImage(image);
  const facts: EligibilityFacts = {
    manifestMediaType: image.mediaType,
    layers: image.layers,
    seekableZstd: new Set(image.layers.filter(hasZstdChunkedAnnotation).map((l) => l.digest)),
  };
  if (options.minLazyLayerSize !== undefined) facts.minLazyLayerSize = options.minLazyLayerSize;
  const target = probeTarget(image.layers);
  if (target !== undefined && isRegistrySource(source)) {
    const { onFallback: _ignored, minLazyLayerSize: _min, ...probeOptions } = options;
    try {
      facts.rangeSupported = await probeRangeSupport(source.reference, target, probeOptions);
    } catch (error) {
      if (options.signal?.aborted) throw error;
      // Unknown: the layers' own reads will tell (and fail with their own clear errors).
    }
  }
  const report = applyEligibilityRules(facts);
  const whole = new Map<number, string>();
  const mark = (position: number, r: { code: string; message: string }): void => {
    if (!whole.has(position)) whole.set(position, `${r.code}: ${r.message}`);
  };
  for (const r of report.reasons) {
    if (r.position !== undefined && r.code !== 'SMALL_LAYER') mark(r.position, r);
    // Image-level reasons (schema 1, a registry without ranges): every layer whole, whatever index exists.
    if (r.code === 'SCHEMA1_MANIFEST' || r.code === 'RANGE_UNSUPPORTED') image.layers.forEach((_, position) => mark(position, r));
  }
  if (report.reasons.length > 0) options.onFallback?.(report.reasons);
  return { report, whole };
}
