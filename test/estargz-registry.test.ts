// eStargz layers against a real registry (CNCF distribution 2.8): openImage reads them lazily
// through their own TOC (no imagefs index), every file equals the whole read, one small file costs
// one range request of its chunk's member, and corruption gives DataLoss.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ESTARGZ_TOC_DIGEST, tocToLayout } from '../src/estargz/index.js';
import type { ImageFs } from '../src/fs/image-fs.js';
import { openImage } from '../src/open/open-image.js';
import type { ImageFsEvent } from '../src/open/events.js';
import {
  buildImage, charDevice, contentBytes, dir, file, hardlink, symlink, writeEstargz, writeLayout, type BuiltImage, type EstargzBlob, type TarRecord,
} from '../src/testing/builder/index.js';
import { pushLayout, startFaultProxy, startRegistry, type FaultProxy, type TestRegistry, storedBlobPath } from '../src/testing/registry/index.js';
import { tempDir } from './layout-fixtures.js';

const PLATFORM = { os: 'linux', architecture: 'amd64' };
const CHUNK = 16 * 1024;
const BIG = { seed: 21, size: 200_000 } as const;
const records: TarRecord[] = [
  dir('app'),
  file('app/small.txt', 'just a few bytes\n', { mode: 0o600, uid: 1000, gid: 1000 }),
  file('app/big.bin', BIG),
  file('app/text.txt', { seed: 22, size: 70_000, kind: 'text' }),
  file('app/cap', 'ping\n', { mode: 0o755, xattrs: { 'security.capability': new Uint8Array([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 'user.note': 'hi' } }),
  file('app/empty', ''),
  symlink('app/link', 'small.txt'),
  hardlink('app/hard', 'app/small.txt'),
  dir('dev'),
  charDevice('dev/null', 1, 3),
];

let tmp: Awaited<ReturnType<typeof tempDir>>;
let reg: TestRegistry;
let proxy: FaultProxy;
let es: EstargzBlob;
let good: BuiltImage;

const blobPath = (digest: string): string => storedBlobPath(reg.storageDir, digest);

async function imageWith(estargz: EstargzBlob, annotation: string, name: string): Promise<BuiltImage> {
  const image = await buildImage({
    layers: [
      { entries: [dir('base'), file('base/os-release', 'ID=test\n'), file('app/text.txt', 'replaced by the upper layer\n')] },
      { blob: estargz.blob, tar: estargz.tar, compression: 'gzip', annotations: { [ESTARGZ_TOC_DIGEST]: annotation } },
    ],
  });
  await writeLayout(join(tmp.path, name), [{ image, tag: 'v1' }]);
  await pushLayout(reg, { layoutDir: join(tmp.path, name), tag: 'v1', repo: `es/${name}`, destTag: 'v1' });
  return image;
}

async function walk(fs: ImageFs, path = '/', out = new Map<string, unknown>()): Promise<Map<string, unknown>> {
  for (const name of (await fs.readdir(path)).sort()) {
    const p = path === '/' ? `/${name}` : `${path}/${name}`;
    const st = await fs.lstat(p);
    const xattrs: Record<string, string> = {};
    for (const x of await fs.listxattr(p)) xattrs[x] = (await fs.getxattr(p, x)).toString('hex');
    const node: Record<string, unknown> = { mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, mtime: st.mtime.getTime(), nlink: st.nlink, rdev: st.rdev, xattrs };
    if (st.isFile()) node.sha = (await fs.readFile(p)).toString('base64');
    if (st.isSymbolicLink()) node.target = await fs.readlink(p);
    out.set(p, node);
    if (st.isDirectory()) await walk(fs, p, out);
  }
  return out;
}

beforeAll(async () => {
  tmp = await tempDir('estargz-registry');
  reg = await startRegistry();
  es = writeEstargz(records, { chunkSize: CHUNK, landmark: 'prefetch' });
  good = await imageWith(es, es.tocDigest, 'good');
  await imageWith(es, `sha256:${'1'.repeat(64)}`, 'wrongtoc');
  proxy = await startFaultProxy({ target: reg.url });
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await reg?.stop();
  await tmp?.cleanup();
});

describe('eStargz layers from a registry', () => {
  it('opens lazily through the TOC (event how: estargz) and serves exactly what a whole read serves', async () => {
    const events: ImageFsEvent[] = [];
    proxy.reset();
    const lazy = await openImage(`${proxy.host}/es/good:v1`, { platform: PLATFORM, onImageEvent: (e) => events.push(e) });
    const full = await openImage(`${reg.host}/es/good:v1`, { platform: PLATFORM, mode: 'full' });
    try {
      const layers = events.filter((e): e is Extract<ImageFsEvent, { type: 'layer' }> => e.type === 'layer').sort((a, b) => a.position - b.position);
      expect(layers.map((e) => [e.mode, e.how])).toEqual([['whole', 'whole'], ['lazy', 'estargz']]);
      expect(events.find((e) => e.type === 'pulled')).toMatchObject({ streaming: true });
      // opening fetched the footer and the TOC member of the eStargz blob, nothing more
      const esDigest = good.layers[1]!.descriptor.digest;
      const esReads = proxy.log.filter((r) => r.path.includes(esDigest) && r.method === 'GET' && r.bytesOut > 1);
      expect(esReads.map((r) => r.range)).toEqual([`bytes=${es.blob.length - 51}-${es.blob.length - 1}`, `bytes=${es.tocOffset}-${es.blob.length - 52}`]);

      const a = await walk(lazy);
      const b = await walk(full);
      // the whole read shows the real tar entries the stargz snapshotter hides: the TOC and the landmark
      expect(b.has('/stargz.index.json') && b.has('/.prefetch.landmark')).toBe(true);
      b.delete('/stargz.index.json');
      b.delete('/.prefetch.landmark');
      expect(a.has('/stargz.index.json') || a.has('/.prefetch.landmark')).toBe(false);
      expect([...a.keys()]).toEqual([...b.keys()]);
      for (const [p, node] of a) expect(node, p).toEqual(b.get(p));
      // and what the builder put in
      expect((await lazy.readFile('/app/big.bin')).equals(Buffer.from(contentBytes(BIG)))).toBe(true);
      expect(await lazy.readFile('/app/text.txt')).toEqual(Buffer.from(contentBytes({ seed: 22, size: 70_000, kind: 'text' })));
      expect(await lazy.readFile('/base/os-release', 'utf8')).toBe('ID=test\n');
      expect(await lazy.readlink('/app/link')).toBe('small.txt');
      expect((await lazy.lstat('/app/hard')).ino).toBe((await lazy.lstat('/app/small.txt')).ino);
      expect((await lazy.lstat('/app/small.txt')).nlink).toBe(2);
      expect((await lazy.getxattr('/app/cap', 'security.capability'))[3]).toBe(2);
    } finally {
      await lazy.close();
      await full.close();
    }
  }, 60_000);

  it('reads one small file with one range request covering only its chunk member', async () => {
    const fs = await openImage(`${proxy.host}/es/good:v1`, { platform: PLATFORM });
    try {
      const layout = tocToLayout(es.toc as never, es.tocOffset, { subject: 'x' });
      const small = layout.entries.find((e) => e.path === 'app/small.txt')!;
      const chunk = layout.chunks.find((c) => c.virtualOffset === small.dataOffset)!;
      const mark = proxy.log.length;
      expect(await fs.readFile('/app/small.txt', 'utf8')).toBe('just a few bytes\n');
      const reads = proxy.log.slice(mark);
      expect(reads).toHaveLength(1);
      expect(reads[0]!.range).toBe(`bytes=${chunk.memberStart}-${chunk.memberEnd - 1}`);
      expect(reads[0]!.bytesOut).toBe(chunk.memberEnd - chunk.memberStart);
      expect(reads[0]!.bytesOut).toBeLessThan(1024);
      // a 4 KiB read in the middle of the multi-chunk file: one request, at most two chunk members
      const h = await fs.open('/app/big.bin');
      const buf = Buffer.alloc(4096);
      const at = 3 * CHUNK - 2048;
      const before = proxy.log.length;
      await h.read(buf, 0, 4096, at);
      await h.close();
      expect(buf.equals(Buffer.from(contentBytes(BIG).subarray(at, at + 4096)))).toBe(true);
      const more = proxy.log.slice(before);
      expect(more).toHaveLength(1);
      expect(more[0]!.bytesOut).toBeLessThan(2 * CHUNK + 1024);
    } finally {
      await fs.close();
    }
  }, 30_000);

  it('a wrong toc.digest annotation fails the open with DataLoss', async () => {
    await expect(openImage(`${reg.host}/es/wrongtoc:v1`, { platform: PLATFORM })).rejects.toMatchObject({ code: 'DataLoss' });
  }, 30_000);

  it('a corrupted chunk in registry storage gives EIO (cause DataLoss) on read, never wrong bytes', async () => {
    // a different blob for this test so the good image's blob stays intact
    const other = writeEstargz([dir('x'), file('x/a.bin', { seed: 31, size: 40_000 }), file('x/b.txt', 'intact\n')], { chunkSize: CHUNK });
    const image = await imageWith(other, other.tocDigest, 'corrupt');
    const layout = tocToLayout(other.toc as never, other.tocOffset, { subject: 'x' });
    const path = blobPath(image.layers[1]!.descriptor.digest);
    const bytes = await readFile(path);
    bytes[layout.chunks[1]!.memberStart + 40] ^= 0xff;
    await writeFile(path, bytes);
    const fs = await openImage(`${reg.host}/es/corrupt:v1`, { platform: PLATFORM });
    try {
      await expect(fs.readFile('/x/a.bin')).rejects.toMatchObject({ code: 'EIO', cause: { code: 'DataLoss' } });
      expect(await fs.readFile('/x/b.txt', 'utf8')).toBe('intact\n');
    } finally {
      await fs.close();
    }
  }, 30_000);
});
