import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidArgument, notFound, throwIfAborted } from '../errors/image-fs-error.js';
import { isIndexMediaType, isManifestMediaType } from '../image/media-types.js';
import type { Descriptor, ImageIndex } from '../image/types.js';
import type { ReadOptions } from '../source/read-at.js';
import type { LayoutBlobStore } from './blob-store.js';
import { parseJsonObject } from './json.js';

/** The annotation that names an image in a layout's index (its tag). */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

/** How deep nested indexes are followed before imagefs gives up (a loop guard). */
export const MAX_INDEX_DEPTH = 8;

const LAYOUT_HINT = 'create a layout with `skopeo copy docker://IMAGE oci:DIR:TAG` or `umoci init --layout DIR`';

/**
 * Reads the root of an OCI image layout: checks the `oci-layout` marker (image layout version
 * 1.x) and parses `index.json`, the layout's trusted entry point.
 *
 * @throws ImageError `NotFound` when DIR, `oci-layout` or `index.json` is missing;
 *   `InvalidArgument` when they are malformed or of an unsupported version.
 */
export async function readLayoutIndex(dir: string, options: ReadOptions = {}): Promise<ImageIndex> {
  throwIfAborted(options.signal);
  const info = await stat(dir).catch(() => undefined);
  if (info === undefined || !info.isDirectory()) {
    throw notFound(`OCI layout directory ${dir} does not exist or is not a directory`, { subject: dir, hint: LAYOUT_HINT });
  }
  const markerPath = join(dir, 'oci-layout');
  const marker = parseJsonObject(await readRootFile(markerPath, 'oci-layout'), markerPath);
  const version = marker['imageLayoutVersion'];
  if (typeof version !== 'string' || !/^1\.\d+(\.\d+)?$/.test(version)) {
    throw invalidArgument(`${markerPath} has imageLayoutVersion ${JSON.stringify(version)}; imagefs reads version 1.x layouts`, {
      subject: markerPath,
      hint: 'rewrite the layout with a current tool (skopeo copy, umoci)',
    });
  }
  const indexPath = join(dir, 'index.json');
  const index = parseJsonObject(await readRootFile(indexPath, 'index.json'), indexPath);
  return checkIndex(index, indexPath);
}

async function readRootFile(path: string, name: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw notFound(`${path} is missing, so this is not an OCI image layout (no ${name})`, { subject: path, cause: error, hint: LAYOUT_HINT });
    }
    throw error;
  }
}

/**
 * Checks that a parsed JSON object is an image index (schemaVersion 2, a `manifests` array of
 * descriptors) and returns it typed.
 *
 * @param where - the file or descriptor it came from, named in errors.
 * @throws ImageError `InvalidArgument` otherwise.
 */
export function checkIndex(value: Record<string, unknown>, where: string): ImageIndex {
  const manifests = value['manifests'];
  if (value['schemaVersion'] !== 2 || !Array.isArray(manifests)) {
    throw invalidArgument(`${where} is not an image index (schemaVersion 2 with a manifests array)`, {
      subject: where,
      hint: 'the layout is corrupt; copy the image again',
    });
  }
  manifests.forEach((d: unknown, i) => checkDescriptor(d, `${where} manifests[${i}]`));
  return value as unknown as ImageIndex;
}

/** Throws `InvalidArgument` unless `value` has a descriptor's required fields. */
export function checkDescriptor(value: unknown, where: string): asserts value is Descriptor {
  const d = value as Partial<Descriptor> | null;
  if (typeof d !== 'object' || d === null || typeof d.digest !== 'string' || typeof d.size !== 'number' || typeof d.mediaType !== 'string') {
    throw invalidArgument(`${where} is not a descriptor (mediaType, digest and size are required)`, {
      subject: where,
      hint: 'the manifest or index is malformed; rebuild or copy the image again',
    });
  }
}

/** One named entry found in a layout index (or in an index nested in it). */
export interface LayoutRef {
  /** The `org.opencontainers.image.ref.name` value. */
  name: string;
  descriptor: Descriptor;
  /** Where it was found, for messages (`index.json manifests[0]`). */
  where: string;
}

/**
 * Lists the named entries of a layout index. Untagged entries that are themselves indexes are
 * opened (verified) and searched too, so `index.json → index → tagged manifests` works.
 */
export async function listLayoutRefs(blobs: LayoutBlobStore, index: ImageIndex, where: string, options: ReadOptions = {}, depth = 0): Promise<LayoutRef[]> {
  const refs: LayoutRef[] = [];
  for (const [i, descriptor] of index.manifests.entries()) {
    const at = `${where} manifests[${i}]`;
    const name = descriptor.annotations?.[REF_NAME_ANNOTATION];
    if (name !== undefined) {
      refs.push({ name, descriptor, where: at });
    } else if (isIndexMediaType(descriptor.mediaType) && depth < MAX_INDEX_DEPTH) {
      const nested = checkIndex(parseJsonObject(await blobs.readVerified(descriptor, at, options), at), at);
      refs.push(...(await listLayoutRefs(blobs, nested, `index ${descriptor.digest}`, options, depth + 1)));
    }
  }
  return refs;
}

/** The entries of a layout that make up the chosen image: one descriptor, or several platforms. */
export interface LayoutChoice {
  descriptors: Descriptor[];
  where: string;
}

function tagList(refs: LayoutRef[]): string {
  const names = [...new Set(refs.map((r) => r.name))];
  return names.length === 0 ? 'none' : names.join(', ');
}

/**
 * Picks the image a reference names in a layout: the entries tagged `tag`, or, without a tag,
 * the layout's only image. Several entries with the same tag (one per platform) form one image.
 *
 * @throws ImageError `NotFound` when the tag is absent or the layout is empty (listing the tags);
 *   `InvalidArgument` when no tag is given and the layout holds several images (listing them).
 */
export async function chooseLayoutImage(blobs: LayoutBlobStore, index: ImageIndex, tag: string | undefined, options: ReadOptions = {}): Promise<LayoutChoice> {
  const indexPath = join(blobs.dir, 'index.json');
  const refs = await listLayoutRefs(blobs, index, 'index.json', options);
  if (tag !== undefined) {
    const hits = refs.filter((r) => r.name === tag);
    if (hits.length === 0) {
      throw notFound(`${indexPath} has no image tagged '${tag}' (tags: ${tagList(refs)})`, {
        subject: indexPath,
        hint: 'use one of the listed tags: oci:DIR:TAG',
      });
    }
    return { descriptors: hits.map((h) => h.descriptor), where: `tag '${tag}' (${hits[0]!.where})` };
  }
  const names = new Set(refs.map((r) => r.name));
  if (names.size > 1) {
    throw invalidArgument(`${indexPath} holds several images and the reference names none (tags: ${tagList(refs)})`, {
      subject: indexPath,
      hint: 'add the tag to the reference: oci:DIR:TAG',
    });
  }
  if (names.size === 1) {
    return { descriptors: refs.map((r) => r.descriptor), where: `tag '${refs[0]!.name}' (${refs[0]!.where})` };
  }
  const images = index.manifests.filter((d) => isIndexMediaType(d.mediaType) || isManifestMediaType(d.mediaType));
  // A lone entry of another media type: let resolving it say what it is.
  if (images.length === 0 && index.manifests.length === 1) return { descriptors: index.manifests, where: 'index.json manifests[0]' };
  if (images.length === 0) {
    throw notFound(`${indexPath} lists no image`, { subject: indexPath, hint: 'copy an image into the layout first (skopeo copy ... oci:DIR:TAG)' });
  }
  if (images.length > 1 && !images.every((d) => d.platform !== undefined)) {
    throw invalidArgument(`${indexPath} holds ${images.length} untagged images and the reference names none (tags: none)`, {
      subject: indexPath,
      hint: 'tag the image you want (umoci tag) and name it: oci:DIR:TAG',
    });
  }
  return { descriptors: images, where: 'index.json' };
}
