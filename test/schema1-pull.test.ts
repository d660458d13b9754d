import { readFile, rm, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/run.js';
import { validateResolvedImage } from '../src/eligibility/validate-image.js';
import type { ImageFs } from '../src/fs/image-fs.js';
import { MediaType } from '../src/image/media-types.js';
import type { ImageFsEvent } from '../src/open/events.js';
import { openImage } from '../src/open/open-image.js';
import type { FetchedManifest } from '../src/registry/manifest.js';
import { RegistrySource } from '../src/registry/registry-source.js';
import { schema1ToResolvedImage } from '../src/registry/schema1.js';
import {
  buildImage, buildSchema1Manifest, contentBytes, dir, file, hardlink, symlink, whiteout, opaque, writeLayout, type BuiltImage,
} from '../src/testing/builder/index.js';
import { pushSchema1, startRegistry, type PushedSchema1, type TestRegistry, storedBlobPath } from '../src/testing/registry/index.js';
import { testHome } from './helpers/test-home.js';

let reg: TestRegistry;
let tmp: string;
let image: BuiltImage;
let pushed: PushedSchema1;
const REF = (): string => `${reg.host}/old/multi:v1`;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'imagefs-s1pull-'));
  reg = await startRegistry({ schema1: true });
  image = await buildImage({
    config: { Env: ['PATH=/usr/bin'], Cmd: ['/bin/sh'] },
    layers: [
      { entries: [dir('etc/'), file('etc/hostname', 'base\n'), file('etc/gone', 'x'), dir('data/'), file('data/a.bin', { seed: 1, size: 70_000 }), file('data/keep', 'k'), dir('opt/'), file('opt/old', 'o')] },
      { entries: [whiteout('etc/gone'), file('etc/hostname', 'middle\n'), symlink('etc/link', 'hostname'), hardlink('data/hard', 'data/a.bin'), file('data/b.bin', { seed: 2, size: 200_000 })] },
      { entries: [opaque('opt/'), file('opt/new', 'n'), whiteout('data/keep'), file('etc/motd', 'hi\n')] },
    ],
  });
  await writeLayout(join(tmp, 'layout'), [{ image, tag: 'v1' }]);
  pushed = await pushSchema1(reg, { layoutDir: join(tmp, 'layout'), tag: 'v1', repo: 'old/multi' });
  // A second, distinct image whose blob we corrupt in the registry's storage.
  const bad = await buildImage({ layers: [{ entries: [file('x', { seed: 9, size: 50_000 })] }] });
  await writeLayout(join(tmp, 'bad'), [{ image: bad, tag: 'v1' }]);
  await pushSchema1(reg, { layoutDir: join(tmp, 'bad'), tag: 'v1', repo: 'old/bad' });
  const hex = bad.layers[0]!.descriptor.digest.slice('sha256:'.length);
  const path = storedBlobPath(reg.storageDir, hex);
  const bytes = await readFile(path);
  bytes[bytes.length >> 1] ^= 0xff; // same size, other digest
  await writeFile(path, bytes);
}, 60_000);
afterAll(async () => {
  await reg?.stop();
  await rm(tmp, { recursive: true, force: true });
});

/** Every path with its type, mode, size, link target and bytes. */
async function snapshot(fs: ImageFs): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const { path, stats } of fs.walk('/')) {
    let what = `${stats.mode.toString(8)} ${stats.size} ${stats.uid}:${stats.gid}`;
    if (stats.isSymbolicLink()) what += ` -> ${await fs.readlink(path)}`;
    if (stats.isFile()) what += ` ${Buffer.from(await fs.readFile(path)).toString('base64')}`;
    out.set(path, what);
  }
  return out;
}

describe('schema 1 images are served whole', () => {
  it('resolve() converts: layers base first with exact sizes, registry digest, schema1 flag, no diff_ids', async () => {
    const src = new RegistrySource(REF(), { authFile: false });
    const r = await src.resolve();
    await src.close();
    expect(r.schema1).toBe(true);
    expect(r.mediaType).toBe(MediaType.DOCKER_SCHEMA1_SIGNED);
    expect(r.digest).toBe(pushed.digest);
    expect(r.layers).toEqual(image.layers.map((l) => ({ mediaType: MediaType.DOCKER_LAYER_GZIP, digest: l.descriptor.digest, size: l.descriptor.size })));
    expect(r.config.rootfs.diff_ids).toEqual([]);
    expect(r.config.config).toMatchObject({ Env: ['PATH=/usr/bin'], Cmd: ['/bin/sh'] });
    expect(r.platform).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(() => validateResolvedImage(r)).not.toThrow();
    expect(() => validateResolvedImage({ ...r, schema1: false })).toThrow(/no|lists 0 diff_ids/);
  });

  it('openImage (auto): a SCHEMA1_MANIFEST fallback event, every layer whole, tree and bytes equal the OCI original', async () => {
    const events: ImageFsEvent[] = [];
    // on-the-fly indexing with no threshold would stream every layer of an eligible image
    const fs = await openImage(REF(), { authFile: false, indexing: 'on-the-fly', minLazyLayerSize: 1, onImageEvent: (e) => events.push(e) });
    const oci = await openImage(`oci:${join(tmp, 'layout')}:v1`);
    try {
      const fallback = events.find((e) => e.type === 'fallback');
      expect(fallback).toBeDefined();
      expect((fallback as { reasons: Array<{ code: string }> }).reasons.map((x) => x.code)).toEqual(['SCHEMA1_MANIFEST']);
      const layers = events.filter((e): e is Extract<ImageFsEvent, { type: 'layer' }> => e.type === 'layer');
      expect(layers.length).toBe(3);
      expect(layers.every((e) => e.mode === 'whole' && e.how === 'whole')).toBe(true);
      const got = await snapshot(fs);
      const want = await snapshot(oci);
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      expect(got).toEqual(want);
      // the whiteouts and the opaque directory took effect
      expect(got.has('/etc/gone')).toBe(false);
      expect(got.has('/data/keep')).toBe(false);
      expect(got.has('/opt/old')).toBe(false);
      expect(await fs.readFile('/etc/hostname', 'utf8')).toBe('middle\n');
      expect(Buffer.compare(await fs.readFile('/data/b.bin'), Buffer.from(contentBytes({ seed: 2, size: 200_000 })))).toBe(0);
    } finally {
      await fs.close();
      await oci.close();
    }
  });

  it('mode full serves it too', async () => {
    const fs = await openImage(REF(), { authFile: false, mode: 'full' });
    expect(await fs.readFile('/etc/motd', 'utf8')).toBe('hi\n');
    await fs.close();
  });

  it('imagefs check still exits 3 with SCHEMA1_MANIFEST, and says the image is still served', async () => {
    const run = async (...argv: string[]): Promise<{ code: number; out: string }> => {
      const out = new PassThrough();
      const chunks: Buffer[] = [];
      out.on('data', (c: Buffer) => chunks.push(c));
      const code = await runCli(argv, { stdout: out, stderr: new PassThrough(), env: testHome() });
      return { code, out: Buffer.concat(chunks).toString() };
    };
    const json = await run('check', REF(), '--json');
    expect(json.code).toBe(3);
    const doc = JSON.parse(json.out) as { eligible: boolean; reasons: Array<{ code: string }>; layers: Array<{ mode: string }> };
    expect(doc.eligible).toBe(false);
    expect(doc.reasons.map((x) => x.code)).toEqual(['SCHEMA1_MANIFEST']);
    expect(doc.layers.map((l) => l.mode)).toEqual(['whole', 'whole', 'whole']);
    const text = await run('check', REF());
    expect(text.code).toBe(3);
    expect(text.out).toMatch(/imagefs still serves the image/);
  });

  it('a corrupted blob in the registry storage is DataLoss', async () => {
    const e = await openImage(`${reg.host}/old/bad:v1`, { authFile: false }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'DataLoss' });
  });
});

describe('schema1ToResolvedImage on hand-made manifests', () => {
  const fetched = (doc: Record<string, unknown>): FetchedManifest => {
    const bytes = Buffer.from(JSON.stringify(doc));
    return { kind: 'schema1', mediaType: MediaType.DOCKER_SCHEMA1, digest: 'sha256:' + '1'.repeat(64), size: bytes.length, bytes, parsed: doc as FetchedManifest['parsed'] };
  };

  it('skips throwaway layers (as Docker does), reverses to base first, asks one size per distinct blob', async () => {
    const s1 = buildSchema1Manifest(image, { name: 'old/multi', tag: 'v1' });
    const empty = 'sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';
    const doc = { ...s1.manifest } as unknown as Record<string, unknown>;
    const fsLayers = [...s1.manifest.fsLayers];
    const history = [...s1.manifest.history];
    fsLayers.splice(1, 0, { blobSum: empty });
    history.splice(1, 0, { v1Compatibility: JSON.stringify({ id: 'e', throwaway: true }) });
    doc['fsLayers'] = fsLayers;
    doc['history'] = history;
    const asked: string[] = [];
    const r = await schema1ToResolvedImage(fetched(doc), {
      reference: 'x', where: 'test', blobSize: async (d) => { asked.push(d); return 7; },
    });
    expect(r.layers.map((l) => l.digest)).toEqual(image.layers.map((l) => l.descriptor.digest));
    expect(asked.sort()).toEqual(image.layers.map((l) => l.descriptor.digest).sort());
    expect(r.layers.every((l) => l.size === 7 && l.mediaType === MediaType.DOCKER_LAYER_GZIP)).toBe(true);
    expect((r.config['history'] as unknown[]).length).toBe(4);
  });

  it('malformed manifests are InvalidArgument; another platform is NotFound', async () => {
    const s1 = buildSchema1Manifest(image, { name: 'old/multi', tag: 'v1' });
    const base = s1.manifest as unknown as Record<string, unknown>;
    const size = async (): Promise<number> => 1;
    const opts = { reference: 'x', where: 'test', blobSize: size };
    await expect(schema1ToResolvedImage(fetched({ ...base, history: s1.manifest.history.slice(1) }), opts)).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(schema1ToResolvedImage(fetched({ ...base, fsLayers: [] }), opts)).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(schema1ToResolvedImage(fetched({ ...base, history: s1.manifest.history.map(() => ({ v1Compatibility: '{' })) }), opts))
      .rejects.toMatchObject({ code: 'InvalidArgument', message: expect.stringMatching(/v1Compatibility/) as unknown });
    await expect(schema1ToResolvedImage(fetched(base), { ...opts, platform: { os: 'linux', architecture: 'arm64' } })).rejects.toMatchObject({ code: 'NotFound' });
  });
});
