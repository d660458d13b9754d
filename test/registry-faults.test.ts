import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RegistryClient } from '../src/registry/client.js';
import type { RegistryClientOptions, RegistryEvent } from '../src/registry/options.js';
import { freePort, startFaultProxy, startRegistry, type FaultProxy, type TestRegistry } from '../src/testing/registry/index.js';
import { pushImage, sha256, type PushedImage } from './registry-fixture.js';

let reg: TestRegistry;
let proxy: FaultProxy;
let image: PushedImage;
const clients: RegistryClient[] = [];
const client = (options: RegistryClientOptions = {}): RegistryClient => {
  const c = new RegistryClient({ authFile: false, retryBaseDelayMs: 1, retryMaxDelayMs: 20, ...options });
  clients.push(c);
  return c;
};
const equal = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

beforeAll(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy({ target: reg.url });
  image = await pushImage(reg, 'f/app', 'v1', { layerSizes: [4 << 20, 100_000] });
});
beforeEach(() => proxy.reset());
afterAll(async () => {
  for (const c of clients) await c.close();
  await proxy?.stop();
  await reg?.stop();
});

const big = (): PushedImage['layers'][number] => image.layers[0]!;
const small = (): PushedImage['layers'][number] => image.layers[1]!;

describe('429 and 5xx', () => {
  it('honours Retry-After on 429 and then succeeds', async () => {
    const events: RegistryEvent[] = [];
    const c = client({ retryMaxDelayMs: 5000, onEvent: (e) => events.push(e) });
    proxy.setFaults({ tooManyRequests: { count: 1, retryAfter: 1, match: 'manifest' } });
    expect((await c.resolve(`${proxy.host}/f/app:v1`)).digest).toBe(image.digest);
    const retries = events.filter((e): e is Extract<RegistryEvent, { type: 'retry' }> => e.type === 'retry');
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({ delayMs: 1000, reason: 'HTTP 429', attempt: 1 });
  });

  it('gives ResourceExhausted (a quota or rate limit) after the bounded retries', async () => {
    proxy.setFaults({ tooManyRequests: { retryAfter: 1, match: 'manifest' } });
    const e = await client({ retries: 2 }).fetchManifest(`${proxy.host}/f/app:v1`).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'ResourceExhausted', status: 429 });
    expect((e as Error).message).toMatch(/quota or rate limit/);
    expect((e as { diagnostics: Array<{ code: string }> }).diagnostics[0]!.code).toBe('TOOMANYREQUESTS');
    expect(proxy.counters.byKind.manifest).toBe(3);
  });

  it('retries 5xx, then gives Unavailable; the time budget bounds the attempts too', async () => {
    proxy.setFaults({ serverError: { status: 502, count: 2, match: 'blob' } });
    const got = await client().openBlob(`${proxy.host}/f/app`, small().descriptor).readAt(0, 1000);
    expect(equal(got, small().bytes.subarray(0, 1000))).toBe(true);
    expect(proxy.counters.injected.serverError).toBe(2);
    proxy.reset();
    proxy.setFaults({ serverError: { status: 503, match: 'blob' } });
    const e = await client({ retries: 3 }).readBlobVerified(`${proxy.host}/f/app`, small().descriptor).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'Unavailable', status: 503 });
    expect(proxy.counters.byKind.blob).toBe(4);
    proxy.reset();
    proxy.setFaults({ serverError: { status: 503, match: 'blob' } });
    await expect(client({ retries: 10, retryBudgetMs: 0 }).blobSize(`${proxy.host}/f/app`, small().descriptor.digest)).rejects.toMatchObject({ code: 'Unavailable' });
    expect(proxy.counters.byKind.blob).toBe(1);
  });
});

describe('broken bodies', () => {
  it('retries a connection reset mid-body and returns the whole range', async () => {
    proxy.setFaults({ resetAfter: { bytes: 10_000, count: 1, match: 'blob' } });
    const c = client();
    const got = await c.openBlob(`${proxy.host}/f/app`, big().descriptor).readAt(1000, 1 << 20);
    expect(equal(got, big().bytes.subarray(1000, 1000 + (1 << 20)))).toBe(true);
    expect(proxy.counters.injected.resetAfter).toBe(1);
    expect(c.stats.retries).toBe(1);
    proxy.setFaults({ resetAfter: { bytes: 5000, count: 1, match: 'blob' } });
    expect(sha256(await c.readBlobVerified(`${proxy.host}/f/app`, small().descriptor))).toBe(small().descriptor.digest);
  });

  it('retries a short body, and never returns half-read bytes when retries run out', async () => {
    proxy.setFaults({ shortBody: { bytes: 3000, count: 1, match: 'blob' } });
    const got = await client().openBlob(`${proxy.host}/f/app`, small().descriptor).readAt(0, 50_000);
    expect(equal(got, small().bytes.subarray(0, 50_000))).toBe(true);
    expect(proxy.counters.injected.shortBody).toBe(1);
    proxy.setFaults({ shortBody: { bytes: 3000, match: 'blob' } });
    const e = await client({ retries: 1 }).readBlobVerified(`${proxy.host}/f/app`, small().descriptor).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'Unavailable' });
    const e2 = await client({ retries: 0 }).openBlob(`${proxy.host}/f/app`, small().descriptor).readAt(0, 50_000).catch((x: unknown) => x);
    expect(e2).toMatchObject({ code: 'Unavailable' });
  });

  it('handles a 200 that ignores Range per response: takes the bytes, abandons the rest', async () => {
    const events: RegistryEvent[] = [];
    const c = client({ onEvent: (e) => events.push(e) });
    proxy.setFaults({ ignoreRange: { count: 1, match: 'blob' } });
    const blob = c.openBlob(`${proxy.host}/f/app`, big().descriptor);
    const got = await blob.readAt(4096, 4096);
    expect(equal(got, big().bytes.subarray(4096, 8192))).toBe(true);
    expect(proxy.log[0]!.status).toBe(200);
    expect(proxy.counters.bytesOut).toBeLessThan(big().bytes.length);
    expect(events.some((e) => e.type === 'range-ignored')).toBe(true);
    // The next response honours Range again and is used as such.
    const next = await blob.readAt(3 << 20, 4096);
    expect(equal(next, big().bytes.subarray(3 << 20, (3 << 20) + 4096))).toBe(true);
    expect(proxy.log.at(-1)!.status).toBe(206);
  });

  it('reports wrong bytes as DataLoss for verified blobs and manifests', async () => {
    proxy.setFaults({ wrongBytes: { match: 'blob', offsets: [7] } });
    const e = await client().readBlobVerified(`${proxy.host}/f/app`, small().descriptor).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'DataLoss', name: 'RegistryError' });
    expect((e as Error).message).toContain(`blob ${small().descriptor.digest} was served with digest sha256:`);
    proxy.setFaults({ wrongBytes: { match: 'manifest', offsets: [20] } });
    await expect(client().fetchManifest(`${proxy.host}/f/app:v1`)).rejects.toMatchObject({ code: 'DataLoss' });
    await expect(client().fetchManifest(`${proxy.host}/f/app@${image.digest}`)).rejects.toMatchObject({ code: 'DataLoss' });
  });

  it('survives bandwidth limits and latency, honours the idle timeout and AbortSignal', async () => {
    proxy.setFaults({ bandwidth: { bytesPerSecond: 1 << 20, match: 'blob' }, latency: { ms: 50 } });
    const got = await client().openBlob(`${proxy.host}/f/app`, small().descriptor).readAt(0, 100_000);
    expect(equal(got, small().bytes)).toBe(true);
    proxy.setFaults({ latency: { ms: 3000, count: 1, match: 'manifest' } });
    const c = client({ idleTimeoutMs: 200 });
    expect((await c.fetchManifest(`${proxy.host}/f/app:v1`)).digest).toBe(image.digest);
    expect(c.stats.retries).toBe(1);
    proxy.reset();
    proxy.setFaults({ latency: { ms: 30_000, match: 'manifest' } });
    const ac = new AbortController();
    const pending = client().fetchManifest(`${proxy.host}/f/app:v1`, { signal: ac.signal });
    while (proxy.counters.byKind.manifest < 1) await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    await expect(pending).rejects.toMatchObject({ code: 'Aborted' });
  });

  it('gives Unavailable for a registry that is not there', async () => {
    const port = await freePort();
    const e = await client({ retries: 1 }).fetchManifest(`127.0.0.1:${port}/f/app:v1`).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'Unavailable', status: 0 });
    expect((e as Error).message).toMatch(/ECONNREFUSED/);
  });
});

describe('mirrors', () => {
  it('pulls from the mirror first, and falls back to the registry when the mirror fails', async () => {
    const events: RegistryEvent[] = [];
    const c = client({ mirrors: { [reg.host]: [proxy.url] }, onEvent: (e) => events.push(e) });
    expect((await c.resolve(`${reg.host}/f/app:v1`)).digest).toBe(image.digest);
    expect(proxy.counters.byKind.manifest).toBe(1);
    expect(proxy.counters.byKind.blob).toBe(1);
    proxy.reset();
    proxy.setFaults({ serverError: { status: 500 } });
    const got = await c.openBlob(`${reg.host}/f/app`, small().descriptor).readAt(10, 10);
    expect(equal(got, small().bytes.subarray(10, 20))).toBe(true);
    expect(proxy.counters.injected.serverError).toBeGreaterThan(0);
    expect(events.some((e) => e.type === 'mirror-fallback')).toBe(true);
    // Pushes never go to a mirror.
    proxy.reset();
    await c.putBlob(`${reg.host}/f/app`, new Uint8Array([9, 9, 9]));
    expect(proxy.counters.requests).toBe(0);
  });
});
