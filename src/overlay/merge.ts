import { throwIfAborted } from '../errors/image-fs-error.js';
import type { LayerContent } from '../layer/types.js';
import { MergeBuilder, type MergeBuilderOptions } from './merge-builder.js';
import type { MergedTree } from './merged-tree.js';

/** Options of {@link mergeLayers}. */
export interface MergeOptions extends MergeBuilderOptions {
  /** Cancels the merge between layers and while entries load. */
  signal?: AbortSignal;
}

/**
 * Merges layers (base first) into the read-only tree of the image, as containerd unpacks them.
 * Each layer's entry table is loaded, applied and dropped before the next is loaded, so at most
 * one table is alive besides the tree being built.
 *
 * @example
 * ```ts
 * const tree = await mergeLayers(layers);
 * tree.lookup(0, 'etc'); // node of /etc, or -1
 * for (const w of tree.warnings) console.warn(w.code, w.path);
 * ```
 */
export async function mergeLayers(layers: readonly Pick<LayerContent, 'entries'>[], options: MergeOptions = {}): Promise<MergedTree> {
  const builder = new MergeBuilder(options);
  for (let i = 0; i < layers.length; i++) {
    throwIfAborted(options.signal);
    builder.applyLayer(i, await layers[i]!.entries({ signal: options.signal }));
  }
  throwIfAborted(options.signal);
  return builder.finish();
}
