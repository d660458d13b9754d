/**
 * `mount(tree, mountpoint)`: an {@link FsTree} served at a mountpoint until unmounted. Glue
 * between the session (bytes in and out of /dev/fuse) and the operations (requests about the
 * tree).
 */
import { EventEmitter } from 'node:events';
import { stat } from 'node:fs/promises';
import { isWritableTree, type FsTree } from '../tree/types.js';
import { readInHeader } from './codec.js';
import { clearStaleMount } from './mount-table.js';
import { FuseOperations, type OperationNote } from './operations.js';
import { NO_REPLY_OPS, Op, Size } from './protocol.js';
import { ReaderThread } from './reader-thread.js';
import { FuseSession } from './session.js';
import { FuseWriteOperations } from './write-operations.js';

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
   * changes, so the default is long: 3600; 0 for a writable tree (it changes).
   */
  cacheSeconds?: number;
  /** Let users other than the mounting one use the mount (`allow_other`). Default true. */
  allowOther?: boolean;
  /** Detach a stale mount left at `mountpoint` by a killed server first. Default true. */
  clearStale?: boolean;
  /**
   * Zero-message opens: when the kernel offers them (Linux 3.16+ for files, 5.1+ for
   * directories), the first OPEN and OPENDIR are answered `ENOSYS`, after which the kernel opens
   * and closes files and directories without asking (no OPEN, RELEASE, OPENDIR, RELEASEDIR), page
   * cache and listings kept. Default true; false makes every open a round trip (for comparison).
   */
  zeroMessageOpen?: boolean;
  /**
   * The kernel's readahead for the mount, in KiB, set through /sys/class/bdi once mounted (the
   * kernel starts FUSE mounts at 128 KiB and lets INIT only lower it). 1024 makes sequential reads
   * and page faults in mapped programs come as 1 MiB READs, in fewer round trips (python3 started
   * 35% sooner without a link cap), but with a span cache that refetches reads crossing spans it
   * fetched more bytes (docs/fuse.md, "Readahead"). Default 0: the kernel's. Where sysfs is not
   * writable (rootless), the kernel's stays.
   */
  readaheadKiB?: number;
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
  | {
    type: 'mounted'; mountpoint: string; kernel: string; protocol: string; maxRead: number; maxReadahead: number;
    /** Whether opens cost no message (see {@link FuseMountOptions.zeroMessageOpen}). */
    zeroMessageOpen: boolean;
  }
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
  private readonly ops: FuseOperations;

  /** @internal Made by {@link mount}. */
  constructor(session: FuseSession, ops: FuseOperations) {
    super();
    this.session = session;
    this.ops = ops;
    this.mountpoint = session.mountpoint;
    this.closed = session.closed.then(() => undefined);
  }

  /**
   * The requests the kernel has sent so far, by opcode name: what a workload costs in round
   * trips (a warm read of cached pages sends no `READ`; with zero-message opens no `OPEN`).
   *
   * @example
   * ```ts
   * const before = m.requestCounts().READ ?? 0; // then read a file twice: READ grows once
   * ```
   */
  requestCounts(): Record<string, number> {
    return this.ops.requestCounts();
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
 * Mounts `tree` at `mountpoint` (an existing directory) over /dev/fuse, read-only, or read-write
 * when it is a `WritableFsTree` (an image opened with `upper`; see docs/fuse.md), speaking the
 * kernel's FUSE protocol directly (no libfuse). Needs root (or CAP_SYS_ADMIN) for mount(2).
 * Resolves once mounted; the first access to the mountpoint waits for the INIT exchange. The
 * process stays alive while mounted (the reader thread) and may exit once unmounted.
 *
 * `tree` may be a promise (an image still opening): the server's thread boots and the
 * mountpoint is checked meanwhile, and mount(2) happens once the tree is there, so a mount
 * started together with `openImage` is ready sooner. If the promise rejects, so does `mount`,
 * with nothing mounted.
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
export async function mount(tree: FsTree | PromiseLike<FsTree>, mountpoint: string, options: FuseMountOptions = {}): Promise<FuseMount> {
  const onEvent = options.onEvent ?? (() => {});
  const reader = new ReaderThread(); // boots (tens of ms) while the tree and the mountpoint get ready
  let session: FuseSession;
  let ready: FsTree;
  try {
    options.signal?.throwIfAborted();
    const checkMountpoint = async (): Promise<void> => {
      if (options.clearStale ?? true) {
        if (await clearStaleMount(mountpoint)) onEvent({ type: 'stale-cleared', mountpoint });
      }
      const st = await stat(mountpoint);
      if (!st.isDirectory()) throw Object.assign(new Error(`mountpoint ${mountpoint} is not a directory`), { code: 'ENOTDIR' });
    };
    [ready] = await Promise.all([tree, checkMountpoint()]);
    options.signal?.throwIfAborted();
    session = await FuseSession.mount(mountpoint, {
      reader,
      ...(options.name === undefined ? {} : { name: options.name }),
      ...(options.allowOther === undefined ? {} : { allowOther: options.allowOther }),
      readOnly: !isWritableTree(ready), // a WritableFsTree (an upper) is mounted rw and served by FuseWriteOperations
    });
  } catch (error) {
    reader.cancel();
    throw error;
  }
  const seconds = options.cacheSeconds ?? (isWritableTree(ready) ? 0 : 3600);
  const readaheadKiB = options.readaheadKiB ?? 0;
  let init: Extract<OperationNote, { type: 'init' }> | undefined;
  const onNote = (n: OperationNote): void => {
    if (n.type === 'init') init = n; // 'mounted' goes out once INIT is answered and the readahead set
    else emit({ type: 'io-error', mountpoint: session.mountpoint, op: n.op, ino: n.ino, error: n.error });
  };
  const valid = { entrySeconds: seconds, attrSeconds: seconds };
  const ops = isWritableTree(ready) ? new FuseWriteOperations(ready, valid, onNote) : new FuseOperations(ready, valid, onNote, options.zeroMessageOpen ?? true);
  const afterInit = async (n: Extract<OperationNote, { type: 'init' }>): Promise<void> => {
    const readahead = readaheadKiB > 0 ? await session.setReadahead(readaheadKiB) : undefined;
    emit({
      type: 'mounted', mountpoint: session.mountpoint, kernel: n.kernel, protocol: n.protocol, maxRead: n.maxRead,
      maxReadahead: readahead ?? n.maxReadahead, zeroMessageOpen: n.zeroMessageOpen,
    });
  };
  const handle = new FuseMount(session, ops);
  const emit = (event: FuseEvent): void => {
    onEvent(event);
    handle.emit('event', event);
  };
  session.start((req) => {
    const header = readInHeader(req);
    const body = req.subarray(Size.IN_HEADER, header.len);
    void ops.handle(header, body).then(async (reply) => {
      if (reply === null || NO_REPLY_OPS.has(header.opcode)) return;
      if ('errno' in reply) session.reply(header.unique, reply.errno);
      else session.reply(header.unique, 0, reply.body);
      if (init !== undefined && header.opcode === Op.INIT) {
        const n = init;
        init = undefined;
        await afterInit(n);
      }
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
