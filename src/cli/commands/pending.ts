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

/** `imagefs mount REF MOUNTPOINT` (not implemented yet: answers FailedPrecondition). */
export const mountCommand = pending('mount', ['REF', 'MOUNTPOINT'], 'FUSE-mount REF at MOUNTPOINT, in the foreground until unmounted or signalled',
  'Mounts the merged filesystem read-only (or writable with --writable, changes kept in --upper DIR) and prints events until unmounted or signalled.', [
    { name: 'writable', description: 'accept writes (copy-on-write into the upper directory)' },
    { name: 'upper', value: 'DIR', description: 'where writes go; created when missing, reused when made by imagefs' },
  ]);
