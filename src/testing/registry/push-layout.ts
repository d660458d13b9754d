import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageError } from '../../errors/index.js';
import { isIndexMediaType, MediaType } from '../../image/media-types.js';
import type { Descriptor, ImageIndex, ImageManifest } from '../../image/types.js';
import { pushBlob, pushManifest, type PushOptions } from './push.js';
import type { RegistryTarget } from './registry-auth.js';

/** What {@link pushLayout} pushes. */
export interface PushLayoutOptions extends PushOptions {
  /** The OCI layout directory (with `index.json` and `blobs/`). */
  layoutDir: string;
  /**
   * The `org.opencontainers.image.ref.name` of the manifest or index to push. Without it: the only
   * entry of `index.json`, or, when there are several, `index.json` itself as an image index.
   */
  tag?: string;
  /** The destination repository, e.g. `demo/app`. */
  repo: string;
  /** The destination tag. Default: `tag`, else `latest`. */
  destTag?: string;
}

/** What {@link pushLayout} did. */
export interface PushLayoutResult {
  /** The digest of the top manifest or index, as the registry stores it. */
  digest: string;
  /** Its media type. */
  mediaType: string;
  /** Its size. */
  size: number;
  /** Blobs uploaded (configs and layers). */
  uploadedBlobs: number;
  /** Blobs that were already there (found by HEAD). */
  existingBlobs: number;
  /** Manifests and indexes put (children by digest, the top one by tag). */
  manifests: number;
}

/**
 * Pushes an image from an OCI layout, as `skopeo copy oci:L:T docker://...` would but with no
 * conversion: walks index → manifests → config and layers, uploads every blob the registry lacks
 * (HEAD first), puts child manifests by digest and the top one under `destTag`. Handles Basic and
 * Bearer auth with the target's credentials. Blobs absent from the layout are skipped only for
 * non-distributable (foreign) layers.
 *
 * @example
 * ```ts
 * const { digest } = await pushLayout(reg, { layoutDir: '/tmp/L', tag: 'v1', repo: 'demo/app', destTag: 'v1' });
 * ```
 */
export async function pushLayout(target: RegistryTarget, options: PushLayoutOptions): Promise<PushLayoutResult> {
  const { layoutDir, repo } = options;
  const indexBytes = await readFile(join(layoutDir, 'index.json')).catch((e: unknown) => {
    throw new ImageError('NotFound', `${layoutDir} is not an OCI layout: no index.json`, { cause: e, subject: layoutDir });
  });
  const index = JSON.parse(indexBytes.toString('utf8')) as ImageIndex;
  const result: PushLayoutResult = { digest: '', mediaType: '', size: 0, uploadedBlobs: 0, existingBlobs: 0, manifests: 0 };
  const destTag = options.destTag ?? options.tag ?? 'latest';
  let top: Descriptor | undefined;
  if (options.tag !== undefined) {
    top = index.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === options.tag);
    if (top === undefined) throw new ImageError('NotFound', `the layout ${layoutDir} has no image tagged '${options.tag}'`, { subject: layoutDir });
  } else if (index.manifests.length === 1) {
    top = index.manifests[0];
  }
  const readBlob = (d: Descriptor): Promise<Buffer> => {
    const [alg, hex] = d.digest.split(':');
    return readFile(join(layoutDir, 'blobs', alg ?? '', hex ?? ''));
  };
  const pushTree = async (d: Descriptor, reference: string): Promise<void> => {
    const bytes = await readBlob(d);
    const parsed = JSON.parse(bytes.toString('utf8')) as ImageIndex & ImageManifest;
    if (isIndexMediaType(d.mediaType) || Array.isArray(parsed.manifests)) {
      for (const child of parsed.manifests) await pushTree(child, child.digest);
    } else {
      for (const blob of [parsed.config, ...(parsed.layers ?? [])]) {
        if (blob === undefined) continue;
        const data = await readBlob(blob).catch((e: unknown) => {
          if (/nondistributable|foreign/.test(blob.mediaType)) return undefined;
          throw new ImageError('NotFound', `the layout ${layoutDir} lacks the blob ${blob.digest}`, { cause: e, subject: blob.digest });
        });
        if (data === undefined) continue;
        const pushed = await pushBlob(target, repo, data, options);
        if (pushed.existed) result.existingBlobs++;
        else result.uploadedBlobs++;
      }
    }
    const put = await pushManifest(target, repo, reference, d.mediaType, bytes, options);
    result.manifests++;
    if (reference === destTag) Object.assign(result, { digest: put.digest, mediaType: d.mediaType, size: bytes.length });
  };
  if (top !== undefined) {
    await pushTree(top, destTag);
  } else {
    for (const child of index.manifests) await pushTree(child, child.digest);
    const mediaType = index.mediaType ?? MediaType.OCI_INDEX;
    const put = await pushManifest(target, repo, destTag, mediaType, indexBytes, options);
    result.manifests++;
    Object.assign(result, { digest: put.digest, mediaType, size: indexBytes.length });
  }
  return result;
}
