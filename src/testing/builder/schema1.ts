import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MediaType } from '../../image/media-types.js';
import type { BuiltImage } from './build-image.js';
import { jsonBytes, sha256Digest } from './digest.js';
import { runTool } from './run-tool.js';

/** A Docker schema 1 manifest as a registry serves it (signed or not). */
export interface Schema1Manifest {
  schemaVersion: 1;
  name: string;
  tag: string;
  architecture: string;
  /** Top layer first. */
  fsLayers: Array<{ blobSum: string }>;
  /** Top layer first; each `v1Compatibility` is a JSON string. */
  history: Array<{ v1Compatibility: string }>;
  signatures?: unknown[];
}

/** A schema 1 image: the manifest and where its blobs are. */
export interface Schema1Image {
  manifest: Schema1Manifest;
  /** The manifest's exact bytes. */
  manifestBytes: Uint8Array;
  /** `DOCKER_SCHEMA1_SIGNED` for skopeo's output, `DOCKER_SCHEMA1` for the unsigned builder. */
  mediaType: string;
  /** Digest of `manifestBytes`. Note: a registry computes a signed manifest's digest without its signatures. */
  digest: string;
  /** Blobs by digest. */
  blobs: Map<string, Uint8Array>;
}

/**
 * Builds an unsigned schema 1 manifest (`application/vnd.docker.distribution.manifest.v1+json`)
 * for a built image, reusing its (gzip) layer blobs. Enough to test code that must recognise and
 * refuse schema 1; a registry accepts only the signed form (see {@link skopeoSchema1}).
 *
 * @example
 * ```ts
 * const s1 = buildSchema1Manifest(await buildImage({ layers: [{ entries: [file('a', 'x')] }] }), { name: 'test/s1', tag: 'v1' });
 * ```
 */
export function buildSchema1Manifest(image: BuiltImage, options: { name?: string; tag?: string } = {}): Schema1Image {
  const ids: string[] = [];
  let parent = '';
  for (const l of image.layers) {
    const id = createHash('sha256').update(`${parent} ${l.diffId}`).digest('hex');
    ids.push(id);
    parent = id;
  }
  const history = image.layers.map((_, i) => {
    const v1: Record<string, unknown> = { id: ids[i] };
    if (i > 0) v1.parent = ids[i - 1];
    v1.created = image.config.created;
    if (i === image.layers.length - 1) Object.assign(v1, { architecture: image.config.architecture, os: image.config.os, config: image.config.config ?? {} });
    return { v1Compatibility: JSON.stringify(v1) };
  });
  const manifest: Schema1Manifest = {
    schemaVersion: 1,
    name: options.name ?? 'imagefs/test',
    tag: options.tag ?? 'latest',
    architecture: image.config.architecture,
    fsLayers: image.layers.map((l) => ({ blobSum: l.descriptor.digest })).reverse(),
    history: history.reverse(),
  };
  const manifestBytes = jsonBytes(manifest);
  const blobs = new Map<string, Uint8Array>();
  for (const l of image.layers) blobs.set(l.descriptor.digest, l.blob);
  return { manifest, manifestBytes, mediaType: MediaType.DOCKER_SCHEMA1, digest: sha256Digest(manifestBytes), blobs };
}

/**
 * Makes a signed schema 1 image the reliable way: `skopeo copy --format v2s1 oci:LAYOUT:TAG dir:OUT`
 * (skopeo signs with a throw-away key; uncompressed layers are gzipped on the way). Returns the
 * manifest and the blobs from OUT, which must not exist yet or be empty. Not deterministic: the
 * signature changes every run (the payload does not).
 *
 * @example
 * ```ts
 * await writeLayout(layout, [{ image: img, tag: 'v1' }]);
 * const s1 = await skopeoSchema1(layout, 'v1', join(tmp, 's1'));
 * ```
 */
export async function skopeoSchema1(layoutDir: string, tag: string, outDir: string, options: { signal?: AbortSignal } = {}): Promise<Schema1Image & { dir: string }> {
  await runTool('skopeo', ['copy', '--quiet', '--insecure-policy', '--format', 'v2s1', `oci:${layoutDir}:${tag}`, `dir:${outDir}`], { signal: options.signal });
  const manifestBytes = new Uint8Array(await readFile(join(outDir, 'manifest.json')));
  const manifest = JSON.parse(new TextDecoder().decode(manifestBytes)) as Schema1Manifest;
  const blobs = new Map<string, Uint8Array>();
  for (const name of await readdir(outDir)) {
    if (/^[0-9a-f]{64}$/.test(name)) blobs.set(`sha256:${name}`, new Uint8Array(await readFile(join(outDir, name))));
  }
  return { dir: outDir, manifest, manifestBytes, mediaType: MediaType.DOCKER_SCHEMA1_SIGNED, digest: sha256Digest(manifestBytes), blobs };
}
