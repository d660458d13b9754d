import type { EligibilityReason } from '../eligibility/report.js';

/**
 * What imagefs did while opening an image, so that nothing happens silently: which path each
 * image and layer took, and why. Mirrors the events GKE users look for (`Pulling`, `Pulled`,
 * `ImageStreaming`).
 */
export type ImageFsEvent =
  /** Resolving the reference started. */
  | { type: 'pulling'; reference: string }
  /**
   * The image is streamed (GKE's `ImageStreaming`): `lazy` of its `layers` are read lazily, the
   * rest were downloaded whole. Sent just before `pulled`, only when at least one layer is lazy.
   */
  | { type: 'streaming'; reference: string; digest: string; lazy: number; layers: number }
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
  /**
   * A startup profile stored in the registry next to the image's indexes (`imagefs index --push
   * --profile`) orders the background download: its `spans` spans are fetched first, in its order.
   * Looked up only with `background: true`, a persistent cache that holds no profile of the image,
   * and registry indexes; after open, so it may come after `pulled`. `digest` is the profile
   * artifact manifest; `binding` what binds it to the image, as for indexes (SECURITY.md).
   */
  | { type: 'profile-used'; reference: string; imageDigest: string; digest: string; spans: number; binding: 'pinned' | 'repository' }
  /**
   * A startup profile stored in the registry was not used; the background download goes in layer
   * order and reads are unaffected. `code` is the typed error's: `FailedPrecondition` (among the
   * referrers of an image named by digest without a pin, or `registryTrust: 'pinned'`: not read),
   * `ResourceExhausted` (over 1 MiB: not fetched), `InvalidArgument` (not a profile, or it names a
   * layer of another image or a span its layer's index does not have), `DataLoss` (bytes failing
   * their digest), or a registry error's. `digest` is the profile artifact manifest when known.
   */
  | { type: 'profile-ignored'; reference: string; imageDigest: string; digest?: string; code: string; why: string }
  /** The background download advanced: `bytes` of `total` compressed bytes are local (`fetched` by it from the network). */
  | { type: 'progress'; reference: string; bytes: number; total: number; fetched: number }
  /** The background download finished: every lazily read layer is in the cache, verified. `ms` since it started. */
  | { type: 'downloaded'; reference: string; digest: string; bytes: number; fetched: number; ms: number }
  /** The cache could not keep something (full disk, read-only directory) or a background download stopped; reads go on from the network. */
  | { type: 'cache-warning'; reference: string; message: string }
  /**
   * A read needed compressed span `span` of a lazily read layer and found it local: in this
   * process's memory, or on `disk` (a span entry or the whole blob in the disk cache), verified.
   * One event per span looked up for a read (background work and readahead are not counted).
   */
  | { type: 'cache-hit'; layer: string; span: number; bytes: number; from: 'memory' | 'disk' }
  /** A read needed compressed span `span` of a lazily read layer and fetched it (`bytes` compressed) from the registry. */
  | { type: 'cache-miss'; layer: string; span: number; bytes: number };

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
