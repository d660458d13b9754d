import { ImageError } from '../errors/image-fs-error.js';
import { OciLayoutSource } from '../layout/oci-layout-source.js';
import { parseImageRef } from '../layout/image-ref.js';
import type { ReadOptions } from '../source/read-at.js';
import { openSingleLayerFs, type SingleLayerFs } from './single-layer-fs.js';
import type { CliImage, GlobalOptions } from './types.js';

/**
 * Opens an image reference for a CLI command: resolves it now (so `inspect` needs nothing
 * more) and opens its filesystem when a command asks for it.
 *
 * Today: `oci:DIR[:TAG]` references only, served by the single-layer adapter. The integrator
 * replaces the body with ImageFs (and registry references) without touching the commands.
 *
 * @throws ImageError `FailedPrecondition` for registry references (not wired yet), plus what
 *   resolving the image throws.
 */
export async function openForCli(ref: string, options: GlobalOptions, readOptions: ReadOptions = {}): Promise<CliImage> {
  const parsed = parseImageRef(ref);
  if (parsed.kind === 'registry') {
    throw new ImageError('FailedPrecondition', `registry references such as '${ref}' are not wired into the CLI yet in this version`, {
      subject: ref,
      hint: 'copy the image into a local layout (skopeo copy docker://REF oci:DIR:TAG) and give oci:DIR:TAG',
    });
  }
  const source = OciLayoutSource.fromRef(parsed);
  try {
    const resolved = await source.resolve(options.platform === undefined ? readOptions : { ...readOptions, platform: options.platform });
    let fs: SingleLayerFs | undefined;
    return {
      resolved,
      openFs: async (fsOptions) => (fs ??= await openSingleLayerFs(source, resolved, fsOptions ?? readOptions)),
      close: async () => {
        await fs?.close();
        await source.close();
      },
    };
  } catch (error) {
    await source.close();
    throw error;
  }
}
