import { resolve } from 'node:path';
import { ImageError } from '../../errors/image-fs-error.js';
import { clearStaleMount, mountAt } from '../../fuse/index.js';
import { runProgram } from '../../fuse/mount-table.js';
import { writeOut, type CommandSpec } from '../command-spec.js';
import { requireRoot } from './mount.js';

/** `imagefs umount MOUNTPOINT`: unmounts (or clears a stale mount) and says so in one line. */
export const umountCommand: CommandSpec = {
  name: 'umount',
  args: ['MOUNTPOINT'],
  summary: 'unmount an imagefs mount, or clear one left stale by a killed server',
  details: 'Unmounts the FUSE mount at MOUNTPOINT; the serving imagefs mount then exits 0. A mount whose server was killed ("Transport endpoint is not connected") is detached. A busy mount (files open under it) is left mounted with an error; --lazy detaches it at once and finishes when the last file is closed. Needs root.',
  options: [{ name: 'lazy', short: 'l', description: 'detach now even when busy (umount -l)' }],
  async run(ctx) {
    requireRoot('umount');
    const mountpoint = resolve(ctx.args[0]!);
    const say = (line: string): Promise<void> => (ctx.global.quiet ? Promise.resolve() : writeOut(ctx.io.stdout, `${line}\n`));
    if (await clearStaleMount(mountpoint)) {
      await say(`imagefs: cleared a stale mount at ${mountpoint} (its server had exited)`);
      return 0;
    }
    const entry = await mountAt(mountpoint);
    if (entry === undefined) throw new ImageError('FailedPrecondition', `nothing is mounted at ${mountpoint}`);
    if (!entry.fstype.startsWith('fuse')) {
      throw new ImageError('FailedPrecondition', `${mountpoint} is a ${entry.fstype} mount, not an imagefs one`, { hint: 'use umount for other file systems' });
    }
    const lazy = ctx.flags['lazy'] === true;
    const result = await runProgram('umount', lazy ? ['-l', mountpoint] : [mountpoint]);
    if (result.code !== 0) {
      throw new ImageError('FailedPrecondition', `cannot unmount ${mountpoint}: ${result.stderr.replace(/^umount: /, '') || `umount exited ${result.code}`}`, {
        hint: `close the files open under it, or detach it now with 'imagefs umount --lazy ${ctx.args[0]!}'`,
      });
    }
    await say(`imagefs: unmounted ${mountpoint}${lazy ? ' (lazily)' : ''}`);
    return 0;
  },
};
