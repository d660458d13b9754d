import type { ImageSource, ResolvedImage } from '../image/types.js';
import type { RegistryClientOptions } from '../registry/options.js';
import { gatherFacts } from './analyze.js';
import type { EligibilityReason, EligibilityReport } from './report.js';
import { applyEligibilityRules } from './rules.js';

/** Options of {@link planLayerModes}. */
export interface LayerPlanOptions extends RegistryClientOptions {
  /** Layers under this size (bytes) are pulled whole. Default 10 MiB. */
  minLazyLayerSize?: number;
  /** Cancels the probe. */
  signal?: AbortSignal;
  /** Send the Range probe (default true; false when every layer is already local: ranges are then never asked of the registry). */
  probeRange?: boolean;
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
 * "unknown"; no reads of zstd layers: their annotations decide) — the same facts and rules as
 * {@link analyzeEligibility}, and never silent: when any
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
  const { onFallback, ...gather } = options;
  const facts = await gatherFacts(source, { ...gather, resolved: image, detectSeekableZstd: false, probeFailure: 'unknown' });
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
  if (report.reasons.length > 0) onFallback?.(report.reasons);
  return { report, whole };
}
