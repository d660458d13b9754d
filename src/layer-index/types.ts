import type { TarEntry } from '../tar/entry.js';
import type { Checkpoint } from './checkpoint.js';

/** The layer an index describes; an index is only valid for the exact blob it names. */
export interface IndexedLayer {
  /** The layer blob's digest (`sha256:<hex>`), as in the manifest. */
  digest: string;
  /** Size of the compressed blob in bytes. */
  compressedSize: number;
  /** The layer's media type, for instance `application/vnd.oci.image.layer.v1.tar+gzip`. */
  mediaType: string;
  /** Size of the uncompressed tar stream in bytes. */
  uncompressedSize: number;
}

/** Everything an index holds, as {@link encodeIndex} takes it. */
export interface LayerIndexData {
  layer: IndexedLayer;
  /** The tar entries in stream order, as the tar parser reports them. */
  entries: readonly TarEntry[];
  /** Resume points, in increasing offset order (may be empty for an uncompressed layer). */
  checkpoints: readonly Checkpoint[];
  /**
   * sha256 (32 bytes) of the compressed bytes of each span: span i is
   * [checkpoints[i].compressedOffset, checkpoints[i+1].compressedOffset + (bitOffset > 0 ? 1 : 0)),
   * the last one runs to the end of the blob. Either one per checkpoint, or none.
   */
  spanDigests: readonly Uint8Array[];
}
