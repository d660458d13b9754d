/**
 * `mount(tree, mountpoint)`: an {@link FsTree} served at a mountpoint until unmounted. Glue
 * between the session (bytes in and out of /dev/fuse) and the operations (requests about the
 * tree).
 */
import { EventEmitter } from 'node:events';
import { stat } from 'node:fs/promises';
import type { FsTree } from '../tree/types.js';
import { readInHeader } from './codec.js';
import { clearStaleMount } from './mount-table.js';
import { FuseOperations, type OperationNote } from './operations.js';
import { NO_REPLY_OPS, Size } from './protocol.js';
import { FuseSession } from './session.js';

/**
 * Options of {@link mount}. Times are in seconds.
 *
 * @example
 * ```ts
 * await mount(tree, '/mnt/image', { name: 'alpine', cacheSeconds: 60, onEvent: (e) => console.log(e.type) });
 * ```
 */
export interface FuseMountOptions {
  /** The source shown in the mount table (`mount`, /proc/mounts). Default `imagefs`. */
  name?: string;
  /**
   * How long the kernel may cache names (found or not) and attributes. The image never
   * changes, so the default is long: 3600.
   */
  cacheSeconds?: number;
  /** Let users other than the mounting one use the mount (`allow_other`). Default true. */
  allowOther?: boolean;
  /** Detach a stale mount left at `mountpoint` by a killed server first. Default true. */
  clearStale?: boolean;
  /** Unmounts when aborted. */
  signal?: AbortSignal;
  /** Receives every {@link FuseEvent}, those before `mount` resolves included. */
  onEvent?: (event: FuseEvent) => void;
}

/**
 * What a mount reports.
 *
 * @example
 * ```ts
 * m.on('event', (e) => { if (e.type === 'io-error') console.error(`read of inode ${e.ino} failed`, e.error); });
 * ```
 */
export type FuseEvent =
  /** A stale mount was detached from the mountpoint before mounting. */
  | { type: 'stale-cleared'; mountpoint: string }
  /** The kernel has mounted the tree and negotiated the protocol. */
  | { type: 'mounted'; mountpoint: string; kernel: string; protocol: string; maxRead: number; maxReadahead: number }
  /** A request failed with EIO (a layer fetch failed): `ino` is the inode, `error` the cause. */
  | { type: 'io-error'; mountpoint: string; op: string; ino: number; error: unknown }
  /** The connection ended; `error` is null after a normal unmount. */
  | { type: 'unmounted'; mountpoint: string; error: string | null };

/**
 * The events of a {@link FuseMount}: every {@link FuseEvent} on `event`.
 *
 * @example
 * ```ts
 * m.once('event', (e) => console.log(e.type)); // 'mounted' first
 * ```
 */
export interface FuseMountEvents {
  /** Every event. */
  event: [FuseEvent];
}

/**
 * A mounted tree. `closed` resolves when the mount is gone, whoever unmounted it (this handle,
 * `umount`, `imagefs umount`); events arrive on `'event'`.
 *
 * @example
 * ```ts
 * const m = await mount(tree, '/mnt/image');
 * m.on('event', (e) => console.log(e.type));
 * process.once('SIGINT', () => void m.unmount());
 * await m.closed;
 * ```
 */
export class FuseMount extends EventEmitter<FuseMountEvents> {
  /** The absolute mountpoint. */
  readonly mountpoint: string;
  /** Resolves when the mount has ended (never rejects). */
  readonly closed: Promise<void>;
  private readonly session: FuseSession;

  /** @internal Made by {@link mount}. */
  constructor(session: FuseSession) {
    super();
    this.session = session;
    this.mountpoint = session.mountpoint;
    this.closed = session.closed.then(() => undefined);
  }

  /**
   * Unmounts and resolves once the kernel has let go. With `lazy`, detaches at once even while
   * files are open (`umount -l`); without, a busy mount rejects and stays mounted.
   *
   * @example
   * ```ts
   * await m.unmount().catch(() => m.unmount({ lazy: true }));
   * ```
   */
  async unmount(options: { lazy?: boolean } = {}): Promise<void> {
    await this.session.unmount(options.lazy ?? false);
  }
}

/**
 * Mounts `tree` read-only at `mountpoint` (an existing directory) over /dev/fuse, speaking the
 * kernel's FUSE protocol directly (no libfuse). Needs root (or CAP_SYS_ADMIN) for mount(2).
 * Resolves once mounted; the first access to the mountpoint waits for the INIT exchange. The
 * process stays alive while mounted (the reader thread) and may exit once unmounted.
 *
 * Never access the mountpoint synchronously from this process (`fs.statSync`, `execSync`): the
 * thread that would answer is the one waiting. Use asynchronous calls or child processes.
 *
 * @example
 * ```ts
 * import { openImage } from 'imagefs';
 * import { mount } from 'imagefs/fuse';
 * const image = await openImage('docker.io/library/alpine:3.20');
 * const m = await mount(image.tree, '/mnt/alpine');
 * process.once('SIGTERM', () => void m.unmount({ lazy: true }));
 * await m.closed;
 * await image.close();
 * ```
 */
export async function mount(tree: FsTree, mountpoint: string, options: FuseMountOptions = {}): Promise<FuseMount> {
  const onEvent = options.onEvent ?? (() => {});
  options.signal?.throwIfAborted();
  if (options.clearStale ?? true) {
    if (await clearStaleMount(mountpoint)) onEvent({ type: 'stale-cleared', mountpoint });
  }
  const st = await stat(mountpoint);
  if (!st.isDirectory()) throw Object.assign(new Error(`mountpoint ${mountpoint} is not a directory`), { code: 'ENOTDIR' });
  const session = await FuseSession.mount(mountpoint, {
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.allowOther === undefined ? {} : { allowOther: options.allowOther }),
  });
  const handle = new FuseMount(session);
  const emit = (event: FuseEvent): void => {
    onEvent(event);
    handle.emit('event', event);
  };
  const seconds = options.cacheSeconds ?? 3600;
  const ops = new FuseOperations(tree, { entrySeconds: seconds, attrSeconds: seconds }, (n: OperationNote) => {
    if (n.type === 'init') emit({ type: 'mounted', mountpoint: session.mountpoint, kernel: n.kernel, protocol: n.protocol, maxRead: n.maxRead, maxReadahead: n.maxReadahead });
    else emit({ type: 'io-error', mountpoint: session.mountpoint, op: n.op, ino: n.ino, error: n.error });
  });
  session.start((req) => {
    const header = readInHeader(req);
    const body = req.subarray(Size.IN_HEADER, header.len);
    void ops.handle(header, body).then((reply) => {
      if (reply === null || NO_REPLY_OPS.has(header.opcode)) return;
      if ('errno' in reply) session.reply(header.unique, reply.errno);
      else session.reply(header.unique, 0, reply.body);
    });
  });
  const onAbort = (): void => { void handle.unmount({ lazy: true }).catch(() => {}); };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  void session.closed.then(({ error }) => {
    options.signal?.removeEventListener('abort', onAbort);
    emit({ type: 'unmounted', mountpoint: session.mountpoint, error });
  });
  return handle;
}
