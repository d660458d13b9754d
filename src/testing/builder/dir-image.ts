import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageError, throwIfAborted } from '../../errors/index.js';
import type { BuiltImage } from './build-image.js';

/** The `version` file content of containers/image's `dir:` transport. */
export const DIR_TRANSPORT_VERSION = 'Directory Transport Version: 1.1\n';

/**
 * Writes one image in the `dir:` format of skopeo / containers/image: `manifest.json`, one file per
 * blob named by its hex digest, and `version`. Unlike an OCI layout (which skopeo 1.9 reads only
 * with OCI media types), this holds any manifest, so `skopeo inspect dir:DIR` and
 * `skopeo copy dir:DIR docker://...` work for the Docker flavour too. DIR must be missing or empty.
 *
 * @example
 * ```ts
 * const img = await buildImage({ flavour: 'docker', layers: [{ entries: [file('a', 'x')] }] });
 * await writeDirImage('/tmp/d', img); // skopeo inspect dir:/tmp/d
 * ```
 */
export async function writeDirImage(dir: string, image: BuiltImage, options: { signal?: AbortSignal } = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  if ((await readdir(dir)).length > 0) {
    throw new ImageError('FailedPrecondition', `${dir} is not empty`, { subject: dir, hint: 'give a new or empty directory' });
  }
  for (const [digest, bytes] of image.blobs) {
    throwIfAborted(options.signal);
    if (digest === image.descriptor.digest) continue;
    await writeFile(join(dir, digest.slice('sha256:'.length)), bytes);
  }
  await writeFile(join(dir, 'manifest.json'), image.manifestBytes);
  await writeFile(join(dir, 'version'), DIR_TRANSPORT_VERSION);
}
