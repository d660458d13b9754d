// The image the fetch-* and background-* tests read: a gzip layer of ~300 files (a few crossing
// span boundaries), a plain tar layer and a small gzip layer, pushed to the real registry with
// indexes of 256 KiB spans stored as referrers. Every file's bytes are known (the oracle).
import { join } from 'node:path';
import { buildIndex } from '../src/layer/build-index.js';
import { pushRegistryIndexes } from '../src/index-store/registry-indexes.js';
import { RegistrySource } from '../src/registry/registry-source.js';
import { BufferSource } from '../src/source/read-at.js';
import { buildImage, dir, file, writeLayout, type BuiltImage, type TarRecord } from '../src/testing/builder/index.js';
import { pushLayout, startFaultProxy, startRegistry, type FaultProxy, type TestRegistry } from '../src/testing/registry/index.js';
import { tempDir } from './layout-fixtures.js';

export const SPAN = 256 * 1024;
export const PLATFORM = { os: 'linux', architecture: 'amd64' };
export const REPO = 'fetch/app';

/** Deterministic file list: path order equals tar order within each layer. */
export function fixtureLayers(): Array<{ entries: TarRecord[]; compression: 'gnu-gzip' | 'none' | 'gzip' }> {
  const big: TarRecord[] = [dir('a')];
  for (let i = 0; i < 300; i++) {
    const size = 1000 + ((i * 7919) % 40_000);
    big.push(file(`a/f${String(i).padStart(3, '0')}`, { seed: i + 1, size, kind: i % 3 === 0 ? 'random' : 'text' }));
  }
  big.push(file('a/zcross.bin', { seed: 999, size: 700_000, kind: 'random' })); // crosses span boundaries
  const plain: TarRecord[] = [dir('p')];
  for (let i = 0; i < 12; i++) plain.push(file(`p/g${String(i).padStart(2, '0')}`, { seed: 500 + i, size: 60_000 + i * 10_000 }));
  const small: TarRecord[] = [dir('s')];
  for (let i = 0; i < 30; i++) small.push(file(`s/h${String(i).padStart(2, '0')}`, { seed: 800 + i, size: 20_000, kind: 'text' }));
  return [{ entries: big, compression: 'gnu-gzip' }, { entries: plain, compression: 'none' }, { entries: small, compression: 'gzip' }];
}

/** Every regular file of the image: `/path` → bytes. */
export function oracle(image: BuiltImage): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const layer of image.layers) {
    for (const e of layer.entries ?? []) if (e.type === 'file' && e.data !== undefined) out.set(`/${e.path}`, e.data);
  }
  return out;
}

/** Builds the image, writes it as a layout under `dir`, pushes it as REPO:v1 with stored indexes. */
export async function pushFixture(reg: TestRegistry, workDir: string, repo = REPO): Promise<{ image: BuiltImage; indexBytes: number; indexes: Map<string, Uint8Array> }> {
  const image = await buildImage({ layers: fixtureLayers() });
  const layout = join(workDir, `layout-${repo.replace(/\W/g, '-')}`);
  await writeLayout(layout, [{ image, tag: 'v1' }]);
  await pushLayout(reg, { layoutDir: layout, tag: 'v1', repo, destTag: 'v1' });
  const source = new RegistrySource(`${reg.host}/${repo}:v1`);
  const indexes = [];
  for (const layer of image.layers) {
    const built = await buildIndex(new BufferSource(layer.blob), layer.descriptor, { span: SPAN, diffId: layer.diffId });
    indexes.push({ layer: layer.descriptor, bytes: built.bytes });
  }
  await pushRegistryIndexes(source, image.descriptor, indexes);
  await source.close();
  return { image, indexBytes: indexes.reduce((s, i) => s + i.bytes.length, 0), indexes: new Map(indexes.map((i) => [i.layer.digest, i.bytes])) };
}

/** Compressed bytes of the image's layers. */
export function layerBytes(image: BuiltImage): number {
  return image.layers.reduce((s, l) => s + l.blob.length, 0);
}

/** The fixture pushed to a started real registry, behind a fault proxy whose counters measure. */
export interface FetchFixture {
  tmp: Awaited<ReturnType<typeof tempDir>>;
  reg: TestRegistry;
  proxy: FaultProxy;
  image: BuiltImage;
  /** Every file's bytes. */
  files: Map<string, Uint8Array>;
  /** The index pushed for each layer, by layer digest. */
  indexes: Map<string, Uint8Array>;
  /** Stops the proxy and the registry, removes the temporary directory. */
  stop(): Promise<void>;
}

/** Starts a registry, pushes the fixture with its indexes, puts the fault proxy in front. */
export async function startFetchFixture(name: string): Promise<FetchFixture> {
  const tmp = await tempDir(name);
  const reg = await startRegistry();
  const { image, indexes } = await pushFixture(reg, tmp.path);
  const proxy = await startFaultProxy({ target: reg.url });
  return {
    tmp, reg, proxy, image, files: oracle(image), indexes,
    stop: async () => {
      await proxy.stop();
      await reg.stop();
      await tmp.cleanup();
    },
  };
}

/** Layer bytes the proxy sent since its last reset, but for the eligibility analysis's 1-byte Range probe. */
export function sentByLayers(proxy: FaultProxy, image: BuiltImage): number {
  return proxy.log
    .filter((r) => r.kind === 'blob' && image.layers.some((l) => r.path.includes(l.descriptor.digest)) && r.range !== 'bytes=1-1')
    .reduce((s, r) => s + r.bytesOut, 0);
}
