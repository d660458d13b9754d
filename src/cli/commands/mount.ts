import { ImageError } from '../../errors/image-fs-error.js';
import { mount, type FuseEvent, type FuseMount } from '../../fuse/index.js';
import { withImage, writeOut, type CommandContext, type CommandSpec } from '../command-spec.js';
import { UsageError } from '../usage-error.js';

/**
 * Fails unless this process may mount: FUSE's mount(2) and `chroot` need root (CAP_SYS_ADMIN).
 * One line, exit 1.
 */
export function requireRoot(command: string): void {
  if (process.platform !== 'linux') throw new ImageError('FailedPrecondition', `'imagefs ${command}' needs Linux (FUSE)`);
  if (process.getuid?.() !== 0) {
    throw new ImageError('PermissionDenied', `'imagefs ${command}' needs root: mounting a FUSE file system calls mount(2)`, {
      hint: `run it as root, e.g. 'sudo imagefs ${command} ...'`,
    });
  }
}

/** `--writable`/`--upper` belong to a later version: a usage error naming it. */
export function rejectWritable(ctx: CommandContext, command: string): void {
  if (ctx.flags['writable'] !== undefined || ctx.flags['upper'] !== undefined) {
    throw new UsageError('--writable and --upper are not available yet: this version mounts images read-only', command);
  }
}

/** One line for an event (`--json`: a JSON object). */
export function eventLine(event: FuseEvent, json: boolean): string {
  if (json) {
    const { error, ...rest } = event as FuseEvent & { error?: unknown };
    return `${JSON.stringify(error === undefined || error === null ? rest : { ...rest, error: String((error as Error).message ?? error) })}\n`;
  }
  switch (event.type) {
    case 'stale-cleared': return `imagefs: cleared a stale mount at ${event.mountpoint} (its server had exited)\n`;
    case 'mounted': return `imagefs: mounted at ${event.mountpoint} (FUSE ${event.protocol}, kernel ${event.kernel}, reads up to ${event.maxRead >> 10} KiB)\n`;
    case 'io-error': return `imagefs: ${event.op} of inode ${event.ino} failed with EIO: ${(event.error as Error).message ?? String(event.error)}\n`;
    case 'unmounted': return `imagefs: unmounted ${event.mountpoint}${event.error === null ? '' : ` (${event.error})`}\n`;
  }
}

/** Unmounts, lazily when busy (files still open); never rejects. */
export async function unmountQuietly(m: FuseMount): Promise<void> {
  await m.unmount().catch(() => m.unmount({ lazy: true })).catch(() => {});
  await m.closed;
}

/** `imagefs mount REF MOUNTPOINT`: serves the image in the foreground until unmounted or signalled. */
export const mountCommand: CommandSpec = {
  name: 'mount',
  args: ['REF', 'MOUNTPOINT'],
  summary: 'FUSE-mount REF at MOUNTPOINT, in the foreground until unmounted or signalled',
  details: 'Mounts the merged filesystem read-only at the existing directory MOUNTPOINT and prints events until it is unmounted (imagefs umount MOUNTPOINT, umount) or imagefs gets SIGINT or SIGTERM, then unmounts. A stale mount left at MOUNTPOINT by a killed server is cleared first. Needs root. --writable (copy-on-write into --upper DIR) comes in a later version.',
  options: [
    { name: 'writable', description: 'accept writes (copy-on-write into the upper directory; not available yet)' },
    { name: 'upper', value: 'DIR', description: 'where writes go (with --writable; not available yet)' },
  ],
  async run(ctx) {
    rejectWritable(ctx, 'mount');
    requireRoot('mount');
    const [ref, mountpoint] = [ctx.args[0]!, ctx.args[1]!];
    const print = (e: FuseEvent): void => {
      if (!ctx.global.quiet || e.type === 'io-error') void writeOut(e.type === 'io-error' ? ctx.io.stderr : ctx.io.stdout, eventLine(e, ctx.global.json)).catch(() => {});
    };
    await withImage(ctx, ref, async (image) => {
      const fs = await image.openImageFs(ctx.signal === undefined ? {} : { signal: ctx.signal });
      ctx.signal?.throwIfAborted();
      const m = await mount(fs.tree, mountpoint, { name: `imagefs:${ref}`.replace(/[\s,]/g, '_'), onEvent: print });
      const stop = (): void => { void unmountQuietly(m); };
      ctx.signal?.addEventListener('abort', stop, { once: true });
      if (ctx.signal?.aborted === true) stop();
      try {
        await m.closed;
      } finally {
        ctx.signal?.removeEventListener('abort', stop);
      }
    });
    return 0;
  },
};
