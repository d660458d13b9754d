import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { throwIfAborted } from '../../errors/index.js';
import { MediaType } from '../../image/media-types.js';
import type { Descriptor, ImageIndex } from '../../image/types.js';
import type { BuiltImage } from './build-image.js';
import { jsonBytes } from './digest.js';
import type { BuiltIndex } from './image-index.js';

/** The annotation naming a tag in an OCI layout's index.json. */
export const REF_NAME = 'org.opencontainers.image.ref.name';

/** One thing to list in index.json: a built image or index, under a tag (or untagged). */
export interface LayoutItem {
  image: BuiltImage | BuiltIndex;
  /** Becomes the `org.opencontainers.image.ref.name` annotation. */
  tag?: string;
}

/** Options of {@link writeLayout}. */
export interface WriteLayoutOptions {
  signal?: AbortSignal;
  /**
   * Keep the manifests of an existing index.json (default true); an entry with the same tag is
   * replaced. With false, index.json lists only the given items.
   */
  merge?: boolean;
}

/** What {@link writeLayout} wrote. */
export interface WrittenLayout {
  /** The layout directory. */
  dir: string;
  /** The index.json written. */
  index: ImageIndex;
  /** Number of blob files written (existing ones are kept as they are). */
  blobsWritten: number;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes an OCI image layout: `oci-layout`, `blobs/sha256/HEX` for every blob, and `index.json`
 * listing each item (a multi-platform index is listed as a nested index). The directory is created
 * when missing. Use `oci:DIR:TAG` with skopeo or umoci (`--image DIR:TAG`) to read it back.
 *
 * @example
 * ```ts
 * await writeLayout('/tmp/layout', [{ image: img, tag: 'v1' }, { image: idx, tag: 'multi' }]);
 * // umoci unpack --image /tmp/layout:v1 /tmp/bundle
 * ```
 */
export async function writeLayout(dir: string, items: readonly LayoutItem[], options: WriteLayoutOptions = {}): Promise<WrittenLayout> {
  const blobDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobDir, { recursive: true });
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  let blobsWritten = 0;
  for (const item of items) {
    for (const [digest, bytes] of item.image.blobs) {
      throwIfAborted(options.signal);
      const path = join(blobDir, digest.slice('sha256:'.length));
      if (await exists(path)) continue;
      await writeFile(path, bytes);
      blobsWritten++;
    }
  }
  const tags = new Set(items.map((i) => i.tag).filter((t): t is string => t !== undefined));
  let manifests: Descriptor[] = [];
  const indexPath = join(dir, 'index.json');
  if (options.merge !== false && (await exists(indexPath))) {
    const old = JSON.parse(await readFile(indexPath, 'utf8')) as ImageIndex;
    manifests = (old.manifests ?? []).filter((d) => !tags.has(d.annotations?.[REF_NAME] ?? '\0'));
  }
  for (const item of items) {
    const d: Descriptor = { ...item.image.descriptor };
    if (item.tag !== undefined) d.annotations = { ...(d.annotations ?? {}), [REF_NAME]: item.tag };
    manifests.push(d);
  }
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests };
  await writeFile(indexPath, jsonBytes(index));
  return { dir, index, blobsWritten };
}
