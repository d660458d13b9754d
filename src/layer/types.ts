import type { Descriptor } from '../image/types.js';
import type { ReadAtSource, ReadOptions } from '../source/read-at.js';
import type { TarEntry } from '../tar/entry.js';

/**
 * A layer made readable: its tar entries and random access to its uncompressed tar stream.
 * Whether the bytes come from a seekable index over the registry, a whole download or a cache
 * is the implementation's business; every byte `data.readAt` returns has been verified against
 * the layer digest (whole reads) or a trusted index (lazy reads).
 */
export interface LayerContent {
  /** The layer's descriptor from the manifest. */
  readonly descriptor: Descriptor;
  /** How the layer is served: `lazy` (seekable index) or `whole` (downloaded and verified whole). */
  readonly mode: 'lazy' | 'whole';
  /** The tar entries in stream order (whiteouts included, as they are in the tar). */
  entries(options?: ReadOptions): Promise<readonly TarEntry[]>;
  /** The uncompressed tar stream; `TarEntry.dataOffset` indexes into it. */
  readonly data: ReadAtSource;
  /** Releases what the layer holds. */
  close(): Promise<void>;
}
