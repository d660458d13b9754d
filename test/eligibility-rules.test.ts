import { describe, expect, it } from 'vitest';
import { applyEligibilityRules, EMPTY_GZIP_LAYER_DIGEST } from '../src/eligibility/rules.js';
import { MediaType } from '../src/image/media-types.js';
import type { Descriptor } from '../src/image/types.js';

const MiB = 1024 * 1024;
const layer = (n: number, size = 50 * MiB, mediaType: string = MediaType.OCI_LAYER_GZIP): Descriptor => ({
  mediaType,
  size,
  digest: `sha256:${n.toString(16).padStart(64, '0')}`,
});
const facts = (layers: Descriptor[], extra = {}) => ({ manifestMediaType: MediaType.OCI_MANIFEST, layers, ...extra });

describe('eligibility rules', () => {
  it('streams an ordinary image lazily with no reasons', () => {
    const r = applyEligibilityRules(facts([layer(1), layer(2)]));
    expect(r).toEqual({ eligible: true, reasons: [], layers: [expect.objectContaining({ mode: 'lazy' }), expect.objectContaining({ mode: 'lazy' })] });
  });

  it('refuses schema 1 manifests', () => {
    const r = applyEligibilityRules({ manifestMediaType: MediaType.DOCKER_SCHEMA1_SIGNED, layers: [layer(1)] });
    expect(r.eligible).toBe(false);
    expect(r.reasons.map((x) => x.code)).toEqual(['SCHEMA1_MANIFEST']);
    expect(r.layers[0]!.mode).toBe('whole');
  });

  it('names both positions of a duplicate layer', () => {
    const r = applyEligibilityRules(facts([layer(1), layer(2), layer(1)]));
    expect(r.eligible).toBe(false);
    const dup = r.reasons.find((x) => x.code === 'DUPLICATE_LAYER')!;
    expect(dup.message).toContain('positions 0 and 2');
    expect(dup.position).toBe(2);
    expect(r.layers.map((l) => l.mode)).toEqual(['lazy', 'lazy', 'whole']);
  });

  it('refuses the empty gzip layer and encrypted layers, and reports unknown media types', () => {
    const empty = { ...layer(0, 32), digest: EMPTY_GZIP_LAYER_DIGEST };
    const enc = layer(3, 50 * MiB, 'application/vnd.oci.image.layer.v1.tar+gzip+encrypted');
    const odd = layer(4, 50 * MiB, 'application/x-something');
    const r = applyEligibilityRules(facts([empty, layer(1), enc, odd]));
    expect(r.eligible).toBe(false);
    expect(r.reasons.map((x) => x.code)).toEqual(['EMPTY_LAYER', 'SMALL_LAYER', 'ENCRYPTED_LAYER', 'UNSUPPORTED_MEDIA_TYPE']);
    expect(r.layers.map((l) => l.mode)).toEqual(['whole', 'lazy', 'whole', 'whole']);
  });

  it('keeps the image eligible when only informational reasons apply, per layer', () => {
    const small = layer(5, 3 * MiB);
    const zstd = layer(6, 50 * MiB, MediaType.OCI_LAYER_ZSTD);
    const foreign = { ...layer(7, 50 * MiB, MediaType.DOCKER_FOREIGN_GZIP), urls: ['https://example.invalid/l'] };
    const r = applyEligibilityRules(facts([small, layer(1), zstd, foreign]));
    expect(r.eligible).toBe(true);
    expect(r.reasons.map((x) => x.code)).toEqual(['SMALL_LAYER', 'NOT_SEEKABLE', 'NON_DISTRIBUTABLE_LAYER']);
    expect(r.reasons.every((x) => x.informational)).toBe(true);
    expect(r.layers.map((l) => l.mode)).toEqual(['whole', 'lazy', 'whole', 'whole']);
  });

  it('streams seekable zstd layers and honours the small-layer threshold option', () => {
    const zstd = layer(6, 50 * MiB, MediaType.OCI_LAYER_ZSTD);
    const r = applyEligibilityRules(facts([zstd, layer(2, 2 * MiB)], { seekableZstd: new Set([zstd.digest]), minLazyLayerSize: MiB }));
    expect(r).toMatchObject({ eligible: true, reasons: [] });
  });

  it('marks every layer whole when the registry ignores ranges', () => {
    const r = applyEligibilityRules(facts([layer(1), layer(2)], { rangeSupported: false }));
    expect(r.eligible).toBe(false);
    expect(r.reasons.map((x) => x.code)).toEqual(['RANGE_UNSUPPORTED']);
    expect(r.layers.every((l) => l.mode === 'whole')).toBe(true);
  });

  it('does not call a small layer with its own table of contents (eStargz, verifiable zstd:chunked) whole', () => {
    const estargz = { ...layer(8, 2 * MiB), annotations: { 'containerd.io/snapshot/stargz/toc.digest': `sha256:${'a'.repeat(64)}` } };
    const chunked = layer(9, 2 * MiB, MediaType.OCI_LAYER_ZSTD);
    const r = applyEligibilityRules(facts([estargz, chunked, layer(10, 2 * MiB)], { seekableZstd: new Set([chunked.digest]) }));
    expect(r.reasons.map((x) => [x.code, x.position])).toEqual([['SMALL_LAYER', 2]]);
    expect(r.layers.map((l) => l.mode)).toEqual(['lazy', 'lazy', 'whole']);
  });

  it('says why a zstd:chunked layer without its checksum annotation is pulled whole', () => {
    const chunked = layer(11, 50 * MiB, MediaType.OCI_LAYER_ZSTD);
    const r = applyEligibilityRules(facts([chunked], { unverifiedZstdChunked: new Set([chunked.digest]) }));
    expect(r.reasons).toEqual([expect.objectContaining({ code: 'NOT_SEEKABLE', informational: true, message: expect.stringContaining('manifest-checksum') })]);
    expect(r.layers[0]!.mode).toBe('whole');
  });
});
