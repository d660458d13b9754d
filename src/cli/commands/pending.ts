import { ImageError } from '../../errors/image-fs-error.js';
import type { CommandSpec, OptionSpec } from '../command-spec.js';

function pending(name: string, args: string[], summary: string, details: string, options: OptionSpec[]): CommandSpec {
  return {
    name,
    args,
    summary,
    details,
    options,
    async run() {
      throw new ImageError('FailedPrecondition', `'imagefs ${name}' is not implemented yet in this version`, {
        hint: 'inspect, ls, cat and stat work today',
      });
    },
  };
}

/** `imagefs check REF` (not implemented yet: answers FailedPrecondition). */
export const checkCommand = pending('check', ['REF'], 'tell whether REF is eligible for lazy streaming, with every reason and its fix',
  'Prints the verdict and every reason with its fix. Exit 3 when the image is not eligible (the report is still printed). With --json: {eligible, reasons: [{code, message, layer?}], layers: [{digest, mediaType, size, mode: "lazy"|"whole"}]}.', []);

/** `imagefs index REF` (not implemented yet: answers FailedPrecondition). */
export const indexCommand = pending('index', ['REF'], 'build the seekable index of every layer (--push stores it in the registry)',
  'Builds the seekable index of every layer and prints, per layer, its entries, checkpoints and index size. --push stores the index in the registry as a referrer of the image.', [
    { name: 'push', description: 'store the index in the registry next to the image' },
    { name: 'span', value: 'BYTES', description: 'uncompressed bytes between checkpoints' },
  ]);

/** `imagefs mount REF MOUNTPOINT` (not implemented yet: answers FailedPrecondition). */
export const mountCommand = pending('mount', ['REF', 'MOUNTPOINT'], 'FUSE-mount REF at MOUNTPOINT, in the foreground until unmounted or signalled',
  'Mounts the merged filesystem read-only (or writable with --writable, changes kept in --upper DIR) and prints events until unmounted or signalled.', [
    { name: 'writable', description: 'accept writes (copy-on-write into the upper directory)' },
    { name: 'upper', value: 'DIR', description: 'where writes go; created when missing, reused when made by imagefs' },
  ]);
