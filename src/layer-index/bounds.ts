/**
 * What an index from outside must satisfy before its entries are served: every number that later
 * drives a read or an allocation lies inside the layer it describes.
 * @module
 */
import { dataLoss } from '../errors/image-fs-error.js';
import { storedSize } from '../tar/entry.js';
import { MAX_SPAN_BYTES } from './checkpoint.js';
import type { LayerIndex } from './layer-index.js';

/**
 * Checks an opened index against the layer it describes: checkpoints inside the layer's compressed
 * and uncompressed sizes, no span longer than {@link MAX_SPAN_BYTES} (a span is decoded whole, so
 * its length drives an allocation), and every entry's stored data inside the uncompressed layer
 * (decodes every entry once). Indexes built on this machine satisfy it by construction; the index
 * store runs it on every index it did not just build.
 *
 * @throws ImageError `DataLoss` naming the checkpoint or entry at fault.
 * @example
 * ```ts
 * checkIndexBounds(openIndex(bytes)); // throws DataLoss for an entry whose data lies past the layer
 * ```
 */
export function checkIndexBounds(index: LayerIndex): void {
  const { compressedSize, uncompressedSize, digest } = index.layer;
  const subject = digest;
  const positions = index.checkpointPositions();
  for (const [i, cp] of positions.entries()) {
    if (cp.compressedOffset > compressedSize || cp.uncompressedOffset > uncompressedSize) {
      throw dataLoss(`the index is corrupt: checkpoint ${i} (${cp.compressedOffset}, ${cp.uncompressedOffset}) lies past the layer (${compressedSize}, ${uncompressedSize} bytes)`, { subject });
    }
    const end = positions[i + 1]?.uncompressedOffset ?? uncompressedSize;
    if (end - cp.uncompressedOffset > MAX_SPAN_BYTES) {
      throw dataLoss(`the index is corrupt: the span after checkpoint ${i} is ${end - cp.uncompressedOffset} bytes, over the ${MAX_SPAN_BYTES} a span may hold`, { subject });
    }
  }
  let i = 0;
  for (const e of index) {
    const stored = storedSize(e);
    if (!Number.isSafeInteger(e.dataOffset) || e.dataOffset < 0 || !Number.isSafeInteger(stored) || e.dataOffset + stored > uncompressedSize) {
      throw dataLoss(`the index is corrupt: entry ${i} ('${e.path.slice(0, 100)}') has data at ${e.dataOffset}-${e.dataOffset + stored}, outside the layer's ${uncompressedSize} bytes`, { subject });
    }
    i++;
  }
}
