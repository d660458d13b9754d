import { DEFAULT_CACHE_MAX_BYTES } from '../cache/disk-admin.js';
import { DiskCache } from '../cache/disk-cache.js';
import { NoCache } from '../cache/no-cache.js';
import { BlobCacheIndexCache } from '../index-store/local-index-cache.js';
import type { BlobCache } from '../cache/types.js';
import { openImage } from '../open/open-image.js';
import { openSource } from '../open/open-source.js';
import type { RegistryClientOptions } from '../registry/options.js';
import { mirrorUrl } from '../registry/registries-conf.js';
import type { ReadOptions } from '../source/read-at.js';
import type { ImageFs } from '../fs/image-fs.js';
import { ImageFsView } from './image-fs-view.js';
import type { CliImage, CliImageFsOptions, GlobalOptions } from './types.js';

/** The registry client options the global CLI options stand for. */
export function registryOptions(options: GlobalOptions): RegistryClientOptions {
  const out: RegistryClientOptions = { insecure: options.insecure };
  if (options.creds) out.credentials = options.creds;
  if (options.authFile !== undefined) out.authFile = options.authFile;
  const mirrors: Record<string, string[]> = { ...options.confMirrors };
  // --mirror names mirrors of every registry ('*'), tried before the ones registries.conf gives.
  if (options.mirrors !== undefined) mirrors['*'] = options.mirrors.map((m) => mirrorUrl(m, options.insecure));
  if (Object.keys(mirrors).length > 0) out.mirrors = mirrors;
  return out;
}

/**
 * Opens an image reference for a CLI command: resolves it now (so `inspect` needs nothing
 * more) and opens its merged filesystem when a command asks for it.
 */
export async function openForCli(ref: string, options: GlobalOptions, readOptions: ReadOptions = {}): Promise<CliImage> {
  const source = openSource(ref, registryOptions(options));
  let fs: Promise<ImageFs> | undefined;
  let cache: Promise<BlobCache> | undefined;
  try {
    const resolved = await source.resolve({ signal: readOptions.signal, platform: options.platform });
    const openImageFs = (fsOptions?: CliImageFsOptions): Promise<ImageFs> =>
      (fs ??= (async () => {
        // --cache DIR (default under ~/.cache) keeps whole-pulled layers on disk; --no-cache keeps nothing.
        // The CLI's cache is bounded (DEFAULT_CACHE_MAX_BYTES, 10 GiB; `imagefs cache prune --max` trims it further).
        cache ??= options.cacheDir === undefined ? Promise.resolve(new NoCache()) : DiskCache.open(options.cacheDir, { maxBytes: DEFAULT_CACHE_MAX_BYTES });
        // Indexes made by `imagefs index` live in the same cache; the registry's referrers come next.
        const blobs = await cache;
        return openImage(source, {
          resolved, signal: (fsOptions ?? readOptions).signal, cache: blobs, indexCache: new BlobCacheIndexCache(blobs),
          ...(fsOptions?.upper === undefined ? {} : { upper: fsOptions.upper }), // --writable [--upper DIR]
          ...(fsOptions?.background === true && options.cacheDir !== undefined ? { background: true } : {}), // mount and run
          ...(fsOptions?.onImageEvent === undefined ? {} : { onImageEvent: fsOptions.onImageEvent }),
        });
      })());
    return {
      resolved,
      openImageFs,
      openFs: async (fsOptions) => new ImageFsView(await openImageFs(fsOptions)),
      close: async () => {
        const opened = await fs?.catch(() => undefined);
        if (opened) await opened.close();
        else await source.close();
        await (await cache?.catch(() => undefined))?.close();
      },
    };
  } catch (error) {
    await source.close();
    throw error;
  }
}
