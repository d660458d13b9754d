import { ImageError } from '../../errors/image-fs-error.js';
import { mount, type FuseEvent, type FuseMount, type FuseMountOptions } from '../../fuse/index.js';
import { writeOut, type CommandContext, type CommandSpec } from '../command-spec.js';
import type { CliImage } from '../types.js';
import type { ImageFsEvent, ImageFsEventListener } from '../../open/events.js';
import type { UpperOptions } from '../../upper/upper-tree.js';
import { humanBytes, progressBar } from '../format.js';
import { compactUpper, writableUpper } from './writable.js';

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

/**
 * One line for an image event on a mount's output, or undefined for the events a mount does not
 * print (per-layer and per-span events, progress: a terminal gets a bar instead). `--json`: the
 * event as a JSON object.
 */
export function imageEventLine(event: ImageFsEvent, json: boolean): string | undefined {
  if (event.type === 'layer' || event.type === 'progress' || event.type === 'cache-hit' || event.type === 'cache-miss') return undefined;
  if (json) return `${JSON.stringify(event)}\n`;
  switch (event.type) {
    case 'pulling': return `imagefs: pulling image ${event.reference}\n`;
    case 'streaming': return `imagefs: image ${event.reference} is streamed: ${event.lazy} of ${event.layers} layers read lazily\n`;
    case 'pulled': return `imagefs: Successfully pulled image ${event.reference} in ${(event.ms / 1000).toFixed(1)}s${event.streaming ? ' (streaming)' : ''}\n`;
    case 'fallback': return `imagefs: not streamed as a whole:${event.reasons.map((r) => `\n  ${r.code}: ${r.message}`).join('')}\n`;
    case 'soci-index': return `imagefs: a SOCI index ${event.digest} refers to the image (imagefs reads its own index)\n`;
    case 'index-ignored': return `imagefs: the stored index of ${event.digest} is not used: ${event.why}\n`;
    case 'downloaded': return `imagefs: downloaded the image into the cache: ${humanBytes(event.bytes)} in ${(event.ms / 1000).toFixed(1)}s (${humanBytes(event.fetched)} from the network)\n`;
    case 'cache-warning': return `imagefs: warning: ${event.message}\n`;
    case 'profile-used': return `imagefs: the background download fetches the ${event.spans} spans of the startup profile ${event.digest} first\n`;
    case 'profile-ignored': return `imagefs: the startup profile in the registry is not used (${event.code}): ${event.why}\n`;
    default: return undefined;
  }
}

/**
 * The image events of `mount`: lines on stdout (warnings on stderr), the background download's
 * progress as a bar on a terminal's stderr; only warnings with `--quiet`.
 */
export function imageEventPrinter(ctx: CommandContext): ImageFsEventListener {
  const tty = (ctx.io.stderr as { isTTY?: boolean }).isTTY === true && !ctx.global.quiet && !ctx.global.json;
  let barShown = false;
  return (e) => {
    if (e.type === 'progress') {
      if (tty) {
        barShown = true;
        void writeOut(ctx.io.stderr, `\r${progressBar(e.bytes, e.total)}`).catch(() => {});
      }
      return;
    }
    if (ctx.global.quiet && e.type !== 'cache-warning') return;
    const line = imageEventLine(e, ctx.global.json);
    if (line === undefined) return;
    const lead = barShown ? '\n' : '';
    barShown = false;
    void writeOut(e.type === 'cache-warning' ? ctx.io.stderr : ctx.io.stdout, `${lead}${line}`).catch(() => {});
  };
}

/** Unmounts, lazily when busy (files still open); never rejects. */
export async function unmountQuietly(m: FuseMount): Promise<void> {
  await m.unmount().catch(() => m.unmount({ lazy: true })).catch(() => {});
  await m.closed;
}

/**
 * Opens `ref` and mounts its tree at `mountpoint`, the two at once: the server's thread boots and
 * the mountpoint is checked while the manifest and the indexes travel. Closes the image when the
 * mount fails. With `upper`, the image opens writable over it (and is mounted read-write).
 */
export async function openAndMount(
  ctx: CommandContext, ref: string, mountpoint: string, options: FuseMountOptions, upper?: string | UpperOptions, onImageEvent?: ImageFsEventListener,
): Promise<{ image: CliImage; mount: FuseMount }> {
  const readOptions = ctx.signal === undefined ? {} : { signal: ctx.signal };
  const opening = ctx.open(ref, ctx.global, readOptions);
  // With a disk cache, the layers download whole in the background (below the reads' priority)
  // and reads move to the local copy; --no-background turns that off.
  const background = ctx.flags['no-background'] !== true;
  const tree = opening.then(async (image) => (await image.openImageFs({
    ...readOptions, background, ...(upper === undefined ? {} : { upper }), ...(onImageEvent === undefined ? {} : { onImageEvent }),
  })).tree);
  tree.catch(() => {}); // reported through mount()
  try {
    const m = await mount(tree, mountpoint, options);
    return { image: await opening, mount: m };
  } catch (error) {
    await (await opening.catch(() => undefined))?.close();
    throw error;
  }
}

/** `imagefs mount REF MOUNTPOINT`: serves the image in the foreground until unmounted or signalled. */
export const mountCommand: CommandSpec = {
  name: 'mount',
  args: ['REF', 'MOUNTPOINT'],
  summary: 'FUSE-mount REF at MOUNTPOINT, in the foreground until unmounted or signalled',
  details: 'Mounts the merged filesystem read-only at the existing directory MOUNTPOINT and prints events until it is unmounted (imagefs umount MOUNTPOINT, umount) or imagefs gets SIGINT or SIGTERM, then unmounts. A stale mount left at MOUNTPOINT by a killed server is cleared first. Needs root. With --writable the mount is read-write: changes go to an upper layer, in memory or in --upper DIR (made when missing, reused when imagefs made it over the same image; compacted at unmount), which imagefs commit turns into a layer.',
  options: [
    { name: 'writable', description: 'mount read-write: changes go to an upper layer (in memory without --upper)' },
    { name: 'upper', value: 'DIR', description: 'keep the changes in DIR (with --writable): kept across mounts, for imagefs commit' },
    { name: 'no-background', description: 'do not download the layers whole into the cache in the background (on by default with a cache)' },
  ],
  async run(ctx) {
    const upper = writableUpper(ctx, 'mount');
    requireRoot('mount');
    const [ref, mountpoint] = [ctx.args[0]!, ctx.args[1]!];
    const print = (e: FuseEvent): void => {
      if (!ctx.global.quiet || e.type === 'io-error') void writeOut(e.type === 'io-error' ? ctx.io.stderr : ctx.io.stdout, eventLine(e, ctx.global.json)).catch(() => {});
    };
    const { image, mount: m } = await openAndMount(ctx, ref, mountpoint, {
      name: `imagefs:${ref}`.replace(/[\s,]/g, '_'),
      onEvent: print,
    }, upper, imageEventPrinter(ctx));
    const stop = (): void => { void unmountQuietly(m); };
    ctx.signal?.addEventListener('abort', stop, { once: true });
    if (ctx.signal?.aborted === true) stop();
    // SIGUSR2 prints the requests the kernel has sent so far, by opcode (for benches and debugging).
    const counts = (): void => { void writeOut(ctx.io.stderr, `imagefs: requests ${JSON.stringify(m.requestCounts())}\n`).catch(() => {}); };
    process.on('SIGUSR2', counts);
    try {
      await m.closed;
    } finally {
      process.off('SIGUSR2', counts);
      ctx.signal?.removeEventListener('abort', stop);
      if (upper !== undefined) {
        const problem = compactUpper(await image.openImageFs());
        if (problem !== undefined) await writeOut(ctx.io.stderr, problem).catch(() => {});
      }
      await image.close();
    }
    return 0;
  },
};
