import type { EligibilityReason } from '../eligibility/report.js';

/**
 * What imagefs did while opening an image, so that nothing happens silently: which path each
 * image and layer took, and why. Mirrors the events GKE users look for (`Pulling`, `Pulled`,
 * `ImageStreaming`).
 */
export type ImageFsEvent =
  /** Resolving the reference started. */
  | { type: 'pulling'; reference: string }
  /** The image is served: `streaming` when at least one layer is lazy. `ms` since `pulling`. */
  | { type: 'pulled'; reference: string; digest: string; ms: number; streaming: boolean }
  /**
   * One layer is ready, lazily (through an index) or whole (downloaded and verified); `why` says
   * why a layer was pulled whole.
   */
  | { type: 'layer'; digest: string; position: number; mode: 'lazy' | 'whole'; how: LayerHow; ms: number; why?: string }
  /** Some or all of the image is not streamed; the reasons say why and what to do. */
  | { type: 'fallback'; reference: string; reasons: EligibilityReason[] }
  /**
   * A SOCI index (artifact type `application/vnd.amazon.soci.index.v1+json`) refers to the image.
   * imagefs reports it but reads its own index format (or builds one).
   */
  | { type: 'soci-index'; reference: string; imageDigest: string; digest: string }
  /**
   * A stored layer index was not used (for instance one written in an older format version); the
   * layer is served as if there were none (built on the fly or pulled whole). `why` says what was wrong.
   */
  | { type: 'index-ignored'; digest: string; why: string }
  /** The background download advanced: `bytes` of `total` compressed bytes are local (`fetched` by it from the network). */
  | { type: 'progress'; reference: string; bytes: number; total: number; fetched: number }
  /** The background download finished: every lazily read layer is in the cache, verified. `ms` since it started. */
  | { type: 'downloaded'; reference: string; digest: string; bytes: number; fetched: number; ms: number }
  /** The cache could not keep something (full disk, read-only directory) or a background download stopped; reads go on from the network. */
  | { type: 'cache-warning'; reference: string; message: string };

/** How a layer was made readable. */
export type LayerHow =
  /** Indexed lazily through an index found in the registry or the local cache. */
  | 'index'
  /** An index was built on the fly from a full read (then used for random access). */
  | 'indexed-now'
  /** Read lazily through the layer's own eStargz TOC (verified against its toc.digest annotation). */
  | 'estargz'
  /** Read lazily through the layer's own zstd:chunked TOC (verified against its manifest-checksum annotation). */
  | 'zstd-chunked'
  /** Downloaded whole and verified (a small layer, an ineligible image, `mode: 'full'`). */
  | 'whole';

/** Receives {@link ImageFsEvent}s. Must not throw. */
export type ImageFsEventListener = (event: ImageFsEvent) => void;
