// The whole lazy path against a real registry (CNCF distribution 2.8): `imagefs index --push`, then
// ANOTHER PROCESS finds the index through the referrers tag and reads a file with one range request;
// a corrupt span in the registry's storage or a wrong stored index gives typed errors, no wrong bytes.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageFsError } from '../src/errors/image-fs-error.js';
import { MediaType } from '../src/image/media-types.js';
import { SOCI_INDEX_ARTIFACT_TYPE } from '../src/index-store/media-types.js';
import { buildIndex } from '../src/layer/build-index.js';
import { pushRegistryIndexes } from '../src/index-store/registry-indexes.js';
import { openImage } from '../src/open/open-image.js';
import type { ImageFsEvent } from '../src/open/events.js';
import { referrersTag } from '../src/registry/referrers.js';
import { RegistrySource } from '../src/registry/registry-source.js';
import { BufferSource } from '../src/source/read-at.js';
import { buildImage, dir, file, writeLayout, contentBytes, type BuiltImage } from '../src/testing/builder/index.js';
import { pushLayout, startFaultProxy, startRegistry, type FaultProxy, type TestRegistry, storedBlobPath } from '../src/testing/registry/index.js';
import { tempDir } from './layout-fixtures.js';
import { runCliCapture } from './helpers/run-cli.js';

const SPAN = 256 * 1024;
const PLATFORM = { os: 'linux', architecture: 'amd64' };
const TARGET = { path: 'data/small.bin', content: { seed: 7, size: 4096 } } as const;
const root = join(__dirname, '..');

let tmp: Awaited<ReturnType<typeof tempDir>>;
let image: BuiltImage;
let reg: TestRegistry;
let proxy: FaultProxy;

const cli = runCliCapture;

const blobPath = (digest: string): string => storedBlobPath(reg.storageDir, digest);

beforeAll(async () => {
  tmp = await tempDir('lazy-registry');
  image = await buildImage({
    layers: [
      {
        entries: [dir('data'), file('data/text.txt', { seed: 1, size: 900_000, kind: 'text' }), file('data/rand.bin', { seed: 2, size: 600_000 }),
          file(TARGET.path, TARGET.content), file('data/tail.txt', { seed: 3, size: 200_000, kind: 'text' })],
        compression: 'gnu-gzip',
      },
      { entries: [dir('plain'), file('plain/a.bin', { seed: 4, size: 700_000 }), file('plain/b.txt', 'hello plain\n')], compression: 'none' },
      { entries: [file('z.txt', 'zstd layer\n')], compression: 'zstd' },
    ],
  });
  await writeLayout(join(tmp.path, 'layout'), [{ image, tag: 'v1' }]);
  reg = await startRegistry();
  for (const repo of ['lazy/app', 'lazy/bad']) await pushLayout(reg, { layoutDir: join(tmp.path, 'layout'), tag: 'v1', repo, destTag: 'v1' });
  proxy = await startFaultProxy({ target: reg.url });
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await reg?.stop();
  await tmp?.cleanup();
});

describe('an index pushed once is found and used by another process', () => {
  it('imagefs index --push builds, reports and stores the indexes (a SOCI referrer is kept and reported)', async () => {
    // a SOCI index already refers to the image: it must survive our push and be reported
    const source = new RegistrySource(`${reg.host}/lazy/app:v1`);
    await source.putBlob(new TextEncoder().encode('{}'), { mediaType: MediaType.OCI_EMPTY });
    const soci = await source.putManifest(new TextEncoder().encode(JSON.stringify({
      schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, artifactType: SOCI_INDEX_ARTIFACT_TYPE,
      config: { mediaType: MediaType.OCI_EMPTY, digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 },
      layers: [], subject: { mediaType: MediaType.OCI_MANIFEST, digest: image.descriptor.digest, size: image.descriptor.size },
    })), MediaType.OCI_MANIFEST);
    await source.putManifest(new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [{ ...soci, artifactType: SOCI_INDEX_ARTIFACT_TYPE }] })),
      MediaType.OCI_INDEX, { tag: referrersTag(image.descriptor.digest) });
    await source.close();

    const r = await cli('index', `${reg.host}/lazy/app:v1`, '--push', '--span', String(SPAN), '--json', '--no-cache', '--platform', 'linux/amd64');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { digest: string; layers: Array<{ indexed: boolean; checkpoints?: number; entries?: number; indexSize?: number; reason?: string }>; pushed?: { digest: string } };
    expect(doc.digest).toBe(image.descriptor.digest);
    expect(doc.layers.map((l) => l.indexed)).toEqual([true, true, false]);
    expect(doc.layers[0]!.checkpoints).toBeGreaterThanOrEqual(5);
    expect(doc.layers[0]!.entries).toBe(5);
    expect(doc.layers[1]!.checkpoints).toBe(Math.ceil(image.layers[1]!.blob.length / SPAN));
    expect(doc.layers[2]!.reason).toContain('not seekable');
    expect(doc.pushed?.digest).toMatch(/^sha256:/);

    const text = await cli('index', `${reg.host}/lazy/app:v1`, '--span', String(SPAN), '--no-cache', '--platform', 'linux/amd64');
    expect(text.stdout).toMatch(new RegExp(`${image.layers[0]!.descriptor.digest}  entries 5  checkpoints \\d+  index \\d+ bytes \\(`));
    expect((await cli('index', `oci:${join(tmp.path, 'layout')}:v1`, '--push', '--no-cache')).code).toBe(2);
  }, 60_000);

  it('another process opens lazily (index events, SOCI reported) and reads a file with ONE range request', async () => {
    const child = spawn(join(root, 'node_modules/.bin/tsx'), [join(root, 'test/lazy-child.ts'), `${proxy.host}/lazy/app:v1`, `/${TARGET.path}`], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
    const stderr: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    proxy.reset();
    const first = await lines.next();
    expect(Buffer.concat(stderr).toString()).toBe('');
    const ready = JSON.parse(first.value as string) as { events: ImageFsEvent[] };
    const layerEvents = ready.events.filter((e) => e.type === 'layer');
    expect(layerEvents.map((e) => [e.position, e.how]).sort()).toEqual([[0, 'index'], [1, 'index'], [2, 'whole']]);
    expect(ready.events.filter((e) => e.type === 'soci-index')).toHaveLength(1);
    expect(ready.events.find((e) => e.type === 'pulled')).toMatchObject({ streaming: true });
    // opening fetched manifests, referrers and the index blobs; of the lazy layers at most the
    // eligibility analysis's 1-byte Range probe, never their content
    for (const l of image.layers.slice(0, 2)) {
      for (const r of proxy.log.filter((x) => x.path.includes(l.descriptor.digest))) expect(r.bytesOut).toBeLessThanOrEqual(1);
    }
    expect(proxy.log.some((x) => x.path.includes('/referrers/') || x.path.includes('/manifests/sha256-'))).toBe(true);

    const mark = proxy.log.length;
    child.stdin.write('go\n');
    const result = JSON.parse((await lines.next()).value as string) as { sha256: string; length: number };
    const reads = proxy.log.slice(mark);
    expect(reads).toHaveLength(1);
    expect(reads[0]!.kind).toBe('blob');
    expect(reads[0]!.path).toContain(image.layers[0]!.descriptor.digest);
    expect(reads[0]!.range).toMatch(/^bytes=\d+-\d+$/);
    expect(reads[0]!.status).toBe(206);
    expect(reads[0]!.bytesOut).toBeLessThanOrEqual(SPAN + 64 * 1024);
    expect(result.length).toBe(4096);
    expect(result.sha256).toBe(createHash('sha256').update(contentBytes(TARGET.content)).digest('hex'));
    child.stdin.end();
    await new Promise((resolve) => child.on('close', resolve));
  }, 60_000);

  it('every file read lazily equals the whole path (gzip and plain layers)', async () => {
    const events: ImageFsEvent[] = [];
    const lazy = await openImage(`${reg.host}/lazy/app:v1`, { platform: PLATFORM, onImageEvent: (e) => events.push(e) });
    expect(events.filter((e) => e.type === 'layer').map((e) => e.how).sort()).toEqual(['index', 'index', 'whole']);
    const whole = await openImage(`${reg.host}/lazy/app:v1`, { platform: PLATFORM, mode: 'full' });
    for (const p of ['/data/text.txt', '/data/rand.bin', `/${TARGET.path}`, '/data/tail.txt', '/plain/a.bin', '/plain/b.txt', '/z.txt']) {
      expect((await lazy.readFile(p)).equals(await whole.readFile(p))).toBe(true);
    }
    await lazy.close();
    await whole.close();
  }, 60_000);

  it('a stored index bound to another layer is InvalidArgument; a corrupt index blob is DataLoss', async () => {
    const source = new RegistrySource(`${reg.host}/lazy/bad:v1`);
    const [l0, l1] = [image.layers[0]!, image.layers[1]!];
    const idx1 = await buildIndex(new BufferSource(l1.blob), l1.descriptor, { span: SPAN });
    await pushRegistryIndexes(source, image.descriptor, [{ layer: l0.descriptor, bytes: idx1.bytes }]);
    const err = await openImage(`${reg.host}/lazy/bad:v1`, { platform: PLATFORM }).then(() => undefined, (e: unknown) => e);
    expect(ImageFsError.is(err) && err.code).toBe('InvalidArgument');

    const idx0 = await buildIndex(new BufferSource(l0.blob), l0.descriptor, { span: SPAN / 2 });
    await pushRegistryIndexes(source, image.descriptor, [{ layer: l0.descriptor, bytes: idx0.bytes }]);
    const ok = await openImage(`${reg.host}/lazy/bad:v1`, { platform: PLATFORM });
    await ok.close();
    const path = blobPath(`sha256:${createHash('sha256').update(idx0.bytes).digest('hex')}`);
    const bytes = await readFile(path);
    bytes[100] ^= 1;
    await writeFile(path, bytes);
    const err2 = await openImage(`${reg.host}/lazy/bad:v1`, { platform: PLATFORM }).then(() => undefined, (e: unknown) => e);
    expect(ImageFsError.is(err2) && err2.code).toBe('DataLoss');
    await source.close();
  }, 60_000);

  it('a span corrupted in the registry storage is EIO (cause DataLoss) on read, never wrong bytes', async () => {
    const events: ImageFsEvent[] = [];
    const fs = await openImage(`${reg.host}/lazy/app:v1`, { platform: PLATFORM, onImageEvent: (e) => events.push(e) });
    expect(events.find((e) => e.type === 'layer' && e.position === 0)).toMatchObject({ mode: 'lazy', how: 'index' });
    const layer = image.layers[0]!;
    const path = blobPath(layer.descriptor.digest);
    const bytes = await readFile(path);
    bytes[Math.floor(bytes.length * 0.6)] ^= 0x10;
    await writeFile(path, bytes);
    const results = await Promise.allSettled(['/data/text.txt', '/data/rand.bin', `/${TARGET.path}`, '/data/tail.txt'].map((p) => fs.readFile(p)));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(failed.length).toBeGreaterThan(0);
    for (const f of failed) expect(ImageFsError.is(f.reason) && [f.reason.code, (f.reason.cause as { code?: string }).code]).toEqual(['EIO', 'DataLoss']);
    for (const [i, r] of results.entries()) {
      if (r.status !== 'fulfilled') continue;
      const entry = layer.entries![[1, 2, 3, 4][i]!]!;
      expect(r.value.equals(Buffer.from(entry.data!))).toBe(true);
    }
    await fs.close();
  }, 60_000);
});
