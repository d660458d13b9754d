/** The reason codes of an eligibility report (the contract's list). */
export type EligibilityReasonCode =
  | 'SCHEMA1_MANIFEST'
  | 'DUPLICATE_LAYER'
  | 'EMPTY_LAYER'
  | 'ENCRYPTED_LAYER'
  | 'NON_DISTRIBUTABLE_LAYER'
  | 'RANGE_UNSUPPORTED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'SMALL_LAYER'
  | 'NOT_SEEKABLE';

/** One reason why (part of) an image is not streamed lazily. */
export interface EligibilityReason {
  code: EligibilityReasonCode;
  /** What was found, in one sentence. */
  message: string;
  /** What to do about it, in one sentence. */
  fix: string;
  /** The layer's digest, when the reason is about one layer. */
  layer?: string;
  /** The layer's position in the manifest (0 = base), when about one layer. */
  position?: number;
  /** True when the reason only says how a layer is served; the image stays eligible. */
  informational: boolean;
}

/** How one layer will be served. */
export interface LayerPlan {
  digest: string;
  mediaType: string;
  /** Compressed size in bytes. */
  size: number;
  /** `lazy`: streamed through a seekable index; `whole`: downloaded whole and verified first. */
  mode: 'lazy' | 'whole';
}

/** The result of {@link analyzeEligibility}: the verdict, every reason with its fix, and a plan per layer. */
export interface EligibilityReport {
  eligible: boolean;
  reasons: EligibilityReason[];
  layers: LayerPlan[];
}

/** Reason codes that are only informational: the image stays eligible. */
export const INFORMATIONAL_REASONS: ReadonlySet<EligibilityReasonCode> = new Set(['SMALL_LAYER', 'NON_DISTRIBUTABLE_LAYER', 'NOT_SEEKABLE']);
