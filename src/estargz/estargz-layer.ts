/**
 * An eStargz layer served lazily through its own TOC: no imagefs index is needed.
 * @module
 */
import { invalidArgument } from '../errors/image-fs-error.js';
import { layerCompression } from '../image/media-types.js';
import type { Descriptor, ImageSource } from '../image/types.js';
import type { ReadOptions } from '../source/read-at.js';
import { EstargzChunkReader } from './chunk-reader.js';
import { ESTARGZ_TOC_DIGEST, estargzTocDigestOf, readEstargzToc, type EstargzToc } from './toc.js';
import { tocToLayout } from './toc-entries.js';
import { TocLayer, type TocLayerContent } from './toc-layer.js';

/** Options of {@link openEstargzLayer}. */
export interface EstargzLayerOptions extends ReadOptions {
  /** Keep the landmark files (`.prefetch.landmark`, `.no.prefetch.landmark`) among the entries. Default false (hidden, as containerd's stargz snapshotter does). */
  showLandmarks?: boolean;
  /** Bytes of verified chunks kept in memory. Default 8 MiB. */
  cacheBytes?: number;
  /** Largest TOC accepted (uncompressed bytes). Default 128 MiB. */
  maxTocSize?: number;
}

/** A lazily read eStargz layer, with its TOC and read counters. */
export type EstargzLayerContent = TocLayerContent<EstargzToc>;

/** True when the descriptor announces an eStargz layer imagefs can read lazily: gzip, with a toc.digest annotation. */
export function isEstargzLayer(descriptor: Descriptor): boolean {
  return layerCompression(descriptor.mediaType) === 'gzip' && estargzTocDigestOf(descriptor) !== undefined;
}

/**
 * Opens an eStargz layer lazily: two reads at open (footer, TOC member), the TOC verified against
 * the descriptor's `containerd.io/snapshot/stargz/toc.digest` annotation, then `entries()` from the
 * TOC and `data` over a virtual stream of the regular files' contents (each file's `dataOffset` is
 * the sum of the sizes before it), every chunk checked against its TOC digest before use.
 *
 * The TOC itself (`stargz.index.json`) and, unless `showLandmarks`, the landmark files are not
 * among the entries, as with containerd's stargz snapshotter. (A whole read of the same layer
 * shows them: they are real tar entries.)
 *
 * A layer without the annotation is refused: its TOC could only be trusted after reading the whole
 * blob, so the caller should read it whole instead.
 *
 * @throws ImageError `InvalidArgument` (not gzip, no annotation, a TOC that cannot serve verified
 *   reads), `DataLoss` (no footer, corrupt TOC, TOC digest differs from the annotation).
 * @example
 * ```ts
 * const layer = await openEstargzLayer(source, descriptor);
 * const e = (await layer.entries()).find((x) => x.path === 'etc/hosts')!;
 * const bytes = await layer.data.readAt(e.dataOffset, e.size);
 * ```
 */
export async function openEstargzLayer(source: ImageSource, descriptor: Descriptor, options: EstargzLayerOptions = {}): Promise<EstargzLayerContent> {
  const subject = descriptor.digest;
  if (layerCompression(descriptor.mediaType) !== 'gzip') {
    throw invalidArgument(`layer ${subject} has media type ${descriptor.mediaType}; eStargz layers are gzip`, { subject });
  }
  if (estargzTocDigestOf(descriptor) === undefined) {
    throw invalidArgument(`layer ${subject} has no ${ESTARGZ_TOC_DIGEST} annotation, so its eStargz TOC cannot be verified`, { subject, hint: 'read the layer whole, or index it with imagefs index' });
  }
  const signal = options.signal === undefined ? {} : { signal: options.signal };
  const blob = await source.openBlob(descriptor, signal);
  try {
    const read = await readEstargzToc(blob, descriptor, { ...signal, ...(options.maxTocSize === undefined ? {} : { maxTocSize: options.maxTocSize }) });
    const layout = tocToLayout(read.toc, read.tocOffset, { subject, ...(options.showLandmarks === undefined ? {} : { showLandmarks: options.showLandmarks }) });
    const data = new EstargzChunkReader(layout.chunks, layout.size, blob, { subject, ...(options.cacheBytes === undefined ? {} : { cacheBytes: options.cacheBytes }) });
    return new TocLayer<EstargzToc>(descriptor, read.toc, layout.entries, data);
  } catch (error) {
    await blob.close?.();
    throw error;
  }
}
