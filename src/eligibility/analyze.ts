import { ImageError, throwIfAborted } from '../errors/image-fs-error.js';
import { isSchema1MediaType, layerCompression, MediaType } from '../image/media-types.js';
import type { Descriptor, ImageSource, Platform, ResolvedImage } from '../image/types.js';
import { LayoutBlobStore } from '../layout/blob-store.js';
import { parseImageRef } from '../layout/image-ref.js';
import { chooseLayoutImage, readLayoutIndex } from '../layout/layout-index.js';
import { OciLayoutSource } from '../layout/oci-layout-source.js';
import type { Schema1Manifest } from '../registry/manifest.js';
import type { RegistryClientOptions } from '../registry/options.js';
import { RegistrySource } from '../registry/registry-source.js';
import { isRegistrySource, pickClientOptions, probeRangeSupport, probeTarget } from './range-probe.js';
import type { EligibilityReport } from './report.js';
import { applyEligibilityRules, type EligibilityFacts } from './rules.js';
import { validateResolvedImage } from './validate-image.js';
import { hasZstdChunkedAnnotation, isSeekableZstd } from './zstd-seekable.js';
import { isZstdChunkedLayer } from '../zstd-chunked/zstd-chunked-layer.js';

/** Options of {@link analyzeEligibility}. Sizes in bytes. */
export interface AnalyzeEligibilityOptions extends RegistryClientOptions {
  /** The platform to pick from a multi-platform image. Default: the host's. */
  platform?: Platform;
  /** Layers under this size are pulled whole (`SMALL_LAYER`). Default 10 MiB. */
  minLazyLayerSize?: number;
  /** Cancels the analysis. */
  signal?: AbortSignal;
  /** The image, when the caller resolved it already (then only the probes touch the source). */
  resolved?: ResolvedImage;
  /**
   * Send one `Range` request to a registry to learn whether it honours ranges. Default `true`.
   * `false` assumes it does (no request).
   */
  probeRange?: boolean;
  /**
   * Read the last 64 bytes of zstd layers without zstd:chunked annotations to look for the
   * zstd:chunked footer. Default `true`; `false` counts such layers as not seekable.
   */
  detectSeekableZstd?: boolean;
  /**
   * What a failed Range probe means: `throw` (default) rejects with its error; `unknown` goes on
   * as if the registry honoured ranges (the layers' own reads then fail with their own errors).
   */
  probeFailure?: 'throw' | 'unknown';
}

/**
 * Tells whether an image can be streamed lazily, and why not: every rule of the eligibility table
 * (docs/eligibility.md) applied to facts gathered from the manifest, the config and at most one
 * small probe per registry (a 1-byte `Range` read; plus, for zstd layers without annotations, a
 * read of their last 64 bytes). Nothing else is downloaded.
 *
 * Schema 1 manifests are reported (`SCHEMA1_MANIFEST`), not refused; malformed images (a config
 * whose diff_ids disagree with the layers, an unknown digest algorithm, a config that is not JSON,
 * a descriptor whose size lies) reject with `InvalidArgument` or `DataLoss` naming the descriptor.
 *
 * @param image - a reference (`oci:DIR[:TAG]` or a registry reference) or an {@link ImageSource}
 *   (not closed here).
 * @param options - platform, threshold, registry client options (also used for the probe), signal.
 * @returns the verdict, every reason with its fix, and how each layer would be served.
 * @example
 * ```ts
 * const report = await analyzeEligibility('127.0.0.1:5000/app:1');
 * if (!report.eligible) for (const r of report.reasons) console.log(r.code, r.message, r.fix);
 * ```
 */
export async function analyzeEligibility(image: ImageSource | string, options: AnalyzeEligibilityOptions = {}): Promise<EligibilityReport> {
  const owned = typeof image === 'string';
  const source = typeof image === 'string' ? sourceFor(image, options) : image;
  try {
    const facts = await gatherFacts(source, options);
    return applyEligibilityRules(facts);
  } finally {
    if (owned) await source.close();
  }
}

function sourceFor(ref: string, options: AnalyzeEligibilityOptions): ImageSource {
  const parsed = parseImageRef(ref);
  if (parsed.kind === 'oci') return OciLayoutSource.fromRef(parsed);
  return new RegistrySource(parsed.text, pickClientOptions(options));
}

/**
 * Gathers the {@link EligibilityFacts} of an image (the manifest media type, the layers, whether
 * the registry honours Range, which zstd layers are seekable). See {@link analyzeEligibility}.
 */
export async function gatherFacts(source: ImageSource, options: AnalyzeEligibilityOptions = {}): Promise<EligibilityFacts> {
  const { signal } = options;
  const base: Pick<EligibilityFacts, 'minLazyLayerSize'> = options.minLazyLayerSize === undefined ? {} : { minLazyLayerSize: options.minLazyLayerSize };
  if (options.resolved === undefined) {
    const schema1 = await schema1Facts(source, signal);
    if (schema1 !== undefined) return { ...schema1, ...base };
  }
  const resolved = options.resolved ?? (await source.resolve({ ...(options.platform ? { platform: options.platform } : {}), ...(signal ? { signal } : {}) }));
  validateResolvedImage(resolved);
  const facts: EligibilityFacts = { manifestMediaType: resolved.mediaType, layers: resolved.layers, ...base };
  throwIfAborted(signal);
  const target = probeTarget(resolved.layers);
  if (options.probeRange !== false && target !== undefined && isRegistrySource(source)) {
    try {
      // With the source's own client options (the CLI's mirrors and credentials live there), then the caller's.
      const own = source.client?.options ?? {};
      facts.rangeSupported = await probeRangeSupport(source.reference, target, { ...own, ...pickClientOptions(options), ...(signal === undefined ? {} : { signal }) });
    } catch (error) {
      if (options.probeFailure !== 'unknown' || signal?.aborted === true) throw error;
    }
  }
  // A zstd:chunked layer streams only when its manifest-checksum annotation lets imagefs verify
  // its table of contents; one recognised without it (annotations stripped) is pulled whole.
  const seekable = new Set<string>();
  const unverified = new Set<string>();
  for (const layer of resolved.layers) {
    if (layerCompression(layer.mediaType) !== 'zstd' || seekable.has(layer.digest) || unverified.has(layer.digest)) continue;
    if (isZstdChunkedLayer(layer)) seekable.add(layer.digest);
    else if (options.detectSeekableZstd !== false && (hasZstdChunkedAnnotation(layer) || await isSeekableZstd(source, layer, signal ? { signal } : {}))) unverified.add(layer.digest);
  }
  facts.seekableZstd = seekable;
  facts.unverifiedZstdChunked = unverified;
  return facts;
}

/** The facts of a schema 1 image, or undefined when the reference names something else. */
async function schema1Facts(source: ImageSource, signal: AbortSignal | undefined): Promise<EligibilityFacts | undefined> {
  if (isRegistrySource(source)) {
    const top = await source.fetchManifest(signal ? { signal } : {});
    if (top.kind !== 'schema1') return undefined;
    const doc = top.parsed as Schema1Manifest;
    const digests = (doc.fsLayers ?? []).map((l) => l.blobSum).reverse();
    const layers: Descriptor[] = [];
    for (const digest of digests) {
      const size = await source.client.blobSize(source.parsed, digest, signal ? { signal } : {}).catch(() => 0);
      layers.push({ mediaType: MediaType.DOCKER_LAYER_GZIP, digest, size });
    }
    return { manifestMediaType: top.mediaType, layers };
  }
  if (source instanceof OciLayoutSource) {
    const blobs = new LayoutBlobStore(source.dir);
    const index = await readLayoutIndex(source.dir, signal ? { signal } : {});
    let choice;
    try {
      choice = await chooseLayoutImage(blobs, index, source.tag, signal ? { signal } : {});
    } catch (error) {
      if (error instanceof ImageError) return undefined; // resolve() reports it the same way
      throw error;
    }
    const old = choice.descriptors.find((d) => isSchema1MediaType(d.mediaType));
    if (old !== undefined) return { manifestMediaType: old.mediaType, layers: [] };
  }
  return undefined;
}
