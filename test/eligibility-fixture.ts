// The eligibility bench: one image per rule, built by the test builder and pushed to a real
// registry (distribution 2.8); schema 1 through the schema-1 registry variant; a fault proxy that
// ignores Range in front of the registry; a local server for the foreign layer's URL.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MediaType } from '../src/image/media-types.js';
import {
  buildImage, dir, EMPTY_LAYER_GZIP, file, runTool, writeLayout, type BuiltImage, type LayerSpec, type TarRecord,
} from '../src/testing/builder/index.js';
import {
  freePort, listenLocal, pushBlob, pushManifest, pushSchema1, registryConfig, spawnRegistryProcess, startFaultProxy, startRegistry,
  type FaultProxy, type LocalServer, type TestRegistry,
} from '../src/testing/registry/index.js';

export const ENCRYPTED = 'application/vnd.oci.image.layer.v1.tar+gzip+encrypted';
export const UNKNOWN = 'application/vnd.example.layer.v1.tar+lz4';

/** Base layer entries (small text) and a second layer (random bytes, incompressible). */
export const A: TarRecord[] = [dir('etc/'), file('etc/a.txt', { seed: 1, size: 5000 }), file('etc/motd', 'hello\n')];
export const B: TarRecord[] = [dir('data/'), file('data/b.bin', { seed: 2, size: 300_000 })];
export const F: TarRecord[] = [dir('foreign/'), file('foreign/f.bin', { seed: 3, size: 70_000 })];

/** The cases: name → the layers of its image. */
export type CaseName = 'ok' | 'dup' | 'empty' | 'enc' | 'foreign' | 'zstd' | 'chunked' | 'unsupported';

export interface Bench {
  reg: TestRegistry;
  s1reg: TestRegistry;
  proxy: FaultProxy;
  foreignServer: LocalServer;
  images: Record<CaseName, BuiltImage>;
  /** `HOST/elig/NAME:v1` for each case. */
  ref(name: CaseName): string;
  /** The schema 1 image's reference. */
  schema1Ref: string;
  /** The `ok` image through the proxy that ignores Range. */
  rangeRef: string;
  /** Requests the foreign server answered. */
  foreignHits: number;
  tmp: string;
  stop(): Promise<void>;
}

/** Pushes a built image (blobs, then the manifest under `tag`), skipping blobs in `skip`. */
export async function pushBuilt(reg: TestRegistry, repo: string, tag: string, image: BuiltImage, skip: ReadonlySet<string> = new Set()): Promise<void> {
  for (const [digest, bytes] of image.blobs) {
    if (digest === image.descriptor.digest || skip.has(digest)) continue;
    await pushBlob(reg, repo, bytes);
  }
  await pushManifest(reg, repo, tag, image.manifest.mediaType!, image.manifestBytes);
}

/**
 * A registry like `startRegistry()` whose manifests may carry layer `urls` (distribution refuses
 * them unless `validation.manifests.urls.allow` says which): needed for foreign layers.
 */
export async function startUrlRegistry(): Promise<TestRegistry> {
  const work = await mkdtemp(join(tmpdir(), 'imagefs-elig-reg-'));
  const storageDir = join(work, 'storage');
  await mkdir(storageDir);
  const port = await freePort();
  const config = JSON.parse(registryConfig({ addr: `127.0.0.1:${port}`, storageDir })) as Record<string, unknown>;
  config['validation'] = { manifests: { urls: { allow: ['^https?://'] } } };
  const file = join(work, 'config.yml');
  await writeFile(file, JSON.stringify(config));
  const proc = await spawnRegistryProcess('docker-registry', file, `http://127.0.0.1:${port}`, 20_000);
  return {
    url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, storageDir, pid: proc.pid, log: () => proc.log(),
    stop: async () => { await proc.stop(); await rm(work, { recursive: true, force: true }); },
  };
}

/** A zstd:chunked blob of the tar of `entries`, made by skopeo (the only writer here). */
async function zstdChunkedBlob(tmp: string, entries: TarRecord[]): Promise<Uint8Array> {
  const plain = await buildImage({ layers: [{ entries, compression: 'none' }] });
  const src = join(tmp, 'zc-src');
  const dst = join(tmp, 'zc-dst');
  await writeLayout(src, [{ image: plain, tag: 't' }]);
  await runTool('skopeo', ['copy', '--insecure-policy', '--dest-compress', '--dest-compress-format', 'zstd:chunked', `oci:${src}:t`, `oci:${dst}:t`]);
  const index = JSON.parse(await readFile(join(dst, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  const manifest = JSON.parse(await readFile(join(dst, 'blobs', 'sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: Array<{ digest: string; annotations?: Record<string, string> }> };
  const layer = manifest.layers[0]!;
  if (!Object.keys(layer.annotations ?? {}).some((k) => k.includes('zstd-chunked'))) throw new Error('skopeo did not write zstd:chunked');
  await readdir(dst);
  return new Uint8Array(await readFile(join(dst, 'blobs', 'sha256', layer.digest.slice(7))));
}

/** Builds and pushes every case. */
export async function startBench(): Promise<Bench> {
  const tmp = await mkdtemp(join(tmpdir(), 'imagefs-elig-'));
  let foreignBlob: Uint8Array = new Uint8Array(0);
  const state = { hits: 0 };
  const foreignServer = await listenLocal((req, res) => {
    state.hits++;
    if (req.url !== '/blobs/foreign') { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-length': String(foreignBlob.length) }).end(foreignBlob);
  });
  const reg = await startUrlRegistry();
  const s1reg = await startRegistry({ schema1: true });
  const proxy = await startFaultProxy({ target: reg.url });
  proxy.setFaults({ ignoreRange: { match: 'blob' } });
  const gz = (entries: TarRecord[], extra: Partial<LayerSpec> = {}): LayerSpec => ({ entries, compression: 'gzip', ...extra });
  const chunked = await zstdChunkedBlob(tmp, B);
  const specs: Record<CaseName, LayerSpec[]> = {
    ok: [gz(A), gz(B)],
    dup: [gz(A), gz(B), gz(A)],
    empty: [gz(A), { blob: EMPTY_LAYER_GZIP, compression: 'gzip' }, gz(B)],
    enc: [gz(A), gz(B, { mediaType: ENCRYPTED })],
    foreign: [gz(A), gz(F, { mediaType: MediaType.OCI_LAYER_ND_GZIP, urls: [`${foreignServer.url}/blobs/foreign`] })],
    zstd: [gz(A), { entries: B, compression: 'zstd' }],
    chunked: [gz(A), { blob: chunked, compression: 'zstd' }],
    unsupported: [gz(A), gz(B, { mediaType: UNKNOWN })],
  };
  const images = {} as Record<CaseName, BuiltImage>;
  for (const [name, layers] of Object.entries(specs) as Array<[CaseName, LayerSpec[]]>) {
    const image = await buildImage({ layers });
    images[name] = image;
    const skip = new Set<string>();
    if (name === 'foreign') {
      foreignBlob = image.layers[1]!.blob;
      skip.add(image.layers[1]!.descriptor.digest); // only at its URL, as a foreign layer would be
    }
    await pushBuilt(reg, `elig/${name}`, 'v1', image, skip);
  }
  const layout = join(tmp, 's1-layout');
  await writeLayout(layout, [{ image: images.ok, tag: 'v1' }]);
  await pushSchema1(s1reg, { layoutDir: layout, tag: 'v1', repo: 'elig/old' });
  const bench: Bench = {
    reg, s1reg, proxy, foreignServer, images, tmp,
    ref: (name) => `${reg.host}/elig/${name}:v1`,
    schema1Ref: `${s1reg.host}/elig/old:v1`,
    rangeRef: `${proxy.host}/elig/ok:v1`,
    get foreignHits() { return state.hits; },
    stop: async () => {
      await Promise.allSettled([proxy.stop(), reg.stop(), s1reg.stop(), foreignServer.close()]);
      await rm(tmp, { recursive: true, force: true });
    },
  };
  return bench;
}
