import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../src/image/media-types.js';
import { RegistryClient } from '../src/registry/client.js';
import { RegistrySource } from '../src/registry/registry-source.js';
import { startFaultProxy, startRegistry, type FaultProxy, type TestRegistry } from '../src/testing/registry/index.js';
import { json, pushImage, pushIndex, sha256, type PushedImage } from './registry-fixture.js';

let reg: TestRegistry;
let proxy: FaultProxy;
let amd: PushedImage;
let arm: PushedImage;
let docker: PushedImage;
let indexDigest: string;
const clients: RegistryClient[] = [];
const client = (options: ConstructorParameters<typeof RegistryClient>[0] = {}): RegistryClient => {
  const c = new RegistryClient({ authFile: false, retryBaseDelayMs: 1, ...options });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy({ target: reg.url });
  amd = await pushImage(reg, 'team/app', 'amd', { layerSizes: [5000, 300_000] });
  arm = await pushImage(reg, 'team/app', undefined, { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
  docker = await pushImage(reg, 'team/app', 'docker', { docker: true });
  indexDigest = (await pushIndex(reg, 'team/app', 'multi', [amd, arm], [
    { mediaType: MediaType.OCI_MANIFEST, digest: arm.digest, size: arm.manifestBytes.length, platform: { os: 'unknown', architecture: 'unknown' } },
  ])).digest;
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await proxy?.stop();
  await reg?.stop();
});

describe('manifests and resolve (anonymous registry)', () => {
  it('resolves a tag to the image with its config verified', async () => {
    const src = new RegistrySource(`${reg.host}/team/app:amd`, { authFile: false });
    const image = await src.resolve({ platform: { os: 'linux', architecture: 'amd64' } });
    expect(image.digest).toBe(amd.digest);
    expect(image.mediaType).toBe(MediaType.OCI_MANIFEST);
    expect(Buffer.from(image.manifestBytes).equals(Buffer.from(amd.manifestBytes))).toBe(true);
    expect(image.layers).toEqual(amd.manifest.layers);
    expect(image.config.rootfs.diff_ids).toHaveLength(2);
    expect(image.platform).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(image.reference).toBe(`${reg.host}/team/app:amd`);
    expect(image.indexDigest).toBeUndefined();
    await src.close();
  });

  it('picks the platform from an index, and lists the platforms when it has none for the host asked', async () => {
    const c = client();
    const image = await c.resolve(`${reg.host}/team/app:multi`, { platform: { os: 'linux', architecture: 'arm64' } });
    expect(image.digest).toBe(arm.digest);
    expect(image.indexDigest).toBe(indexDigest);
    expect(image.platform).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    const e = await c.resolve(`${reg.host}/team/app:multi`, { platform: { os: 'linux', architecture: 's390x' } }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'NotFound' });
    expect((e as Error).message).toContain('(it has: linux/amd64, linux/arm64/v8)');
  });

  it('resolves by digest, by tag+digest, and a Docker schema 2 manifest', async () => {
    const c = client();
    expect((await c.resolve(`${reg.host}/team/app@${arm.digest}`)).digest).toBe(arm.digest);
    expect((await c.resolve(`${reg.host}/team/app:whatever@${amd.digest}`)).digest).toBe(amd.digest);
    const d = await c.resolve(`${reg.host}/team/app:docker`);
    expect(d.mediaType).toBe(MediaType.DOCKER_MANIFEST);
    expect(d.digest).toBe(docker.digest);
  });

  it('fetchManifest returns the index unresolved with exact bytes and digest', async () => {
    const m = await client().fetchManifest(`${reg.host}/team/app:multi`);
    expect(m.kind).toBe('index');
    expect(m.mediaType).toBe(MediaType.OCI_INDEX);
    expect(m.digest).toBe(indexDigest);
    expect(sha256(m.bytes)).toBe(indexDigest);
    expect(m.size).toBe(m.bytes.length);
  });

  it('maps a missing tag and a missing repository to NotFound with the registry diagnostics', async () => {
    const c = client();
    const e1 = await c.fetchManifest(`${reg.host}/team/app:nope`).catch((x: unknown) => x);
    expect(e1).toMatchObject({ code: 'NotFound', status: 404, name: 'RegistryError' });
    expect((e1 as { diagnostics: Array<{ code: string }> }).diagnostics[0]!.code).toBe('MANIFEST_UNKNOWN');
    expect((e1 as Error).message).toContain('MANIFEST_UNKNOWN');
    const e2 = await c.resolve(`${reg.host}/no/such:1`).catch((x: unknown) => x);
    expect(e2).toMatchObject({ code: 'NotFound' });
  });

  it('verifies the size of a manifest named by a descriptor (DataLoss)', async () => {
    const wrong = { ...arm.descriptor, digest: amd.digest, size: amd.descriptor.size };
    await expect(client().fetchManifest(`${reg.host}/team/app`, { expected: wrong })).resolves.toMatchObject({ digest: amd.digest });
    const e2 = await client().fetchManifest(`${reg.host}/team/app`, { expected: { ...arm.descriptor, size: arm.descriptor.size + 1 } }).catch((x: unknown) => x);
    expect(e2).toMatchObject({ code: 'DataLoss' });
  });
});

describe('blobs', () => {
  it('reads ranges with the descriptor size, verified whole blobs and HEAD sizes', async () => {
    const c = client();
    const layer = amd.layers[1]!;
    const src = new RegistrySource(`${reg.host}/team/app:amd`, { client: c });
    const blob = await src.openBlob(layer.descriptor);
    expect(blob.size).toBe(300_000);
    const got = await blob.readAt(123_456, 10_000);
    expect(Buffer.from(got).equals(Buffer.from(layer.bytes.subarray(123_456, 133_456)))).toBe(true);
    expect(Buffer.from(await blob.readAt(299_999, 1))[0]).toBe(layer.bytes[299_999]);
    expect((await blob.readAt(0, 0)).length).toBe(0);
    await expect(blob.readAt(299_999, 2)).rejects.toBeInstanceOf(RangeError);
    const whole = await src.readBlobVerified(layer.descriptor);
    expect(sha256(whole)).toBe(layer.descriptor.digest);
    expect(await c.blobSize(`${reg.host}/team/app`, layer.descriptor.digest)).toBe(300_000);
    await expect(c.blobSize(`${reg.host}/team/app`, sha256(new Uint8Array([1, 2, 3])))).rejects.toMatchObject({ code: 'NotFound' });
    await src.close();
  });

  it('reports a blob shorter than its descriptor (416, body never read) as DataLoss', async () => {
    const layer = amd.layers[0]!;
    const blob = client().openBlob(`${reg.host}/team/app`, { ...layer.descriptor, size: layer.descriptor.size + 100 });
    const e = await blob.readAt(layer.descriptor.size + 10, 50).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'DataLoss' });
    expect((e as Error).message).toContain(`is ${layer.descriptor.size} bytes at the registry`);
    // The connection pool still works afterwards.
    const ok = await client().openBlob(`${reg.host}/team/app`, layer.descriptor).readAt(0, 10);
    expect(ok.length).toBe(10);
  });

  it('readBlobVerified refuses a descriptor whose digest does not match the bytes', async () => {
    const layer = amd.layers[0]!;
    const c = client();
    const e = await c.readBlobVerified(`${reg.host}/team/app`, { ...layer.descriptor, size: layer.descriptor.size - 1 }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'DataLoss' });
  });

  it('shares one request between concurrent reads of the same or overlapping bytes', async () => {
    proxy.reset();
    const c = client();
    const layer = amd.layers[1]!;
    const blob = c.openBlob(`${proxy.host}/team/app`, layer.descriptor);
    const reads = await Promise.all([
      blob.readAt(1000, 4096), blob.readAt(1000, 4096), blob.readAt(2000, 1000), blob.readAt(1000, 4096),
    ]);
    expect(proxy.counters.byKind.blob).toBe(1);
    expect(Buffer.from(reads[2]!).equals(Buffer.from(layer.bytes.subarray(2000, 3000)))).toBe(true);
    // Overlapping reads queued together become one request for their union.
    proxy.reset();
    const [a, b] = await Promise.all([blob.readAt(50_000, 10_000), blob.readAt(55_000, 10_000)]);
    expect(proxy.log.map((r) => r.range)).toEqual(['bytes=50000-64999']);
    expect(Buffer.from(b!).equals(Buffer.from(layer.bytes.subarray(55_000, 65_000)))).toBe(true);
    expect(Buffer.from(a!).equals(Buffer.from(layer.bytes.subarray(50_000, 60_000)))).toBe(true);
    // An overlapping read while the first is in flight asks only for the bytes not yet coming.
    proxy.reset();
    proxy.setFaults({ latency: { ms: 200, match: 'blob' } });
    const first = blob.readAt(100_000, 10_000);
    while (proxy.counters.requests < 1) await new Promise((r) => setTimeout(r, 5));
    const second = blob.readAt(105_000, 10_000);
    const [c1, c2] = await Promise.all([first, second]);
    proxy.setFaults({});
    expect(proxy.log.map((r) => r.range)).toEqual(['bytes=100000-109999', 'bytes=110000-114999']);
    expect(Buffer.from(c1!).equals(Buffer.from(layer.bytes.subarray(100_000, 110_000)))).toBe(true);
    expect(Buffer.from(c2!).equals(Buffer.from(layer.bytes.subarray(105_000, 115_000)))).toBe(true);
  });

  it('merges adjacent small reads into one request, and nearby ones with mergeGapBytes', async () => {
    const layer = amd.layers[1]!;
    proxy.reset();
    const blob = client().openBlob(`${proxy.host}/team/app`, layer.descriptor);
    const offsets = [0, 4096, 8192, 12_288];
    const got = await Promise.all(offsets.map((o) => blob.readAt(o, 4096)));
    expect(proxy.counters.byKind.blob).toBe(1);
    offsets.forEach((o, i) => expect(Buffer.from(got[i]!).equals(Buffer.from(layer.bytes.subarray(o, o + 4096)))).toBe(true));
    proxy.reset();
    const gappy = client({ mergeGapBytes: 1000 }).openBlob(`${proxy.host}/team/app`, layer.descriptor);
    await Promise.all([gappy.readAt(100_000, 100), gappy.readAt(100_500, 100), gappy.readAt(200_000, 100)]);
    expect(proxy.counters.byKind.blob).toBe(2);
  });

  it('aborts a read through its signal, and the shared request survives other readers', async () => {
    const layer = amd.layers[1]!;
    proxy.reset();
    proxy.setFaults({ latency: { ms: 300, match: 'blob' } });
    const blob = client().openBlob(`${proxy.host}/team/app`, layer.descriptor);
    const ac = new AbortController();
    const aborted = blob.readAt(0, 1000, { signal: ac.signal });
    const kept = blob.readAt(0, 1000);
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'Aborted' });
    expect(Buffer.from(await kept).equals(Buffer.from(layer.bytes.subarray(0, 1000)))).toBe(true);
    await expect(client().resolve(`${proxy.host}/team/app:amd`, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'Aborted' });
    proxy.setFaults({});
  });
});

describe('pushes and referrers', () => {
  it('putBlob uploads once, putManifest pushes, getReferrers falls back to the tag schema', async () => {
    const c = client();
    const ref = `${reg.host}/team/app`;
    const data = json({ hello: 'index' });
    const d1 = await c.putBlob(ref, data, { mediaType: 'application/vnd.example.index' });
    expect(d1).toEqual({ mediaType: 'application/vnd.example.index', digest: sha256(data), size: data.length });
    proxy.reset();
    await c.putBlob(`${proxy.host}/team/app`, data);
    expect(proxy.counters.byKind.upload).toBe(0); // HEAD found it
    expect((await c.readBlobVerified(ref, d1)).length).toBe(data.length);

    expect(await c.getReferrers(ref, amd.digest)).toEqual([]);
    const empty = json({});
    const emptyDesc = await c.putBlob(ref, empty, { mediaType: MediaType.OCI_EMPTY });
    const referrer = json({
      schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, artifactType: 'application/vnd.example.idx',
      config: emptyDesc, layers: [d1], subject: amd.descriptor,
    });
    const rdesc = await c.putManifest(ref, referrer, MediaType.OCI_MANIFEST);
    expect(rdesc).toMatchObject({ digest: sha256(referrer), artifactType: 'application/vnd.example.idx' });
    const tagIndex = json({ schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [rdesc] });
    const { referrersTag } = await import('../src/registry/referrers.js');
    await c.putManifest(ref, tagIndex, MediaType.OCI_INDEX, { tag: referrersTag(amd.digest) });
    expect(await c.getReferrers(ref, amd.digest)).toEqual([rdesc]);
    expect(await c.getReferrers(ref, amd.digest, { artifactType: 'application/vnd.example.idx' })).toEqual([rdesc]);
    expect(await c.getReferrers(ref, amd.digest, { artifactType: 'other' })).toEqual([]);
    const fetched = await c.fetchManifest(`${ref}@${rdesc.digest}`);
    expect(fetched.kind).toBe('manifest');
  });
});
