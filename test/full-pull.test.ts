import { createHash } from 'node:crypto';
import { readdir, readFile, rm, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskCache } from '../src/cache/disk-cache.js';
import { MemoryCache } from '../src/cache/memory-cache.js';
import type { ImageFs } from '../src/fs/image-fs.js';
import type { Descriptor, ImageSource } from '../src/image/types.js';
import { pullImage } from '../src/layer/full-pull.js';
import { layerTarKey } from '../src/layer/whole-layer.js';
import { ChunkListSource } from '../src/layer/chunk-list-source.js';
import type { ImageFsEvent } from '../src/open/events.js';
import { openImage, type OpenImageOptions } from '../src/open/open-image.js';
import { RegistrySource } from '../src/registry/registry-source.js';
import { buildImage, contentBytes, dir, file, jsonBytes } from '../src/testing/builder/index.js';
import { pushBlob, storedBlobPath } from '../src/testing/registry/index.js';
import { pushBuilt, startBench, type Bench, type CaseName } from './eligibility-fixture.js';

let bench: Bench;
let tmp: string;
beforeAll(async () => {
  bench = await startBench();
  tmp = await mkdtemp(join(tmpdir(), 'imagefs-fullpull-'));
}, 60_000);
afterAll(async () => {
  await bench?.stop();
  await rm(tmp, { recursive: true, force: true });
});

const FILES: Record<string, Uint8Array> = {
  '/etc/a.txt': contentBytes({ seed: 1, size: 5000 }),
  '/etc/motd': contentBytes('hello\n'),
  '/data/b.bin': contentBytes({ seed: 2, size: 300_000 }),
};
const FOREIGN = contentBytes({ seed: 3, size: 70_000 });

async function expectFiles(fs: ImageFs, files: Record<string, Uint8Array>): Promise<void> {
  for (const [path, bytes] of Object.entries(files)) {
    const got = await fs.readFile(path);
    expect(got.length, path).toBe(bytes.length);
    expect(Buffer.compare(got, Buffer.from(bytes)), path).toBe(0);
  }
}

let n = 0;
async function freshCache(): Promise<{ cache: DiskCache; dir: string }> {
  const d = join(tmp, `cache-${n++}`);
  return { cache: await DiskCache.open(d), dir: d };
}

async function open(ref: string, options: OpenImageOptions = {}): Promise<{ fs: ImageFs; events: ImageFsEvent[] }> {
  const events: ImageFsEvent[] = [];
  const fs = await openImage(ref, { authFile: false, minLazyLayerSize: 1024, onImageEvent: (e) => events.push(e), ...options });
  return { fs, events };
}

describe('the full pull serves every ineligible image that can be served, through the same API', () => {
  const cases: Array<[CaseName | 'range', string, Record<string, Uint8Array>]> = [
    ['dup', 'DUPLICATE_LAYER', FILES],
    ['empty', 'EMPTY_LAYER', FILES],
    ['foreign', 'NON_DISTRIBUTABLE_LAYER', { '/etc/a.txt': FILES['/etc/a.txt']!, '/foreign/f.bin': FOREIGN }],
    ['zstd', 'NOT_SEEKABLE', FILES],
    ['range', 'RANGE_UNSUPPORTED', FILES],
  ];
  for (const [name, code, files] of cases) {
    it(`${name}: auto mode emits a fallback event with ${code}, pulls those layers whole, and the files match the builder's input`, async () => {
      const { cache } = await freshCache();
      const ref = name === 'range' ? bench.rangeRef : bench.ref(name);
      const hitsBefore = bench.foreignHits;
      const { fs, events } = await open(ref, { cache });
      try {
        await expectFiles(fs, files);
        const fallback = events.find((e): e is Extract<ImageFsEvent, { type: 'fallback' }> => e.type === 'fallback');
        expect(fallback?.reasons.map((r) => r.code)).toContain(code);
        expect(events.filter((e) => e.type === 'layer').every((e) => e.type === 'layer' && e.mode === 'whole')).toBe(true);
        if (name === 'foreign') expect(bench.foreignHits).toBe(hitsBefore + 1); // fetched from its URL, once
      } finally {
        await fs.close();
        await cache.close();
      }
    });
  }

  it('an eligible image emits no fallback event', async () => {
    const { fs, events } = await open(bench.ref('ok'), { mode: 'auto' });
    try {
      await expectFiles(fs, FILES);
      expect(events.some((e) => e.type === 'fallback')).toBe(false);
      expect(events.map((e) => e.type)).toEqual(['pulling', 'layer', 'layer', 'pulled']);
    } finally {
      await fs.close();
    }
  });

  it("mode 'full' pulls into a DiskCache: blobs and tars on disk, and a later open downloads nothing", async () => {
    const { cache, dir: cacheDir } = await freshCache();
    const { fs, events } = await open(bench.ref('zstd'), { mode: 'full', cache });
    await expectFiles(fs, FILES);
    expect(events.some((e) => e.type === 'fallback')).toBe(false);
    await fs.close();
    const image = bench.images.zstd;
    const blobs = await readdir(join(cacheDir, 'blobs', 'sha256'));
    for (const l of image.layers) expect(blobs).toContain(l.descriptor.digest.slice(7));
    const other = await readdir(join(cacheDir, 'other'));
    expect(other).toHaveLength(2);
    for (const l of image.layers) {
      const tar = await readFile(join(cacheDir, 'other', encodeURIComponent(layerTarKey(l.descriptor.digest)).replace(/%2F/g, '%2F')));
      expect(Buffer.compare(tar, Buffer.from(l.tar))).toBe(0);
    }
    // A source that refuses every blob: the layers come from the cache alone, read from disk.
    const real = new RegistrySource(bench.ref('zstd'), { authFile: false });
    const resolved = await real.resolve();
    const refusing: ImageSource = {
      reference: real.reference,
      resolve: () => real.resolve(),
      openBlob: async () => { throw new Error('no download expected'); },
      close: () => real.close(),
    };
    const layers = await pullImage(refusing, resolved, { cache });
    try {
      expect(layers.map((l) => l.data.size)).toEqual(image.layers.map((l) => l.tar.length));
      expect(layers.some((l) => l.data instanceof ChunkListSource)).toBe(false);
      const entries = await layers[1]!.entries();
      const bin = entries.find((e) => e.path === 'data/b.bin')!;
      const bytes = await layers[1]!.data.readAt(bin.dataOffset, bin.size);
      expect(Buffer.compare(Buffer.from(bytes), Buffer.from(FILES['/data/b.bin']!))).toBe(0);
    } finally {
      await Promise.all(layers.map((l) => l.close()));
      await real.close();
      await cache.close();
    }
  });

  it('encrypted and unknown media types cannot be served: InvalidArgument naming the layer', async () => {
    for (const name of ['enc', 'unsupported'] as const) {
      const e = await open(bench.ref(name), { mode: 'full' }).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'InvalidArgument' });
      expect((e as Error).message).toContain(bench.images[name].layers[1]!.descriptor.digest);
    }
  });

  it('schema 1 is served whole: a SCHEMA1_MANIFEST fallback, every layer whole (see schema1-pull.test.ts)', async () => {
    const { fs, events } = await open(bench.schema1Ref);
    expect(events.find((e) => e.type === 'fallback')).toMatchObject({ reasons: [expect.objectContaining({ code: 'SCHEMA1_MANIFEST' })] });
    const layers = events.filter((e) => e.type === 'layer');
    expect(layers.length).toBeGreaterThan(0);
    expect(layers.every((e) => e.type === 'layer' && e.mode === 'whole')).toBe(true);
    expect((await fs.readdir('/')).length).toBeGreaterThan(0);
    await fs.close();
  });

  it('a memory cache works too, and pullImage without a cache holds the tar in memory', async () => {
    const source = new RegistrySource(bench.ref('ok'), { authFile: false });
    const resolved = await source.resolve();
    const mem = new MemoryCache({ maxBytes: 64 * 1024 * 1024 });
    for (const cache of [mem, undefined]) {
      const layers = await pullImage(source, resolved, cache === undefined ? {} : { cache, concurrency: 1 });
      expect(layers.map((l) => l.data.size)).toEqual(bench.images.ok.layers.map((l) => l.tar.length));
      const tar = await layers[1]!.data.readAt(0, layers[1]!.data.size);
      expect(Buffer.compare(Buffer.from(tar), Buffer.from(bench.images.ok.layers[1]!.tar))).toBe(0);
      await Promise.all(layers.map((l) => l.close()));
    }
    expect(await mem.has(layerTarKey(resolved.layers[1]!.digest))).toBe(true);
    await mem.close();
    await source.close();
  });
});

describe('a digest mismatch during the full pull', () => {
  it('is DataLoss naming the layer, and leaves nothing in the DiskCache', async () => {
    const image = await buildImage({ layers: [
      { entries: [dir('x/'), file('x/one', { seed: 91, size: 40_000 })] },
      { entries: [dir('y/'), file('y/two', { seed: 92, size: 90_000 })] },
    ] });
    await pushBuilt(bench.reg, 'elig/corrupt', 'v1', image);
    const bad = image.layers[1]!.descriptor.digest.slice(7);
    const blobFile = storedBlobPath(bench.reg.storageDir, bad);
    const bytes = await readFile(blobFile);
    bytes[bytes.length >> 1] ^= 0xff; // same size, other bytes
    await writeFile(blobFile, bytes);
    const { cache, dir: cacheDir } = await freshCache();
    const e = await open(`${bench.reg.host}/elig/corrupt:v1`, { mode: 'full', cache, layerConcurrency: 1 }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'DataLoss' });
    expect((e as Error).message).toContain(image.layers[1]!.descriptor.digest);
    // The good layer 0 may be cached (it was verified); nothing of layer 1, and no temp files.
    const blobs = await readdir(join(cacheDir, 'blobs', 'sha256')).catch(() => []);
    expect(blobs).not.toContain(bad);
    const other = await readdir(join(cacheDir, 'other')).catch(() => []);
    expect(other.some((f) => f.includes(bad))).toBe(false);
    expect(await readdir(join(cacheDir, 'tmp')).catch(() => [])).toEqual([]);
    expect(await cache.has(image.layers[1]!.descriptor.digest)).toBe(false);
    await cache.close();
  });
});

/** A copy of `base` with another config and/or other layer descriptors (manifest rebuilt). */
function craft(base: Awaited<ReturnType<typeof buildImage>>, change: { configBytes?: Uint8Array; configSize?: number; layers?: Descriptor[] }) {
  const configBytes = change.configBytes ?? base.configBytes;
  const config: Descriptor = { ...base.manifest.config, digest: `sha256:${createHash('sha256').update(configBytes).digest('hex')}`, size: change.configSize ?? configBytes.length };
  const manifest = { ...base.manifest, config, layers: change.layers ?? base.manifest.layers };
  const manifestBytes = jsonBytes(manifest);
  const digest = `sha256:${createHash('sha256').update(manifestBytes).digest('hex')}`;
  const blobs = new Map(base.blobs);
  blobs.delete(base.descriptor.digest);
  blobs.delete(base.manifest.config.digest);
  blobs.set(config.digest, configBytes);
  blobs.set(digest, manifestBytes);
  return { ...base, manifest, manifestBytes, configBytes, blobs, descriptor: { ...base.descriptor, digest, size: manifestBytes.length } };
}

describe('bad input, through the registry and through a layout: InvalidArgument or DataLoss naming the descriptor', () => {
  let base: Awaited<ReturnType<typeof buildImage>>;
  beforeAll(async () => {
    base = await buildImage({ layers: [{ entries: [file('one', { seed: 71, size: 3000 })] }, { entries: [file('two', { seed: 72, size: 3000 })] }] });
  });

  async function both(name: string, image: ReturnType<typeof craft>, push: () => Promise<void> = () => pushBuilt(bench.reg, `elig/bad-${name}`, 'v1', image)): Promise<unknown[]> {
    await push();
    const layout = join(tmp, `layout-${name}`);
    const { writeLayout } = await import('../src/testing/builder/index.js');
    await writeLayout(layout, [{ image, tag: 'v1' }]);
    const out: unknown[] = [];
    for (const ref of [`${bench.reg.host}/elig/bad-${name}:v1`, `oci:${layout}:v1`]) {
      out.push(await open(ref, { mode: 'full' }).then(async ({ fs }) => { await fs.close(); return 'opened'; }, (x: unknown) => x));
      out.push(await (await import('../src/eligibility/analyze.js')).analyzeEligibility(ref, { authFile: false }).then(() => 'analysed', (x: unknown) => x));
    }
    return out;
  }

  it('a config whose diff_ids disagree with the layers', async () => {
    const config = JSON.parse(Buffer.from(base.configBytes).toString()) as { rootfs: { diff_ids: string[] } };
    config.rootfs.diff_ids.pop();
    const image = craft(base, { configBytes: jsonBytes(config) });
    for (const e of await both('diffids', image)) {
      expect(e).toMatchObject({ code: 'InvalidArgument' });
      expect((e as Error).message).toMatch(/1 diff_ids but the manifest has 2 layers/);
      expect((e as Error).message).toContain(image.manifest.config.digest);
    }
  });

  it('a config that is not JSON', async () => {
    const image = craft(base, { configBytes: new TextEncoder().encode('this is not { json') });
    for (const e of await both('notjson', image)) {
      expect(e).toMatchObject({ code: 'InvalidArgument' });
      expect((e as Error).message).toContain(image.manifest.config.digest);
    }
  });

  it('a layer descriptor whose size lies', async () => {
    const layers = base.manifest.layers.map((l, i) => (i === 1 ? { ...l, size: l.size + 10 } : l));
    const image = craft(base, { layers });
    const [regOpen, , layoutOpen] = await both('size', image);
    for (const e of [regOpen, layoutOpen]) {
      expect(e).toMatchObject({ code: 'DataLoss' });
      expect((e as Error).message).toContain(layers[1]!.digest);
    }
  });

  it('a config descriptor whose size lies', async () => {
    const image = craft(base, { configSize: base.configBytes.length - 5 });
    for (const e of await both('configsize', image)) {
      expect(e).toMatchObject({ code: 'DataLoss' });
      expect((e as Error).message).toContain(image.manifest.config.digest);
    }
  });

  it('a layer digest with an algorithm imagefs cannot verify (sha384)', async () => {
    const blob = base.layers[1]!.blob;
    const d384 = `sha384:${createHash('sha384').update(blob).digest('hex')}`;
    const layers = base.manifest.layers.map((l, i) => (i === 1 ? { ...l, digest: d384 } : l));
    const image = craft(base, { layers });
    const results = await both('sha384', image, async () => {
      // distribution accepts sha384: upload the blob under that digest, then the rest
      const post = await fetch(`${bench.reg.url}/v2/elig/bad-sha384/blobs/uploads/`, { method: 'POST' });
      const location = new URL(post.headers.get('location')!, bench.reg.url);
      location.searchParams.set('digest', d384);
      expect((await fetch(location, { method: 'PUT', body: blob })).status).toBe(201);
      await pushBlob(bench.reg, 'elig/bad-sha384', base.layers[0]!.blob);
      const trimmed = new Map(image.blobs);
      trimmed.delete(d384);
      await pushBuilt(bench.reg, 'elig/bad-sha384', 'v1', { ...image, blobs: trimmed });
    });
    for (const e of results) {
      expect(e).toMatchObject({ code: 'InvalidArgument' });
      expect((e as Error).message).toMatch(/sha384/);
      expect((e as Error).message).toMatch(/layer 1/);
    }
  });
});
