import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RegistryClient } from '../src/registry/client.js';
import type { RegistryClientOptions } from '../src/registry/options.js';
import { startFaultProxy, startRegistry, type FaultProxy, type TestRegistry } from '../src/testing/registry/index.js';
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

beforeAll(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy({ target: reg.url });
  image = await pushImage(reg, 's/app', 'v1', { layerSizes: [3 << 20] });
});
beforeEach(() => proxy.reset());
afterAll(async () => {
  for (const c of clients) await c.close();
  await proxy?.stop();
  await reg?.stop();
});

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of stream) parts.push(c.slice());
  return Buffer.concat(parts);
}

describe('RegistryClient.streamBlob', () => {
  it('streams a whole blob; a reset mid-body is retried and no byte is repeated or lost', async () => {
    const layer = image.layers[0]!;
    const c = client();
    expect(sha256(await collect(c.streamBlob(`${proxy.host}/s/app`, layer.descriptor)))).toBe(layer.descriptor.digest);
    expect(c.stats.retries).toBe(0);
    proxy.setFaults({ resetAfter: { bytes: 1 << 20, count: 1, match: 'blob' } });
    const got = await collect(c.streamBlob(`${proxy.host}/s/app`, layer.descriptor));
    expect(proxy.counters.injected.resetAfter).toBe(1);
    expect(c.stats.retries).toBe(1);
    expect(got.length).toBe(layer.bytes.length);
    expect(got.equals(Buffer.from(layer.bytes))).toBe(true);
  });

  it('gives Unavailable when short bodies outlast the retries, and a body longer than the descriptor is DataLoss', async () => {
    const layer = image.layers[0]!;
    proxy.setFaults({ shortBody: { bytes: 3000, match: 'blob' } });
    const e = await collect(client({ retries: 1 }).streamBlob(`${proxy.host}/s/app`, layer.descriptor)).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'Unavailable' });
    proxy.reset();
    const lying = { ...layer.descriptor, size: layer.descriptor.size - 10 };
    const e2 = await collect(client().streamBlob(`${proxy.host}/s/app`, lying)).catch((x: unknown) => x);
    expect(e2).toMatchObject({ code: 'DataLoss' });
  });

  it('leaving the loop early cancels the download; an aborted signal rejects with Aborted', async () => {
    const layer = image.layers[0]!;
    const c = client();
    let n = 0;
    for await (const chunk of c.streamBlob(`${proxy.host}/s/app`, layer.descriptor)) {
      n += chunk.length;
      break;
    }
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(layer.bytes.length);
    const e = await collect(c.streamBlob(`${proxy.host}/s/app`, layer.descriptor, { signal: AbortSignal.abort() })).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'Aborted' });
  });
});
