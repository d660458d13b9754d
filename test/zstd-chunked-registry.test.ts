// zstd:chunked layers written by skopeo, pushed to a real registry (CNCF distribution): openImage
// reads them lazily through their own TOC, every file equals the whole read, one small file costs
// one range request of its frames, a corrupt chunk is DataLoss, and a TOC that differs from its
// manifest-checksum annotation is DataLoss at open.
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageFs } from '../src/fs/image-fs.js';
import { openImage } from '../src/open/open-image.js';
import type { ImageFsEvent } from '../src/open/events.js';
import { buildImage, contentBytes, dir, file, hardlink, runTool, symlink, writeLayout, type TarRecord } from '../src/testing/builder/index.js';
import { pushLayout, startFaultProxy, startRegistry, storedBlobPath, type FaultProxy, type TestRegistry } from '../src/testing/registry/index.js';
import { zstdChunkedChecksumOf, type ZstdChunkedToc } from '../src/zstd-chunked/index.js';
import { decompress } from 'fzstd';
import { tempDir } from './layout-fixtures.js';
import { runCliCapture } from './helpers/run-cli.js';

const PLATFORM = { os: 'linux', architecture: 'amd64' };
const BIG = { seed: 31, size: 400_000 } as const;
const TEXT = { seed: 32, size: 90_000, kind: 'text' } as const;
const records: TarRecord[] = [
  dir('app'),
  file('app/small.txt', 'just a few bytes\n', { mode: 0o600, uid: 1000, gid: 1000 }),
  file('app/big.bin', BIG),
  file('app/text.txt', TEXT),
  file('app/x', 'with xattr\n', { xattrs: { 'user.note': 'hi' } }),
  file('app/empty', ''),
  symlink('app/link', 'small.txt'),
  hardlink('app/hard', 'app/small.txt'),
];

interface Layer { digest: string; size: number; annotations: Record<string, string> }
let tmp: Awaited<ReturnType<typeof tempDir>>;
let reg: TestRegistry;
let proxy: FaultProxy;
let layer: Layer;
let blob: Uint8Array;
let toc: ZstdChunkedToc;

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

/** Rewrites the layout's single manifest with `edit` applied to (a copy of skopeo's) layer annotations. */
async function editLayerAnnotations(layoutDir: string, edit: (a: Record<string, string>) => void): Promise<void> {
  const index = await readJson<{ manifests: Array<{ digest: string; size: number }> }>(join(layoutDir, 'index.json'));
  const manifest = await readJson<{ layers: Layer[] }>(join(layoutDir, 'blobs/sha256', index.manifests[0]!.digest.slice(7)));
  manifest.layers[0]!.annotations = { ...layer.annotations };
  edit(manifest.layers[0]!.annotations);
  const bytes = Buffer.from(JSON.stringify(manifest));
  const hex = createHash('sha256').update(bytes).digest('hex');
  await writeFile(join(layoutDir, 'blobs/sha256', hex), bytes);
  index.manifests[0]!.digest = `sha256:${hex}`;
  index.manifests[0]!.size = bytes.length;
  await writeFile(join(layoutDir, 'index.json'), JSON.stringify(index));
}

async function walk(fs: ImageFs, path = '/', out = new Map<string, unknown>()): Promise<Map<string, unknown>> {
  for (const name of (await fs.readdir(path)).sort()) {
    const p = path === '/' ? `/${name}` : `${path}/${name}`;
    const st = await fs.lstat(p);
    const xattrs: Record<string, string> = {};
    for (const x of await fs.listxattr(p)) xattrs[x] = (await fs.getxattr(p, x)).toString('hex');
    const node: Record<string, unknown> = { mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, mtime: st.mtime.getTime(), nlink: st.nlink, xattrs };
    if (st.isFile()) node.data = (await fs.readFile(p)).toString('base64');
    if (st.isSymbolicLink()) node.target = await fs.readlink(p);
    out.set(p, node);
    if (st.isDirectory()) await walk(fs, p, out);
  }
  return out;
}

beforeAll(async () => {
  tmp = await tempDir('zstd-chunked-registry');
  reg = await startRegistry();
  const plain = await buildImage({ layers: [{ entries: records, compression: 'none' }] });
  const src = join(tmp.path, 'src');
  const dst = join(tmp.path, 'dst');
  await writeLayout(src, [{ image: plain, tag: 't' }]);
  await runTool('skopeo', ['copy', '--insecure-policy', '--dest-compress', '--dest-compress-format', 'zstd:chunked', `oci:${src}:t`, `oci:${dst}:t`]);
  const index = await readJson<{ manifests: Array<{ digest: string }> }>(join(dst, 'index.json'));
  layer = (await readJson<{ layers: Layer[] }>(join(dst, 'blobs/sha256', index.manifests[0]!.digest.slice(7)))).layers[0]!;
  expect(zstdChunkedChecksumOf({ mediaType: '', ...layer })).toMatch(/^sha256:/);
  blob = new Uint8Array(await readFile(join(dst, 'blobs/sha256', layer.digest.slice(7))));
  const [off, len] = Object.entries(layer.annotations).find(([k]) => k.endsWith('manifest-position'))![1].split(':').map(Number) as [number, number];
  toc = JSON.parse(Buffer.from(decompress(blob.subarray(off, off + len))).toString('utf8')) as ZstdChunkedToc;
  await pushLayout(reg, { layoutDir: dst, tag: 't', repo: 'zc/good', destTag: 'v1' });
  await editLayerAnnotations(dst, (a) => {
    for (const k of Object.keys(a)) if (k.endsWith('manifest-checksum')) a[k] = `sha256:${'1'.repeat(64)}`;
  });
  await pushLayout(reg, { layoutDir: dst, tag: 't', repo: 'zc/wrongsum', destTag: 'v1' });
  await editLayerAnnotations(dst, (a) => {
    for (const k of Object.keys(a)) if (k.endsWith('manifest-position')) delete a[k];
  });
  await pushLayout(reg, { layoutDir: dst, tag: 't', repo: 'zc/nopos', destTag: 'v1' });
  await editLayerAnnotations(dst, (a) => {
    for (const k of Object.keys(a)) delete a[k];
  });
  await pushLayout(reg, { layoutDir: dst, tag: 't', repo: 'zc/bare', destTag: 'v1' });
  proxy = await startFaultProxy({ target: reg.url });
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await reg?.stop();
  await tmp?.cleanup();
});

describe('zstd:chunked layers from a registry', () => {
  it('opens lazily through the TOC (how: zstd-chunked) and serves exactly what a whole read serves', async () => {
    const events: ImageFsEvent[] = [];
    proxy.reset();
    const lazy = await openImage(`${proxy.host}/zc/good:v1`, { platform: PLATFORM, onImageEvent: (e) => events.push(e) });
    const full = await openImage(`${reg.host}/zc/good:v1`, { platform: PLATFORM, mode: 'full' });
    try {
      const layers = events.filter((e): e is Extract<ImageFsEvent, { type: 'layer' }> => e.type === 'layer');
      expect(layers.map((e) => [e.mode, e.how])).toEqual([['lazy', 'zstd-chunked']]);
      // opening read the compressed TOC only (the position annotation locates it)
      // (a 1-byte read is openImage's Range-support probe)
      const reads = proxy.log.filter((r) => r.path.includes(layer.digest) && r.method === 'GET' && r.bytesOut > 1);
      const [off, len] = Object.entries(layer.annotations).find(([k]) => k.endsWith('manifest-position'))![1].split(':').map(Number) as [number, number];
      expect(reads.map((r) => r.range)).toEqual([`bytes=${off}-${off + len - 1}`]);
      const a = await walk(lazy);
      const b = await walk(full);
      expect([...a.keys()]).toEqual([...b.keys()]);
      for (const [p, node] of a) expect(node, p).toEqual(b.get(p));
      expect((await lazy.readFile('/app/big.bin')).equals(Buffer.from(contentBytes(BIG)))).toBe(true);
      expect((await lazy.readFile('/app/text.txt')).equals(Buffer.from(contentBytes(TEXT)))).toBe(true);
      expect(await lazy.readlink('/app/link')).toBe('small.txt');
      expect((await lazy.lstat('/app/hard')).ino).toBe((await lazy.lstat('/app/small.txt')).ino);
      expect((await lazy.getxattr('/app/x', 'user.note')).toString()).toBe('hi');
      // big.bin is stored as several chunks
      expect(toc.entries.filter((e) => e.name === 'app/big.bin').length).toBeGreaterThan(1);
    } finally {
      await lazy.close();
      await full.close();
    }
  }, 60_000);

  it('reading one small file fetches only its frames', async () => {
    const lazy = await openImage(`${proxy.host}/zc/good:v1`, { platform: PLATFORM });
    try {
      proxy.reset();
      expect(await lazy.readFile('/app/small.txt', 'utf8')).toBe('just a few bytes\n');
      const e = toc.entries.find((x) => x.name === 'app/small.txt')!;
      const reads = proxy.log.filter((r) => r.method === 'GET' && r.bytesOut > 0);
      expect(reads.map((r) => r.range)).toEqual([`bytes=${e.offset}-${e.endOffset! - 1}`]);
      expect(reads[0]!.bytesOut).toBeLessThan(100);
    } finally {
      await lazy.close();
    }
  }, 30_000);

  it('a manifest-checksum annotation that does not match the TOC is DataLoss at open', async () => {
    await expect(openImage(`${reg.host}/zc/wrongsum:v1`, { platform: PLATFORM })).rejects.toMatchObject({ code: 'DataLoss', message: expect.stringMatching(/manifest-checksum/) });
  }, 30_000);

  it('without the position annotation, the footer locates the TOC (still lazy, same files)', async () => {
    const events: ImageFsEvent[] = [];
    proxy.reset();
    const lazy = await openImage(`${proxy.host}/zc/nopos:v1`, { platform: PLATFORM, onImageEvent: (e) => events.push(e) });
    try {
      expect(events.filter((e) => e.type === 'layer').map((e) => (e as { how: string }).how)).toEqual(['zstd-chunked']);
      const reads = proxy.log.filter((r) => r.path.includes(layer.digest) && r.method === 'GET' && r.bytesOut > 1);
      expect(reads[0]!.range).toBe(`bytes=${blob.length - 72}-${blob.length - 1}`);
      expect((await lazy.readFile('/app/big.bin')).equals(Buffer.from(contentBytes(BIG)))).toBe(true);
    } finally {
      await lazy.close();
    }
  }, 30_000);

  it('without the manifest-checksum annotation the layer is read whole (nothing vouches for the TOC)', async () => {
    const events: ImageFsEvent[] = [];
    const fs = await openImage(`${reg.host}/zc/bare:v1`, { platform: PLATFORM, onImageEvent: (e) => events.push(e) });
    try {
      expect(events.filter((e) => e.type === 'layer').map((e) => [(e as { mode: string }).mode, (e as { how: string }).how])).toEqual([['whole', 'whole']]);
      expect(await fs.readFile('/app/small.txt', 'utf8')).toBe('just a few bytes\n');
    } finally {
      await fs.close();
    }
  }, 30_000);

  it('imagefs check agrees: seekable with the checksum annotation, NOT_SEEKABLE without it', async () => {
    type Check = { eligible: boolean; reasons: Array<{ code: string; message: string }>; layers: Array<{ mode: string; index?: string }> };
    const check = async (repo: string): Promise<Check> => JSON.parse((await runCliCapture('--no-cache', '--json', 'check', `${reg.host}/zc/${repo}:v1`)).stdout) as Check;
    const good = await check('good');
    expect(good.eligible).toBe(true);
    // Under the 10 MiB threshold, but its own table of contents costs nothing to build: lazy.
    expect(good.reasons).toEqual([]);
    expect(good.layers.map((l) => [l.mode, l.index])).toEqual([['lazy', 'own-toc']]);
    const bare = await check('bare');
    expect(bare.reasons.map((r) => r.code)).toEqual(['NOT_SEEKABLE']);
    expect(bare.reasons[0]!.message).toMatch(/no manifest-checksum annotation/);
    expect(bare.layers.map((l) => l.mode)).toEqual(['whole']);
  }, 30_000);

  // last: it corrupts the shared blob in the registry's storage
  it('a corrupt chunk in the registry is EIO (cause DataLoss) on read; other files still read', async () => {
    const e = toc.entries.find((x) => x.name === 'app/text.txt')!;
    const path = storedBlobPath(reg.storageDir, layer.digest);
    const stored = new Uint8Array(await readFile(path));
    const at = Math.floor((e.offset! + (e.endOffset ?? e.offset! + 40)) / 2);
    stored[at] = stored[at]! ^ 0xff;
    await writeFile(path, stored);
    const lazy = await openImage(`${reg.host}/zc/good:v1`, { platform: PLATFORM });
    try {
      await expect(lazy.readFile('/app/text.txt')).rejects.toMatchObject({ code: 'EIO', cause: { code: 'DataLoss' } });
      expect(await lazy.readFile('/app/small.txt', 'utf8')).toBe('just a few bytes\n');
    } finally {
      await lazy.close();
    }
  }, 30_000);
});
