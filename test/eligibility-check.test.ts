import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeEligibility } from '../src/eligibility/analyze.js';
import { EMPTY_GZIP_LAYER_DIGEST } from '../src/eligibility/rules.js';
import { MediaType } from '../src/image/media-types.js';
import { hasZstdChunkedAnnotation } from '../src/eligibility/zstd-seekable.js';
import { writeLayout } from '../src/testing/builder/index.js';
import { startBench, type Bench, type CaseName } from './eligibility-fixture.js';
import { runCliCapture } from './helpers/run-cli.js';

let bench: Bench;
const KiB = 1024;

beforeAll(async () => {
  bench = await startBench();
}, 60_000);
afterAll(async () => {
  await bench?.stop();
});


const cli = runCliCapture;

const api = (ref: string) => analyzeEligibility(ref, { authFile: false, minLazyLayerSize: KiB });
const codes = (r: { reasons: Array<{ code: string }> }): string[] => r.reasons.map((x) => x.code);
const digestOf = (name: CaseName, i: number): string => bench.images[name].layers[i]!.descriptor.digest;

describe('analyzeEligibility on images pushed to a real registry, one per rule', () => {
  it('an ordinary gzip image is eligible, every layer lazy (the Range probe got a 206)', async () => {
    const r = await api(bench.ref('ok'));
    expect(r).toEqual({ eligible: true, reasons: [], layers: [expect.objectContaining({ mode: 'lazy' }), expect.objectContaining({ mode: 'lazy' })] });
    expect(r.layers.map((l) => l.digest)).toEqual([digestOf('ok', 0), digestOf('ok', 1)]);
  });

  it('SMALL_LAYER at the default 10 MiB threshold is informational: still eligible', async () => {
    const r = await analyzeEligibility(bench.ref('ok'), { authFile: false });
    expect(r.eligible).toBe(true);
    expect(codes(r)).toEqual(['SMALL_LAYER', 'SMALL_LAYER']);
    expect(r.reasons.map((x) => x.position)).toEqual([0, 1]);
    expect(r.reasons.every((x) => x.informational && x.fix.length > 0)).toBe(true);
    expect(r.layers.map((l) => l.mode)).toEqual(['whole', 'whole']);
  });

  it('DUPLICATE_LAYER names both positions; only the repeat is whole', async () => {
    const r = await api(bench.ref('dup'));
    expect(r.eligible).toBe(false);
    expect(codes(r)).toEqual(['DUPLICATE_LAYER']);
    expect(r.reasons[0]).toMatchObject({ layer: digestOf('dup', 0), position: 2, informational: false });
    expect(r.reasons[0]!.message).toContain('positions 0 and 2');
    expect(r.layers.map((l) => l.mode)).toEqual(['lazy', 'lazy', 'whole']);
  });

  it('EMPTY_LAYER for the empty gzip layer', async () => {
    const r = await api(bench.ref('empty'));
    expect(digestOf('empty', 1)).toBe(EMPTY_GZIP_LAYER_DIGEST);
    expect(r.eligible).toBe(false);
    expect(r.reasons[0]).toMatchObject({ code: 'EMPTY_LAYER', layer: EMPTY_GZIP_LAYER_DIGEST, position: 1 });
    expect(r.layers.map((l) => l.mode)).toEqual(['lazy', 'whole', 'lazy']);
  });

  it('ENCRYPTED_LAYER says imagefs cannot decrypt, with the fix', async () => {
    const r = await api(bench.ref('enc'));
    expect(r.eligible).toBe(false);
    expect(r.reasons).toEqual([expect.objectContaining({ code: 'ENCRYPTED_LAYER', position: 1, layer: digestOf('enc', 1) })]);
    expect(r.reasons[0]!.message).toMatch(/cannot decrypt/);
    expect(r.reasons[0]!.fix).toMatch(/decrypt/);
  });

  it('NON_DISTRIBUTABLE_LAYER with urls: pulled whole from its URL (informational); the check fetches nothing from it', async () => {
    const before = bench.foreignHits;
    const r = await api(bench.ref('foreign'));
    expect(r.eligible).toBe(true);
    expect(r.reasons).toEqual([expect.objectContaining({ code: 'NON_DISTRIBUTABLE_LAYER', position: 1, informational: true })]);
    expect(r.reasons[0]!.message).toContain(`${bench.foreignServer.url}/blobs/foreign`);
    expect(r.layers.map((l) => l.mode)).toEqual(['lazy', 'whole']);
    expect(bench.foreignHits).toBe(before);
  });

  it('NOT_SEEKABLE for plain zstd, and for a zstd:chunked blob found by its footer but without the annotation that verifies its TOC', async () => {
    const plain = await api(bench.ref('zstd'));
    expect(plain.eligible).toBe(true);
    expect(plain.reasons).toEqual([expect.objectContaining({ code: 'NOT_SEEKABLE', position: 1, informational: true })]);
    expect(plain.layers.map((l) => l.mode)).toEqual(['lazy', 'whole']);
    const chunkedLayer = bench.images.chunked.layers[1]!.descriptor;
    expect(chunkedLayer.mediaType).toBe(MediaType.OCI_LAYER_ZSTD);
    expect(hasZstdChunkedAnnotation(chunkedLayer)).toBe(false);
    const chunked = await api(bench.ref('chunked'));
    expect(chunked.eligible).toBe(true);
    expect(chunked.reasons).toEqual([expect.objectContaining({ code: 'NOT_SEEKABLE', position: 1, informational: true })]);
    expect(chunked.reasons[0]!.message).toMatch(/zstd:chunked but has no manifest-checksum annotation/);
    expect(chunked.layers.map((l) => l.mode)).toEqual(['lazy', 'whole']);
    // without the footer read, it counts as plain zstd
    const noDetect = await analyzeEligibility(bench.ref('chunked'), { authFile: false, minLazyLayerSize: KiB, detectSeekableZstd: false });
    expect(codes(noDetect)).toEqual(['NOT_SEEKABLE']);
  });

  it('UNSUPPORTED_MEDIA_TYPE for an unknown layer media type', async () => {
    const r = await api(bench.ref('unsupported'));
    expect(r.eligible).toBe(false);
    expect(r.reasons).toEqual([expect.objectContaining({ code: 'UNSUPPORTED_MEDIA_TYPE', position: 1 })]);
    expect(r.reasons[0]!.message).toContain('application/vnd.example.layer.v1.tar+lz4');
  });

  it('SCHEMA1_MANIFEST on the schema-1 registry (signed), layers listed base first', async () => {
    const r = await api(bench.schema1Ref);
    expect(r.eligible).toBe(false);
    expect(codes(r)).toEqual(['SCHEMA1_MANIFEST']);
    expect(r.layers.length).toBeGreaterThan(0);
    expect(r.layers.every((l) => l.mode === 'whole')).toBe(true);
    expect(r.layers.map((l) => l.digest)).toEqual(expect.arrayContaining([digestOf('ok', 0)]));
    expect(r.layers.find((l) => l.digest === digestOf('ok', 0))!.size).toBe(bench.images.ok.layers[0]!.descriptor.size);
  });

  it('RANGE_UNSUPPORTED when a proxy drops the Range header: every layer whole', async () => {
    const before = bench.proxy.counters.injected.ignoreRange;
    const r = await api(bench.rangeRef);
    expect(r.eligible).toBe(false);
    expect(codes(r)).toEqual(['RANGE_UNSUPPORTED']);
    expect(r.layers.map((l) => l.mode)).toEqual(['whole', 'whole']);
    expect(bench.proxy.counters.injected.ignoreRange).toBe(before + 1); // exactly one probe
  });

  it('works on an OCI layout (no probe) and on an ImageSource the caller owns', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'imagefs-elig-layout-'));
    try {
      await writeLayout(dir, [{ image: bench.images.dup, tag: 'v1' }]);
      const r = await analyzeEligibility(`oci:${dir}:v1`, { minLazyLayerSize: KiB });
      expect(codes(r)).toEqual(['DUPLICATE_LAYER']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('imagefs check', () => {
  it('exit 0 and the contract JSON for an eligible image (SMALL_LAYER notes)', async () => {
    const r = await cli('check', bench.ref('ok'), '--json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { eligible: boolean; reasons: Array<Record<string, unknown>>; layers: Array<Record<string, unknown>> };
    expect(doc.eligible).toBe(true);
    expect(doc.reasons.map((x) => x.code)).toEqual(['SMALL_LAYER', 'SMALL_LAYER']);
    expect(doc.reasons[0]).toMatchObject({ code: 'SMALL_LAYER', layer: digestOf('ok', 0), position: 0, informational: true });
    expect(typeof doc.reasons[0]!.message).toBe('string');
    expect(typeof doc.reasons[0]!.fix).toBe('string');
    expect(doc.layers[1]).toEqual({ digest: digestOf('ok', 1), mediaType: MediaType.OCI_LAYER_GZIP, size: bench.images.ok.layers[1]!.descriptor.size, mode: 'whole' });
  });

  const ineligible: Array<[string, () => string, string]> = [
    ['dup', () => bench.ref('dup'), 'DUPLICATE_LAYER'],
    ['empty', () => bench.ref('empty'), 'EMPTY_LAYER'],
    ['enc', () => bench.ref('enc'), 'ENCRYPTED_LAYER'],
    ['unsupported', () => bench.ref('unsupported'), 'UNSUPPORTED_MEDIA_TYPE'],
    ['schema 1', () => bench.schema1Ref, 'SCHEMA1_MANIFEST'],
    ['range', () => bench.rangeRef, 'RANGE_UNSUPPORTED'],
  ];
  for (const [name, ref, code] of ineligible) {
    it(`exit 3 with ${code} in the JSON (${name})`, async () => {
      const r = await cli('check', ref(), '--json');
      expect(r.code).toBe(3);
      expect(r.stderr).toBe('');
      const doc = JSON.parse(r.stdout) as { eligible: boolean; reasons: Array<{ code: string; informational: boolean }> };
      expect(doc.eligible).toBe(false);
      expect(doc.reasons.filter((x) => !x.informational).map((x) => x.code)).toEqual([code]);
    });
  }

  for (const [name, code] of [['foreign', 'NON_DISTRIBUTABLE_LAYER'], ['zstd', 'NOT_SEEKABLE']] as const) {
    it(`exit 0 with the informational ${code} (${name})`, async () => {
      const r = await cli('check', bench.ref(name), '--json');
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout) as { eligible: boolean; reasons: Array<{ code: string; position: number }>; layers: Array<{ mode: string }> };
      expect(doc.eligible).toBe(true);
      expect(doc.reasons.find((x) => x.code === code)?.position).toBe(1);
      expect(doc.layers[1]!.mode).toBe('whole');
    });
  }

  it('the text report reads like a troubleshooting guide: verdict, each problem with layer, position and fix', async () => {
    const r = await cli('check', bench.ref('dup'));
    expect(r.code).toBe(3);
    const lines = r.stdout.split('\n');
    expect(lines[1]).toMatch(/^verdict: NOT ELIGIBLE/);
    expect(r.stdout).toContain(`1. DUPLICATE_LAYER: layer 2 (${digestOf('dup', 0)})`);
    expect(r.stdout).toMatch(/found: layer sha256:[0-9a-f]{64} appears twice, at positions 0 and 2/);
    expect(r.stdout).toMatch(/fix: {3}rebuild the image/);
    expect(r.stdout).toMatch(/notes \(the image stays eligible/);
    expect(r.stdout).toMatch(/^ {3}2 {2}whole {2}sha256:/m);
    const ok = await cli('check', bench.ref('ok'));
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^verdict: ELIGIBLE/m);
  });

  it('a missing image is a runtime failure (exit 1), not a verdict', async () => {
    const r = await cli('check', `${bench.reg.host}/elig/nothing:v1`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/NotFound/);
  });
});
