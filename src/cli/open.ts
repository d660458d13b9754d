import { openImage } from '../open/open-image.js';
import { openSource } from '../open/open-source.js';
import type { RegistryClientOptions } from '../registry/options.js';
import type { ReadOptions } from '../source/read-at.js';
import type { ImageFs } from '../fs/image-fs.js';
import { ImageFsView } from './image-fs-view.js';
import type { CliImage, GlobalOptions } from './types.js';

/** The registry client options the global CLI options stand for. */
export function registryOptions(options: GlobalOptions): RegistryClientOptions {
  const out: RegistryClientOptions = { insecure: options.insecure };
  if (options.creds) out.credentials = options.creds;
  if (options.authFile !== undefined) out.authFile = options.authFile;
  return out;
}

/**
 * Opens an image reference for a CLI command: resolves it now (so `inspect` needs nothing
 * more) and opens its merged filesystem when a command asks for it.
 */
export async function openForCli(ref: string, options: GlobalOptions, readOptions: ReadOptions = {}): Promise<CliImage> {
  const source = openSource(ref, registryOptions(options));
  let fs: Promise<ImageFs> | undefined;
  try {
    const resolved = await source.resolve({ signal: readOptions.signal, platform: options.platform });
    const openImageFs = (fsOptions?: ReadOptions): Promise<ImageFs> =>
      (fs ??= openImage(source, { resolved, signal: (fsOptions ?? readOptions).signal }));
    return {
      resolved,
      openImageFs,
      openFs: async (fsOptions) => new ImageFsView(await openImageFs(fsOptions)),
      close: async () => {
        const opened = await fs?.catch(() => undefined);
        if (opened) await opened.close();
        else await source.close();
      },
    };
  } catch (error) {
    await source.close();
    throw error;
  }
}
