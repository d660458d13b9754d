import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile, open as openFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { invalidArgument, throwIfAborted } from '../errors/image-fs-error.js';
import type { ImageFs } from '../fs/image-fs.js';
import { MediaType } from '../image/media-types.js';
import type { Descriptor, ImageIndex, ImageSource, ResolvedImage } from '../image/types.js';
import { parseImageRef } from '../layout/image-ref.js';
import { REF_NAME_ANNOTATION } from '../layout/layout-index.js';
import { buildIndex } from '../layer/build-index.js';
import { RegistryClient } from '../registry/client.js';
import { FileSource } from '../source/file-source.js';
import type { RegistryClientOptions } from '../registry/options.js';
import { writeUpperLayer, type WrittenLayer } from './layer-writer.js';
import { UpperTree } from './upper-tree.js';

/** Options of {@link commitUpper}. */
export interface CommitOptions {
  /** Where the image goes: `oci:DIR:TAG` (a layout, made when missing) or a registry reference. */
  to: string;
  /** Where the base image's blobs come from (to copy them to `to`). */
  source: ImageSource;
  /** The base image (its manifest and config are extended). */
  resolved: ResolvedImage;
  /** Registry options for a registry `to`. */
  registry?: RegistryClientOptions;
  /** The history entry's `created_by` (default `imagefs commit`). */
  createdBy?: string;
  /** The history entry's `comment`. */
  comment?: string;
  /** The new config's `created` and the history entry's (default now). */
  created?: Date;
  /** Cancels the commit (nothing is published before the manifest). */
  signal?: AbortSignal;
  /** Builds the seekable index of the new layer and saves it here (e.g. an `IndexStore` over the local cache). */
  indexStore?: LayerIndexSink;
  /** Uncompressed bytes between the index's checkpoints (default: `buildIndex`'s). */
  indexSpan?: number;
}

/** Where {@link commitUpper} saves the new layer's index (an `IndexStore` is one). */
export interface LayerIndexSink {
  /** Keeps the index `bytes` of `layer`. */
  save(layer: Descriptor, bytes: Uint8Array, options?: { signal?: AbortSignal }): Promise<void>;
}

/** What {@link commitUpper} made. */
export interface CommitResult {
  /** The new manifest's descriptor. */
  manifest: Descriptor;
  /** The new config's descriptor. */
  config: Descriptor;
  /** The new layer's descriptor. */
  layer: Descriptor;
  /** The new layer's `diff_id`. */
  diffId: string;
  /** Tar entries in the new layer. */
  entries: number;
  /** The new layer's index, when `indexStore` was given: its size in bytes. */
  indexSize?: number;
}

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * Commits the upper of a writable {@link ImageFs} (or an {@link UpperTree}) as one new layer on
 * top of the base image: the layer (tar+gzip, `.wh.` whiteouts, `.wh..wh..opq` markers, PAX for
 * long names, xattrs and nanosecond times), a config with its `diff_id` and a history entry
 * appended, and a manifest; written to an OCI layout (`oci:DIR:TAG`, base blobs copied, the tag
 * moved) or pushed to a registry. Blobs are written before the manifest, and the layout's
 * `index.json` is replaced atomically, so a failed commit publishes nothing.
 *
 * @example
 * ```ts
 * const fs = await openImage('oci:./layout:app', { upper: './upper' });
 * await fs.writeFile('/etc/motd', 'hi\n');
 * const { manifest } = await commitUpper(fs, { to: 'oci:./layout:app-2', source, resolved });
 * ```
 */
export async function commitUpper(from: ImageFs | UpperTree, options: CommitOptions): Promise<CommitResult> {
  const upper = from instanceof UpperTree ? from : from.tree;
  if (!(upper instanceof UpperTree)) throw invalidArgument('commitUpper needs a writable ImageFs (opened with an upper) or an UpperTree', { hint: 'open the image with { upper }' });
  const { resolved } = options;
  if (resolved.schema1 === true) throw invalidArgument(`${resolved.reference} is a schema 1 image; a layer cannot be appended to it`, { hint: 'convert it to OCI first (skopeo copy)' });
  const work = await mkdtemp(join(tmpdir(), 'imagefs-commit-'));
  try {
    const layerPath = join(work, 'layer.tar.gz');
    const written: WrittenLayer = await writeUpperLayer(upper, layerPath, options.signal === undefined ? {} : { signal: options.signal });
    throwIfAborted(options.signal);
    const docker = resolved.mediaType === MediaType.DOCKER_MANIFEST;
    const layer: Descriptor = { mediaType: docker ? MediaType.DOCKER_LAYER_GZIP : MediaType.OCI_LAYER_GZIP, digest: written.digest, size: written.size };
    const created = (options.created ?? new Date()).toISOString();
    const config = structuredClone(resolved.config) as Record<string, unknown> & { rootfs: { type: string; diff_ids: string[] }; history?: unknown[] };
    config.rootfs = { type: 'layers', diff_ids: [...resolved.config.rootfs.diff_ids, written.diffId] };
    config.created = created;
    config.history = [...(Array.isArray(config.history) ? config.history : []), {
      created, created_by: options.createdBy ?? 'imagefs commit', ...(options.comment === undefined ? {} : { comment: options.comment }),
    }];
    const configBytes = Buffer.from(JSON.stringify(config));
    const configDesc: Descriptor = { mediaType: resolved.manifest.config.mediaType, digest: sha256(configBytes), size: configBytes.length };
    const manifestDoc = JSON.parse(Buffer.from(resolved.manifestBytes).toString('utf8')) as Record<string, unknown>;
    manifestDoc.config = configDesc;
    manifestDoc.layers = [...resolved.manifest.layers, layer];
    const manifestBytes = Buffer.from(JSON.stringify(manifestDoc));
    const mediaType = resolved.mediaType;
    const manifest: Descriptor = { mediaType, digest: sha256(manifestBytes), size: manifestBytes.length };
    let indexSize: number | undefined;
    if (options.indexStore !== undefined) {
      const blob = await FileSource.open(layerPath);
      try {
        const built = await buildIndex(blob, layer, { diffId: written.diffId, ...(options.indexSpan === undefined ? {} : { span: options.indexSpan }), ...(options.signal === undefined ? {} : { signal: options.signal }) });
        await options.indexStore.save(layer, built.bytes, options.signal === undefined ? {} : { signal: options.signal });
        indexSize = built.bytes.length;
      } finally {
        await blob.close();
      }
    }
    const dest = parseImageRef(options.to);
    if (dest.kind === 'oci') {
      if (dest.tag === undefined) throw invalidArgument(`${options.to} names no tag`, { hint: 'give oci:DIR:TAG' });
      await writeToLayout(dest.dir, dest.tag, options, { layerPath, layer, configBytes, configDesc, manifestBytes, manifest });
    } else {
      const client = new RegistryClient(options.registry ?? {});
      try {
        for (const base of resolved.manifest.layers) {
          throwIfAborted(options.signal);
          const src = await options.source.openBlob(base, options);
          await client.putBlob(dest.text, await src.readAt(0, base.size, options), { mediaType: base.mediaType, signal: options.signal });
        }
        await client.putBlob(dest.text, await readFile(layerPath), { mediaType: layer.mediaType, signal: options.signal });
        await client.putBlob(dest.text, configBytes, { mediaType: configDesc.mediaType, signal: options.signal });
        const ref = dest.text.includes('@') ? dest.text.slice(0, dest.text.indexOf('@')) : dest.text;
        const tag = /:([\w][\w.-]{0,127})$/.exec(ref.slice(ref.lastIndexOf('/') + 1))?.[1] ?? 'latest';
        await client.putManifest(dest.text, manifestBytes, mediaType, { tag, signal: options.signal });
      } finally {
        await client.close?.();
      }
    }
    return { manifest, config: configDesc, layer, diffId: written.diffId, entries: written.entries, ...(indexSize === undefined ? {} : { indexSize }) };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

interface Blobs {
  layerPath: string;
  layer: Descriptor;
  configBytes: Uint8Array;
  configDesc: Descriptor;
  manifestBytes: Uint8Array;
  manifest: Descriptor;
}

/** Writes the blobs into an OCI layout (made when missing) and points `tag` at the manifest. */
async function writeToLayout(dir: string, tag: string, options: CommitOptions, b: Blobs): Promise<void> {
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const layoutFile = join(dir, 'oci-layout');
  if (!(await exists(layoutFile))) await writeFile(layoutFile, '{"imageLayoutVersion":"1.0.0"}');
  const blobPath = (d: string): string => join(blobs, d.slice('sha256:'.length));
  for (const base of options.resolved.manifest.layers) {
    if (await exists(blobPath(base.digest))) continue;
    throwIfAborted(options.signal);
    const src = await options.source.openBlob(base, options);
    const tmp = `${blobPath(base.digest)}.tmp`;
    const fh = await openFile(tmp, 'w');
    try {
      for (let pos = 0; pos < base.size; pos += 8 << 20) await fh.write(await src.readAt(pos, Math.min(8 << 20, base.size - pos), options));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, blobPath(base.digest));
  }
  if (!(await exists(blobPath(b.layer.digest)))) {
    await copyFile(b.layerPath, `${blobPath(b.layer.digest)}.tmp`);
    await rename(`${blobPath(b.layer.digest)}.tmp`, blobPath(b.layer.digest));
  }
  await writeAtomic(blobPath(b.configDesc.digest), b.configBytes);
  await writeAtomic(blobPath(b.manifest.digest), b.manifestBytes);
  const indexPath = join(dir, 'index.json');
  const index: ImageIndex = (await exists(indexPath))
    ? JSON.parse(await readFile(indexPath, 'utf8')) as ImageIndex
    : { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [] };
  index.manifests = index.manifests.filter((m) => m.annotations?.[REF_NAME_ANNOTATION] !== tag);
  index.manifests.push({ ...b.manifest, annotations: { [REF_NAME_ANNOTATION]: tag } });
  await writeAtomic(indexPath, Buffer.from(JSON.stringify(index)));
}

async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await openFile(tmp, 'w');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
