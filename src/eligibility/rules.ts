import type { Descriptor } from '../image/types.js';
import { isEncryptedLayer, isSchema1MediaType, layerCompression, MediaType } from '../image/media-types.js';
import { INFORMATIONAL_REASONS, type EligibilityReason, type EligibilityReasonCode, type EligibilityReport, type LayerPlan } from './report.js';

/** The gzip of an empty 1024-byte tar: GKE refuses to stream images that contain it. */
export const EMPTY_GZIP_LAYER_DIGEST = 'sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';

/** Default size under which a layer is pulled whole (bytes): 10 MiB, as SOCI does. */
export const DEFAULT_MIN_LAZY_LAYER_SIZE = 10 * 1024 * 1024;

/** What the rules look at: facts gathered from the manifest, the layers and the registry. */
export interface EligibilityFacts {
  /** Media type of the manifest the reference resolved to. */
  manifestMediaType: string;
  /** The layers, base first (empty for schema 1, whose layers are not analysed further). */
  layers: Descriptor[];
  /** Whether the registry honoured a Range request (undefined: not probed, assume yes). */
  rangeSupported?: boolean;
  /** Layers (by digest) that are zstd:chunked with a verifiable table of contents (streamed). */
  seekableZstd?: ReadonlySet<string>;
  /** zstd:chunked layers whose table of contents cannot be verified (no manifest-checksum annotation). */
  unverifiedZstdChunked?: ReadonlySet<string>;
  /** Layers under this size (bytes) are pulled whole. Default {@link DEFAULT_MIN_LAZY_LAYER_SIZE}. */
  minLazyLayerSize?: number;
}

function reason(code: EligibilityReasonCode, message: string, fix: string, layer?: Descriptor, position?: number): EligibilityReason {
  const r: EligibilityReason = { code, message, fix, informational: INFORMATIONAL_REASONS.has(code) };
  if (layer) r.layer = layer.digest;
  if (position !== undefined) r.position = position;
  return r;
}

/** The eStargz TOC annotation: such a layer needs no imagefs index, whatever its size. */
const ESTARGZ_TOC_ANNOTATION = 'containerd.io/snapshot/stargz/toc.digest';

/** True for layers that carry their own verifiable table of contents (eStargz, zstd:chunked). */
function hasOwnToc(layer: Descriptor, facts: EligibilityFacts): boolean {
  return facts.seekableZstd?.has(layer.digest) === true || typeof layer.annotations?.[ESTARGZ_TOC_ANNOTATION] === 'string';
}

/** The per-layer rules: the reasons one layer gives on its own, in the order they matter. */
function layerReasons(layer: Descriptor, position: number, facts: EligibilityFacts): EligibilityReason[] {
  const at = `layer ${position} (${layer.digest})`;
  const out: EligibilityReason[] = [];
  if (layer.digest === EMPTY_GZIP_LAYER_DIGEST) {
    out.push(reason('EMPTY_LAYER', `${at} is the empty gzip layer`, 'rebuild the image without empty layers (e.g. with BuildKit or `docker build --squash`), or pull it whole', layer, position));
  }
  if (isEncryptedLayer(layer.mediaType)) {
    out.push(reason('ENCRYPTED_LAYER', `${at} is encrypted (${layer.mediaType}); imagefs cannot decrypt layers`, 'decrypt the image (e.g. `skopeo copy --decryption-key`) before streaming it', layer, position));
    return out;
  }
  const compression = layerCompression(layer.mediaType);
  if (compression === undefined) {
    out.push(reason('UNSUPPORTED_MEDIA_TYPE', `${at} has media type ${layer.mediaType}, which imagefs cannot read`, 'convert the layer to tar, tar+gzip or tar+zstd (e.g. `skopeo copy --format oci`)', layer, position));
    return out;
  }
  if ((layer.urls?.length ?? 0) > 0 || layer.mediaType === MediaType.DOCKER_FOREIGN_GZIP || layer.mediaType.includes('nondistributable')) {
    out.push(reason('NON_DISTRIBUTABLE_LAYER', `${at} is non-distributable; it is pulled whole${layer.urls?.length ? ` from ${layer.urls[0]}` : ''}`, 'nothing to do; to stream it, push the layer to the registry as an ordinary layer', layer, position));
  } else if (compression === 'zstd' && facts.unverifiedZstdChunked?.has(layer.digest) === true) {
    out.push(reason('NOT_SEEKABLE', `${at} is zstd:chunked but has no manifest-checksum annotation, so its table of contents cannot be verified; it is pulled whole`, 'push it again with its zstd:chunked annotations (skopeo copy keeps them), or use gzip layers', layer, position));
  } else if (compression === 'zstd' && !facts.seekableZstd?.has(layer.digest)) {
    out.push(reason('NOT_SEEKABLE', `${at} is zstd without a seekable table of contents; it is pulled whole`, 'recompress with `skopeo copy --dest-compress-format zstd:chunked`, or use gzip layers', layer, position));
  } else if (layer.size < (facts.minLazyLayerSize ?? DEFAULT_MIN_LAZY_LAYER_SIZE) && !hasOwnToc(layer, facts)) {
    out.push(reason('SMALL_LAYER', `${at} is ${layer.size} bytes, under the lazy threshold; it is pulled whole`, 'nothing to do: an index would not pay for a layer this small', layer, position));
  }
  return out;
}

/**
 * Applies every eligibility rule to the facts. Pure: no I/O. Image-level reasons (schema 1,
 * duplicate or empty layers, encryption, unsupported media types, a registry without ranges)
 * make the image ineligible; layer-level informational ones only mark layers `whole`.
 */
export function applyEligibilityRules(facts: EligibilityFacts): EligibilityReport {
  if (isSchema1MediaType(facts.manifestMediaType)) {
    return {
      eligible: false,
      reasons: [reason('SCHEMA1_MANIFEST', `the manifest is Docker schema 1 (${facts.manifestMediaType}), which cannot be streamed; every layer is pulled whole`, 'push the image again as schema 2 or OCI (e.g. `skopeo copy --format oci`)')],
      layers: facts.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size, mode: 'whole' })),
    };
  }
  const reasons: EligibilityReason[] = [];
  const layers: LayerPlan[] = [];
  const firstSeen = new Map<string, number>();
  facts.layers.forEach((layer, position) => {
    const own = layerReasons(layer, position, facts);
    const earlier = firstSeen.get(layer.digest);
    if (earlier !== undefined) {
      own.unshift(reason('DUPLICATE_LAYER', `layer ${layer.digest} appears twice, at positions ${earlier} and ${position}`, 'rebuild the image so that each layer is distinct (a duplicate usually comes from a repeated, empty RUN step)', layer, position));
    } else {
      firstSeen.set(layer.digest, position);
    }
    reasons.push(...own);
    const lazy = own.length === 0 && facts.rangeSupported !== false;
    layers.push({ digest: layer.digest, mediaType: layer.mediaType, size: layer.size, mode: lazy ? 'lazy' : 'whole' });
  });
  if (facts.rangeSupported === false) {
    reasons.push(reason('RANGE_UNSUPPORTED', 'the registry ignored an HTTP Range request; every layer is pulled whole', 'use a registry (or a mirror) that honours Range requests, as OCI distribution requires'));
  }
  const eligible = reasons.every((r) => r.informational);
  return { eligible, reasons, layers };
}
