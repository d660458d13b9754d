import { openImage } from '../open/open-image.js';
import { openSource } from '../open/open-source.js';
import type { Platform } from '../image/types.js';
import type { RegistryClientOptions } from '../registry/options.js';
import { commitUpper, type CommitOptions, type CommitResult } from './commit.js';
import type { UpperOptions } from './upper-tree.js';

/** Options of {@link commitRef}. */
export interface CommitRefOptions extends RegistryClientOptions {
  /** The upper directory (made by `openImage(ref, { upper })` or `imagefs mount --writable --upper`). */
  upper: string | UpperOptions;
  /** `oci:DIR:TAG` or a registry reference. */
  to: string;
  /** The platform of a multi-platform REF. */
  platform?: Platform;
  /** The history entry's `created_by`. */
  createdBy?: string;
  /** Cancels the commit. */
  signal?: AbortSignal;
  /** Where to save the new layer's index (see {@link CommitOptions.indexStore}). */
  indexStore?: CommitOptions['indexStore'];
}

/**
 * Opens `ref` with the upper directory `options.upper` and commits the upper as a new layer to
 * `options.to` (see {@link commitUpper}): what `imagefs commit REF --upper DIR --to DEST` does.
 *
 * @example
 * ```ts
 * const { manifest } = await commitRef('oci:./layout:app', { upper: './upper', to: 'oci:./layout:app-2' });
 * console.log(manifest.digest);
 * ```
 */
export async function commitRef(ref: string, options: CommitRefOptions): Promise<CommitResult> {
  const { upper, to, platform, createdBy, signal, indexStore, ...registry } = options;
  const source = openSource(ref, registry);
  const resolved = await source.resolve({ ...(platform === undefined ? {} : { platform }), ...(signal === undefined ? {} : { signal }) });
  const fs = await openImage(source, { ...registry, resolved, upper, ...(signal === undefined ? {} : { signal }) });
  try {
    return await commitUpper(fs, {
      to, source, resolved, registry, ...(createdBy === undefined ? {} : { createdBy }), ...(signal === undefined ? {} : { signal }),
      ...(indexStore === undefined ? {} : { indexStore }),
    });
  } finally {
    await fs.close();
  }
}
