import { setTimeout as delay } from 'node:timers/promises';
import { request, type Dispatcher } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pushBlob, pushManifest, startFaultProxy, startRegistry, type FaultProxy, type TestRegistry } from '../src/testing/registry/index.js';
import { OCI_MANIFEST, sha256, tinyImage } from './bench-registry-fixture.js';

const repo = 'bench/proxy';
const img = tinyImage(200_000, 5);

/** Reads a whole body; resolves with the bytes or with the error and how many bytes came first. */
async function readAll(res: Dispatcher.ResponseData): Promise<{ bytes: Buffer; error?: Error & { code?: string } }> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of res.body) chunks.push(c as Buffer);
    return { bytes: Buffer.concat(chunks) };
  } catch (e) {
    return { bytes: Buffer.concat(chunks), error: e as Error & { code?: string } };
  }
}

const errorCodes = (e: unknown): string[] => {
  const out: string[] = [];
  for (let x = e as { code?: string; cause?: unknown } | undefined; x !== undefined && x !== null; x = x.cause as typeof x) {
    if (x.code !== undefined) out.push(x.code);
  }
  return out;
};

describe('fault proxy', () => {
  let reg: TestRegistry;
  let proxy: FaultProxy;
  let blobUrl: string;
  let manifestUrl: string;
  beforeAll(async () => {
    reg = await startRegistry();
    await pushBlob(reg, repo, img.config);
    await pushBlob(reg, repo, img.layer);
    await pushManifest(reg, repo, 'v1', OCI_MANIFEST, img.manifest);
    proxy = await startFaultProxy({ target: reg.url });
    blobUrl = `${proxy.url}/v2/${repo}/blobs/${img.layerDigest}`;
    manifestUrl = `${proxy.url}/v2/${repo}/manifests/v1`;
  });
  afterAll(async () => {
    await proxy?.stop();
    await reg?.stop();
  });
  beforeEach(() => proxy.reset());

  it('forwards transparently and counts requests and bytes', async () => {
    const res = await request(manifestUrl, { headers: { accept: OCI_MANIFEST } });
    const { bytes } = await readAll(res);
    expect(res.statusCode).toBe(200);
    expect(res.headers['docker-content-digest']).toBe(img.manifestDigest);
    expect(bytes.equals(img.manifest)).toBe(true);
    const ranged = await request(blobUrl, { headers: { range: 'bytes=10-19' } });
    const part = await readAll(ranged);
    expect([ranged.statusCode, ranged.headers['content-range']]).toEqual([206, `bytes 10-19/${img.layer.length}`]);
    expect(part.bytes.equals(img.layer.subarray(10, 20))).toBe(true);
    expect(proxy.counters.requests).toBe(2);
    expect(proxy.counters.bytesOut).toBe(img.manifest.length + 10);
    expect(proxy.counters.byKind).toMatchObject({ manifest: 1, blob: 1 });
    expect(proxy.counters.byPath[`GET /v2/${repo}/blobs/${img.layerDigest}`]).toBe(1);
    expect(proxy.log.map((r) => [r.kind, r.status, r.range])).toEqual([['manifest', 200, undefined], ['blob', 206, 'bytes=10-19']]);
  });

  it('uploads through the proxy (the registry Location points back at it)', async () => {
    const data = Buffer.from('pushed through the proxy');
    const pushed = await pushBlob({ url: proxy.url }, repo, data);
    expect(pushed).toEqual({ digest: sha256(data), size: data.length, existed: false });
    expect(proxy.counters.byKind.upload).toBe(2);
    const res = await request(`${reg.url}/v2/${repo}/blobs/${pushed.digest}`);
    expect((await readAll(res)).bytes.equals(data)).toBe(true);
  });

  it('answers 429 with Retry-After for the next N matching requests only', async () => {
    proxy.setFaults({ tooManyRequests: { count: 2, retryAfter: 7, match: 'blob' } });
    const manifest = await request(manifestUrl, { headers: { accept: OCI_MANIFEST } });
    await manifest.body.dump();
    expect(manifest.statusCode).toBe(200);
    const statuses: Array<[number, unknown]> = [];
    for (let i = 0; i < 3; i++) {
      const res = await request(blobUrl, { headers: { range: 'bytes=0-0' } });
      const { bytes } = await readAll(res);
      statuses.push([res.statusCode, res.headers['retry-after']]);
      if (res.statusCode === 429) expect(JSON.parse(bytes.toString()).errors[0].code).toBe('TOOMANYREQUESTS');
    }
    expect(statuses).toEqual([[429, '7'], [429, '7'], [206, undefined]]);
    expect(proxy.counters.injected.tooManyRequests).toBe(2);
  });

  it('answers a configurable 5xx for the next N requests', async () => {
    proxy.setFaults({ serverError: { status: 502, count: 1 } });
    const first = await request(manifestUrl, { headers: { accept: OCI_MANIFEST } });
    await first.body.dump();
    const second = await request(manifestUrl, { headers: { accept: OCI_MANIFEST } });
    await second.body.dump();
    expect([first.statusCode, second.statusCode]).toEqual([502, 200]);
    proxy.setFaults({ serverError: { count: 1 } });
    const third = await request(manifestUrl, { method: 'HEAD', headers: { accept: OCI_MANIFEST } });
    await third.body.dump();
    expect(third.statusCode).toBe(503);
  });

  it('resets the connection mid-body after K bytes', async () => {
    proxy.setFaults({ resetAfter: { bytes: 50_000, count: 1, match: { method: 'GET', path: '/blobs/sha256:' } } });
    const res = await request(blobUrl);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe(String(img.layer.length));
    const { bytes, error } = await readAll(res);
    expect(error).toBeDefined();
    // A TCP reset, not a clean close.
    expect(errorCodes(error)).toContain('ECONNRESET');
    expect(bytes.length).toBeLessThanOrEqual(50_000);
    expect(bytes.equals(img.layer.subarray(0, bytes.length))).toBe(true);
    const again = await readAll(await request(blobUrl));
    expect(again.error).toBeUndefined();
    expect(sha256(again.bytes)).toBe(img.layerDigest);
  });

  it('closes early with a short body (declared Content-Length larger than what is sent)', async () => {
    proxy.setFaults({ shortBody: { bytes: 1234, count: 1 } });
    const res = await request(blobUrl, { headers: { range: 'bytes=0-99999' } });
    expect([res.statusCode, res.headers['content-length']]).toEqual([206, '100000']);
    const { bytes, error } = await readAll(res);
    expect(error).toBeDefined();
    // A clean close (FIN) before Content-Length bytes: undici's "other side closed", no reset.
    expect(errorCodes(error)).toContain('UND_ERR_SOCKET');
    expect(errorCodes(error)).not.toContain('ECONNRESET');
    expect(bytes.length).toBe(1234);
    expect(bytes.equals(img.layer.subarray(0, 1234))).toBe(true);
    expect(proxy.counters.injected.shortBody).toBe(1);
  });

  it('ignores Range: 200 with the whole blob instead of 206', async () => {
    proxy.setFaults({ ignoreRange: { match: 'blob' } });
    const res = await request(blobUrl, { headers: { range: 'bytes=100-199' } });
    const { bytes } = await readAll(res);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-range']).toBeUndefined();
    expect(sha256(bytes)).toBe(img.layerDigest);
    expect(proxy.counters.injected.ignoreRange).toBe(1);
  });

  it('flips bytes at given body offsets', async () => {
    proxy.setFaults({ wrongBytes: { offsets: [0, 150_000], count: 1 } });
    const { bytes } = await readAll(await request(blobUrl));
    expect(bytes.length).toBe(img.layer.length);
    const diffs: number[] = [];
    for (let i = 0; i < bytes.length; i++) if (bytes[i] !== img.layer[i]) diffs.push(i);
    expect(diffs).toEqual([0, 150_000]);
    expect(bytes[0]).toBe((img.layer[0]! ^ 0xff) & 0xff);
    const clean = await readAll(await request(blobUrl));
    expect(sha256(clean.bytes)).toBe(img.layerDigest);
  });

  it('adds latency (lower bound, relative to the same request without it)', async () => {
    const time = async (): Promise<number> => {
      const t = performance.now();
      await readAll(await request(manifestUrl, { headers: { accept: OCI_MANIFEST } }));
      return performance.now() - t;
    };
    const base = await time();
    proxy.setFaults({ latency: { ms: 300, match: 'manifest' } });
    const slow = await time();
    expect(slow).toBeGreaterThanOrEqual(290);
    expect(slow).toBeGreaterThan(base);
  });

  it('caps bandwidth (transfer of N bytes takes at least N/cap * 0.8 s)', async () => {
    const n = 100_000;
    proxy.setFaults({ bandwidth: { bytesPerSecond: 250_000, match: 'blob' } });
    const t = performance.now();
    const { bytes } = await readAll(await request(blobUrl, { headers: { range: `bytes=0-${n - 1}` } }));
    const seconds = (performance.now() - t) / 1000;
    expect(bytes.equals(img.layer.subarray(0, n))).toBe(true);
    expect(seconds).toBeGreaterThanOrEqual((n / 250_000) * 0.8);
  });

  it('bounds faults by time window and clears them on reset()', async () => {
    proxy.setFaults({ serverError: { forMs: 5 } });
    await delay(30);
    const late = await request(manifestUrl, { headers: { accept: OCI_MANIFEST } });
    await late.body.dump();
    expect(late.statusCode).toBe(200);
    proxy.setFaults({ serverError: {} });
    const failing = await request(manifestUrl, { headers: { accept: OCI_MANIFEST } });
    await failing.body.dump();
    expect(failing.statusCode).toBe(503);
    proxy.reset();
    expect(proxy.counters).toMatchObject({ requests: 0, bytesOut: 0 });
    const ok = await request(manifestUrl, { headers: { accept: OCI_MANIFEST } });
    await ok.body.dump();
    expect(ok.statusCode).toBe(200);
  });

  it('combines faults on one request', async () => {
    proxy.setFaults({ ignoreRange: {}, wrongBytes: { offsets: [5] }, latency: { ms: 50 } });
    const res = await request(blobUrl, { headers: { range: 'bytes=0-9' } });
    const { bytes } = await readAll(res);
    expect(res.statusCode).toBe(200);
    expect(bytes.length).toBe(img.layer.length);
    expect(bytes[5]).toBe((img.layer[5]! ^ 0xff) & 0xff);
    expect(proxy.log[0]?.faults.sort()).toEqual(['ignoreRange', 'latency', 'wrongBytes']);
  });
});

describe('fault proxy pass-through of auth and redirects', () => {
  it('passes Authorization and the 401 challenge unchanged (basic auth)', async () => {
    const reg = await startRegistry({ auth: 'basic' });
    const proxy = await startFaultProxy({ target: reg.url });
    try {
      const anon = await request(`${proxy.url}/v2/`);
      await anon.body.dump();
      expect(anon.statusCode).toBe(401);
      expect(anon.headers['www-authenticate']).toMatch(/^Basic realm=/);
      const authorization = `Basic ${Buffer.from(`${reg.auth!.username}:${reg.auth!.password}`).toString('base64')}`;
      const ok = await request(`${proxy.url}/v2/`, { headers: { authorization } });
      await ok.body.dump();
      expect(ok.statusCode).toBe(200);
    } finally {
      await proxy.stop();
      await reg.stop();
    }
  });

  it('passes a registry redirect through with its Location unchanged', async () => {
    const reg = await startRegistry({ redirect: true });
    const proxy = await startFaultProxy({ target: reg.url });
    try {
      const data = Buffer.from('redirected blob bytes');
      const { digest } = await pushBlob(reg, repo, data);
      const res = await request(`${proxy.url}/v2/${repo}/blobs/${digest}`);
      await res.body.dump();
      expect(res.statusCode).toBe(307);
      expect(String(res.headers['location'])).toMatch(new RegExp(`^${reg.blobServer!.url}/docker/registry/v2/blobs/sha256/`));
      expect(proxy.log[0]?.status).toBe(307);
    } finally {
      await proxy.stop();
      await reg.stop();
    }
  });
});
