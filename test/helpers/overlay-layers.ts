import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ImageFs, type ImageFsOptions } from '../../src/fs/image-fs.js';
import type { Descriptor, ImageIndex, ImageManifest } from '../../src/image/types.js';
import type { LayerContent } from '../../src/layer/types.js';
import { BufferSource } from '../../src/source/read-at.js';
import { parseTar } from '../../src/tar/parser.js';
import { writeTar, type TarRecord } from '../../src/testing/builder/index.js';

/** A LayerContent over an uncompressed tar in memory; counts how often its entries are loaded. */
export function layerFromTar(tar: Uint8Array, digest?: string): LayerContent & { loads: number } {
  const d = digest ?? `sha256:${createHash('sha256').update(tar).digest('hex')}`;
  const layer = {
    loads: 0,
    descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: d, size: tar.length } as Descriptor,
    mode: 'whole' as const,
    data: new BufferSource(tar),
    async entries() {
      layer.loads++;
      return parseTar(tar);
    },
    async close() {},
  };
  return layer;
}

/** A LayerContent from builder records (written with the builder's tar writer, read with parseTar). */
export function layerFromRecords(records: readonly TarRecord[]): LayerContent & { loads: number } {
  return layerFromTar(writeTar(records));
}

/** An ImageFs over layers given as builder records, base first. */
export async function fsOf(layers: ReadonlyArray<readonly TarRecord[]>, options?: ImageFsOptions): Promise<ImageFs> {
  return ImageFs.fromLayers(layers.map((r) => layerFromRecords(r)), options);
}

/** The LayerContents of `tag` in an OCI layout (gzip or uncompressed layers), base first. */
export async function layersFromLayout(dir: string, tag: string): Promise<LayerContent[]> {
  const blob = (digest: string) => readFile(join(dir, 'blobs', ...digest.split(':')));
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as ImageIndex;
  const desc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!desc) throw new Error(`tag ${tag} is not in ${dir}/index.json`);
  const manifest = JSON.parse((await blob(desc.digest)).toString('utf8')) as ImageManifest;
  const out: LayerContent[] = [];
  for (const l of manifest.layers) {
    const bytes = await blob(l.digest);
    const tar = l.mediaType.endsWith('gzip') ? new Uint8Array(gunzipSync(bytes)) : new Uint8Array(bytes);
    out.push(layerFromTar(tar, l.digest));
  }
  return out;
}
