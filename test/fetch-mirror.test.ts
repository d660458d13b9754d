// Pull-through mirrors (issue 11): CNCF distribution in proxy mode answers a range request for a
// blob it has not cached with 200 and the whole blob, and streams the blob from the upstream again
// for every such answer a client reads. imagefs closes such an answer at once, reads the range from
// the upstream meanwhile and returns to the mirror after a backoff. Counted by a fault proxy in
// front of the upstream. Also: containers-registries.conf v2 mirror entries.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageFsEvent } from '../src/open/events.js';
import { openImage } from '../src/open/open-image.js';
import type { RegistryEvent } from '../src/registry/options.js';
import { RegistrySource } from '../src/registry/registry-source.js';
import { freePort, startFaultProxy, startRegistry, type FaultProxy, type TestRegistry } from '../src/testing/registry/index.js';
import type { BuiltImage } from '../src/testing/builder/index.js';
import { oracle, PLATFORM, pushFixture, REPO } from './fetch-fixture.js';
import { tempDir } from './layout-fixtures.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let reg: TestRegistry;
let upstream: FaultProxy;
let mirror: ChildProcess;
let mirrorUrl: string;
let image: BuiltImage;

/** A pull-through mirror (CNCF distribution in proxy mode) of the upstream, with fresh storage. */
async function startMirror(name: string): Promise<{ url: string; proc: ChildProcess; storage: string }> {
  const port = await freePort();
  const storage = join(tmp.path, `${name}-storage`);
  await mkdir(storage);
  const config = join(tmp.path, `${name}.yml`);
  await writeFile(config, JSON.stringify({
    version: '0.1', log: { level: 'warn', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: storage } },
    http: { addr: `127.0.0.1:${port}`, secret: 'mirror-secret' },
    proxy: { remoteurl: upstream.url },
  }));
  const proc = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const ok = await fetch(`${url}/v2/`).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (i > 200) {
      proc.kill();
      throw new Error('the mirror did not start');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, proc, storage };
}

beforeAll(async () => {
  tmp = await tempDir('fetch-mirror');
  reg = await startRegistry();
  ({ image } = await pushFixture(reg, tmp.path));
  upstream = await startFaultProxy({ target: reg.url });
  ({ url: mirrorUrl, proc: mirror } = await startMirror('mirror'));
}, 120_000);

afterAll(async () => {
  mirror?.kill();
  await upstream?.stop();
  await reg?.stop();
  await tmp?.cleanup();
});

describe('a pull-through mirror filling its cache', () => {
  it('five openers: every 200 from the mirror is closed at once and the range read upstream; every byte right', async () => {
    const files = oracle(image);
    const paths = ['/a/f005', '/a/f150', '/a/zcross.bin', '/a/f290', '/p/g05'];
    const big = image.layers[0]!;
    upstream.reset();
    const events: RegistryEvent[] = [];
    for (let n = 0; n < 5; n++) {
      const fs = await openImage(`${upstream.host}/${REPO}:v1`, { platform: PLATFORM, mirrors: { [upstream.host]: [mirrorUrl] }, onEvent: (e) => events.push(e) });
      for (const p of paths) expect(Buffer.compare(await fs.readFile(p), Buffer.from(files.get(p)!)), p).toBe(0);
      await fs.close();
    }
    const bigRequests = upstream.log.filter((r) => r.kind === 'blob' && r.path.includes(big.descriptor.digest));
    const whole = bigRequests.filter((r) => r.range === undefined).reduce((s, r) => s + r.bytesOut, 0);
    const ranges = bigRequests.filter((r) => r.range !== undefined).reduce((s, r) => s + r.bytesOut, 0);
    // the mirror's fill (once; a second fill at most partly), plus what the openers read from the upstream directly
    // Every 200 the mirror sent to a range request was closed at once and the range read from the
    // next endpoint (the upstream): a mirror-fallback (Unavailable) each, never a range-ignored
    // (no 200 was used), and what the openers read from the upstream directly stays under the blob's size.
    expect(events.filter((e) => e.type === 'mirror-fallback' && e.reason === 'Unavailable').length).toBeGreaterThan(0);
    expect(events.filter((e) => e.type === 'range-ignored')).toEqual([]);
    expect(ranges).toBeLessThanOrEqual(big.blob.length);
    // The mirror filled its cache from the upstream (its own whole GETs). On loopback a mirror has
    // pulled much of a small blob before a closed answer reaches it, so the total is not bounded
    // here; bench/mirror.ts measures a large blob.
    expect(whole).toBeGreaterThanOrEqual(big.blob.length);
  }, 120_000);

  it("openImage's Range probe through a filling mirror: the 200 it closed is no range-ignored, the layers stay lazy", async () => {
    // A fresh mirror answers the probe's `bytes=1-1` with 200 (it has not cached the blob); the
    // probe reads byte 1 from the upstream (206). That is no registry without ranges: before the
    // fix the closed 200 emitted range-ignored, the probe said "no ranges" (RANGE_UNSUPPORTED)
    // and every layer was pulled whole, through the mirror, which streamed it from the upstream again.
    const fresh = await startMirror('mirror-probe');
    try {
      const events: RegistryEvent[] = [];
      const imageEvents: ImageFsEvent[] = [];
      const fs = await openImage(`${upstream.host}/${REPO}:v1`, {
        platform: PLATFORM, mirrors: { [upstream.host]: [fresh.url] }, onEvent: (e) => events.push(e), onImageEvent: (e) => imageEvents.push(e),
      });
      expect(Buffer.compare(await fs.readFile('/a/f005'), Buffer.from(oracle(image).get('/a/f005')!))).toBe(0);
      await fs.close();
      expect(events.some((e) => e.type === 'mirror-fallback' && e.reason === 'Unavailable')).toBe(true); // the mirror did answer 200
      const reasons = imageEvents.flatMap((e) => (e.type === 'fallback' ? e.reasons.map((r) => r.code) : []));
      expect(reasons).not.toContain('RANGE_UNSUPPORTED');
      const big = image.layers[0]!.descriptor.digest;
      expect(imageEvents.find((e) => e.type === 'layer' && e.digest === big)).toMatchObject({ mode: 'lazy' });
      expect(events.filter((e) => e.type === 'range-ignored')).toEqual([]);
    } finally {
      fresh.proc.kill();
    }
  }, 60_000);

  it('the Range probe of an image whose source names the mirror (as the CLI opens it) goes to the mirror, not the upstream', async () => {
    const fresh = await startMirror('mirror-source');
    try {
      // the mirror has the probe's blob (the base layer) cached: filled by one whole GET
      const big = image.layers[0]!.descriptor.digest;
      const filled = await fetch(`${fresh.url}/v2/${REPO}/blobs/${big}`);
      expect(Buffer.from(await filled.arrayBuffer()).length).toBe(image.layers[0]!.blob.length);
      upstream.reset();
      const source = new RegistrySource(`${upstream.host}/${REPO}:v1`, { mirrors: { [upstream.host]: [fresh.url] } });
      const fs = await openImage(source, { platform: PLATFORM });
      expect(Buffer.compare(await fs.readFile('/a/f005'), Buffer.from(oracle(image).get('/a/f005')!))).toBe(0);
      await fs.close();
      // before: the probe made a client of its own from openImage's options (no mirrors) and asked the upstream
      expect(upstream.log.filter((r) => r.range === 'bytes=1-1')).toEqual([]);
    } finally {
      fresh.proc.kill();
    }
  }, 60_000);

  it('reads sent together that all get a 200 double the backoff once: back at the mirror after 1 s', async () => {
    // Before the fix every concurrent 200 doubled the backoff (four: 1, 2, 4, 8 s), so a client
    // kept reading the upstream for seconds after the mirror had the blob.
    const fresh = await startMirror('mirror-burst');
    const big = image.layers[0]!;
    // The mirror's fill (its GETs without Range) at 3 MB/s: still filling when the reads arrive.
    upstream.setFaults({ bandwidth: { match: (r) => r.kind === 'blob' && r.method === 'GET' && r.headers['range'] === undefined, bytesPerSecond: 3_000_000 } });
    const events: RegistryEvent[] = [];
    const source = new RegistrySource(`${upstream.host}/${REPO}:v1`, { mirrors: { [upstream.host]: [fresh.url] }, onEvent: (e) => events.push(e) });
    try {
      const blob = await source.openBlob(big.descriptor);
      const t0 = Date.now();
      const offsets = [0, 1, 2, 3].map((k) => k * 800_000); // apart: four requests, not one
      const first = await Promise.all(offsets.map((o) => blob.readAt(o, 1000)));
      offsets.forEach((o, k) => expect(Buffer.compare(Buffer.from(first[k]!), Buffer.from(big.blob.subarray(o, o + 1000)))).toBe(0));
      expect(events.filter((e) => e.type === 'mirror-fallback' && e.reason === 'Unavailable').length).toBeGreaterThanOrEqual(2);
      // Once the mirror has stored the blob and the first backoff (1 s) is over, reads go to the mirror.
      const hex = big.descriptor.digest.slice(7);
      const data = join(fresh.storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
      for (let i = 0; i < 300 && !existsSync(data); i++) await new Promise((r) => setTimeout(r, 50));
      expect(existsSync(data)).toBe(true);
      await new Promise((r) => setTimeout(r, Math.max(0, 1200 - (Date.now() - t0))));
      const before = upstream.log.length;
      const again = await blob.readAt(3_000_000, 1000);
      expect(Buffer.compare(Buffer.from(again), Buffer.from(big.blob.subarray(3_000_000, 3_001_000)))).toBe(0);
      expect(upstream.log.slice(before).filter((r) => r.path.includes(big.descriptor.digest) && r.range !== undefined).map((r) => r.range)).toEqual([]);
    } finally {
      upstream.setFaults({});
      await source.close();
      fresh.proc.kill();
    }
  }, 60_000);

  it('a long read while the mirror fills: the upstream is asked piece by piece, the rest comes from the mirror after the backoff', async () => {
    // Before the fix the whole range went to the upstream in one request: a 64 MiB readahead kept
    // reading the upstream for seconds after the mirror had the blob.
    const fresh = await startMirror('mirror-long');
    const big = image.layers[0]!;
    // Reads of the upstream at 1 MB/s; the mirror's fill (no Range) at full speed.
    upstream.setFaults({ bandwidth: { match: (r) => r.kind === 'blob' && r.headers['range'] !== undefined, bytesPerSecond: 1_000_000 } });
    const events: RegistryEvent[] = [];
    const source = new RegistrySource(`${upstream.host}/${REPO}:v1`, { mirrors: { [upstream.host]: [fresh.url] }, maxMergedBytes: 256 * 1024, onEvent: (e) => events.push(e) });
    const before = upstream.log.length;
    try {
      const blob = await source.openBlob(big.descriptor);
      const bytes = await blob.readAt(0, 3_000_000);
      expect(Buffer.compare(Buffer.from(bytes), Buffer.from(big.blob.subarray(0, 3_000_000)))).toBe(0);
      expect(events.some((e) => e.type === 'mirror-fallback' && e.reason === 'Unavailable')).toBe(true); // the mirror did answer 200
      const direct = upstream.log.slice(before).filter((r) => r.path.includes(big.descriptor.digest) && r.range !== undefined);
      // about the first second's worth (the backoff) from the upstream, the rest from the mirror
      expect(direct.reduce((s, r) => s + r.bytesOut, 0)).toBeLessThan(2_000_000);
      expect(direct.every((r) => r.bytesOut <= 256 * 1024)).toBe(true);
    } finally {
      upstream.setFaults({});
      await source.close();
      fresh.proc.kill();
    }
  }, 60_000);
});

describe('containers-registries.conf (v2) mirror entries', () => {
  it('reads [[registry]] / [[registry.mirror]] tables as the mirrors option; a bad line is InvalidArgument naming it', async () => {
    const { parseRegistriesConf, readRegistriesConf } = await import('../src/registry/registries-conf.js');
    const text = [
      'unqualified-search-registries = ["docker.io"]  # not ours',
      '[[registry]]',
      'prefix = "docker.io"',
      'location = "docker.io"',
      '[[registry.mirror]]',
      'location = "mirror.example.com:5000"',
      '[[registry.mirror]]',
      "location = '127.0.0.1:5001'",
      '[[registry]]',
      'location = "quay.io"',
      '[[registry.mirror]]',
      'location = "plain.example:80/quay"',
      'insecure = true',
      '[[registry]]',
      'location = "ghcr.io" # no mirror',
      '[aliases]',
      '"alpine" = "docker.io/library/alpine"',
    ].join('\n');
    expect(parseRegistriesConf(text)).toEqual({
      'docker.io': ['https://mirror.example.com:5000', 'http://127.0.0.1:5001'],
      'quay.io': ['http://plain.example:80/quay'],
    });
    const err = (() => { try { parseRegistriesConf('[[registry]]\nlocation\n', 'x.conf'); } catch (e) { return e; } return undefined; })();
    expect((err as { code?: string }).code).toBe('InvalidArgument');
    expect((err as Error).message).toContain('x.conf line 2');
    // $CONTAINERS_REGISTRIES_CONF names the file; a missing one means no mirrors
    const path = join(tmp.path, 'registries.conf');
    await writeFile(path, `[[registry]]\nlocation = "${upstream.host}"\n[[registry.mirror]]\nlocation = "${mirrorUrl.slice(7)}"\n`);
    const mirrors = await readRegistriesConf({ CONTAINERS_REGISTRIES_CONF: path });
    expect(mirrors).toEqual({ [upstream.host]: [mirrorUrl] });
    expect(await readRegistriesConf({ CONTAINERS_REGISTRIES_CONF: join(tmp.path, 'missing.conf') })).toEqual({});
    // and the client uses them: the mirror answers (it has cached the image by now), the upstream sends no layer byte
    upstream.reset();
    const fs = await openImage(`${upstream.host}/${REPO}:v1`, { platform: PLATFORM, mirrors });
    expect(Buffer.compare(await fs.readFile('/a/f010'), Buffer.from(oracle(image).get('/a/f010')!))).toBe(0);
    await fs.close();
    expect(upstream.log.filter((r) => r.kind === 'blob' && image.layers.some((l) => r.path.includes(l.descriptor.digest)) && r.range !== 'bytes=1-1').reduce((s, r) => s + r.bytesOut, 0)).toBe(0);
  }, 60_000);
});
