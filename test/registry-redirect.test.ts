import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../src/registry/client.js';
import type { RegistryEvent } from '../src/registry/options.js';
import { startFaultProxy, startRegistry, type FaultProxy, type TestRegistry } from '../src/testing/registry/index.js';
import { pushImage, sha256, type PushedImage } from './registry-fixture.js';

let reg: TestRegistry;
let image: PushedImage;
const clients: RegistryClient[] = [];

beforeAll(async () => {
  reg = await startRegistry({ auth: 'token', redirect: true });
  image = await pushImage(reg, 'redir/app', 'v1', { layerSizes: [2000, 200_000] });
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await reg?.stop();
});

describe('redirected blobs (307 to another origin) with token auth', () => {
  it('follows the redirect keeping Range and dropping Authorization', async () => {
    const events: RegistryEvent[] = [];
    const c = new RegistryClient({ authFile: false, credentials: reg.auth!, onEvent: (e) => events.push(e) });
    clients.push(c);
    const resolved = await c.resolve(`${reg.host}/redir/app:v1`); // config blob: redirected too
    expect(resolved.digest).toBe(image.digest);
    const layer = image.layers[1]!;
    const before = reg.blobServer!.requests.length;
    const got = await c.openBlob(`${reg.host}/redir/app`, layer.descriptor).readAt(150_000, 5000);
    expect(Buffer.from(got).equals(Buffer.from(layer.bytes.subarray(150_000, 155_000)))).toBe(true);
    const served = reg.blobServer!.requests.slice(before);
    expect(served).toHaveLength(1);
    expect(served[0]).toMatchObject({ method: 'GET', range: 'bytes=150000-154999', status: 206, hadAuthorization: false });
    expect(reg.blobServer!.requests.every((r) => !r.hadAuthorization)).toBe(true);
    const whole = await c.readBlobVerified(`${reg.host}/redir/app`, layer.descriptor);
    expect(sha256(whole)).toBe(layer.descriptor.digest);
    expect(await c.blobSize(`${reg.host}/redir/app`, layer.descriptor.digest)).toBe(layer.bytes.length);
    const redirects = events.filter((e): e is Extract<RegistryEvent, { type: 'redirect' }> => e.type === 'redirect');
    expect(redirects.length).toBeGreaterThanOrEqual(3);
    expect(redirects.every((r) => r.crossOrigin)).toBe(true);
    expect(c.stats.redirects).toBe(redirects.length);
  });

  it('retries a 503 before the redirect through a fault proxy', async () => {
    const proxy: FaultProxy = await startFaultProxy({ target: reg.url });
    try {
      const c = new RegistryClient({ authFile: false, credentials: reg.auth!, retryBaseDelayMs: 1 });
      clients.push(c);
      proxy.setFaults({ serverError: { match: 'blob', count: 1 } });
      const layer = image.layers[1]!;
      const got = await c.openBlob(`${proxy.host}/redir/app`, layer.descriptor).readAt(1, 100_000);
      expect(Buffer.from(got).equals(Buffer.from(layer.bytes.subarray(1, 100_001)))).toBe(true);
      expect(proxy.counters.injected.serverError).toBe(1);
      expect(c.stats.retries).toBe(1);
    } finally {
      await proxy.stop();
    }
  });
});
