/**
 * One FUSE connection: the open /dev/fuse descriptor, the mount(2) that ties it to a mountpoint,
 * the reader thread, and the replies. It knows bytes and request ids, not files: the
 * operations (operations.ts) turn requests into replies.
 */
import { closeSync, openSync, writeSync, constants as fsConstants } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { writeOutHeader } from './codec.js';
import { mountAt, runProgram } from './mount-table.js';
import { READ_BUFFER_SIZE, Size } from './protocol.js';
import { ReaderThread } from './reader-thread.js';

/** How to mount: what `mount -o` receives besides the descriptor. */
export interface SessionMountOptions {
  /** The source shown in the mount table. Default `imagefs`. */
  name?: string;
  /** The subtype: the mount shows as `fuse.SUBTYPE`. Default `imagefs`. */
  subtype?: string;
  /** Mount read-only (`ro`). Default true. */
  readOnly?: boolean;
  /** Let every user, not only root, use the mount (`allow_other`). Default true. */
  allowOther?: boolean;
  /** A reader thread created earlier (so that its boot overlapped other work); default a new one. */
  reader?: ReaderThread;
}

/**
 * A mounted /dev/fuse connection. Requests arrive through `onRequest`; replies go out with
 * {@link FuseSession.reply}. `closed` settles once the kernel has ended the connection.
 */
export class FuseSession {
  /** The absolute mountpoint. */
  readonly mountpoint: string;
  /** Resolves when the connection has ended (unmounted or aborted); never rejects. */
  readonly closed: Promise<{ error: string | null }>;
  private fd: number;
  private readonly reader: ReaderThread;
  private resolveClosed!: (value: { error: string | null }) => void;

  private constructor(fd: number, mountpoint: string, reader: ReaderThread) {
    this.fd = fd;
    this.mountpoint = mountpoint;
    this.reader = reader;
    this.closed = new Promise((done) => { this.resolveClosed = done; });
  }

  /**
   * Opens /dev/fuse and mounts it at `mountpoint` with `mount -i -t fuse.SUBTYPE -o fd=3,...`
   * (`-i`: no mount helper; the descriptor is the child's fd 3). Nothing is read yet: call
   * {@link FuseSession.start}; the kernel holds every access to the mountpoint until INIT is
   * answered.
   */
  static async mount(mountpoint: string, options: SessionMountOptions = {}): Promise<FuseSession> {
    const abs = resolve(mountpoint);
    const reader = options.reader ?? new ReaderThread();
    let fd: number;
    try {
      fd = openSync('/dev/fuse', fsConstants.O_RDWR);
    } catch (error) {
      reader.cancel();
      throw error;
    }
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    const opts = [
      'fd=3', 'rootmode=40000', `user_id=${uid}`, `group_id=${gid}`, 'default_permissions',
      ...(options.allowOther ?? true ? ['allow_other'] : []),
      ...(options.readOnly ?? true ? ['ro'] : []),
    ];
    const type = `fuse.${options.subtype ?? 'imagefs'}`;
    const result = await runProgram('mount', ['-i', '-t', type, '-o', opts.join(','), options.name ?? 'imagefs', abs], [fd]);
    if (result.code !== 0) {
      closeSync(fd);
      reader.cancel();
      throw new Error(`mount at ${abs} failed: ${result.stderr || `mount exited ${result.code}`}`);
    }
    return new FuseSession(fd, abs, reader);
  }

  /** Starts reading requests; `onRequest` gets each one (the header included). */
  start(onRequest: (req: Buffer) => void): void {
    this.reader.start(this.fd, READ_BUFFER_SIZE, onRequest, (error) => {
      this.closeFd();
      this.resolveClosed({ error });
    });
  }

  /**
   * Sends a reply: `buf` holds {@link Size.OUT_HEADER} bytes of room, then the body; the header
   * is written here. `error` is a positive errno (0 = success; then the body is sent). A reply the
   * kernel no longer wants (`ENOENT`: the request was interrupted) or cannot take (`ENODEV`:
   * unmounted) is dropped.
   */
  reply(unique: bigint, error: number, buf?: Buffer): void {
    if (this.fd < 0) return;
    const out = error === 0 && buf !== undefined ? buf : Buffer.allocUnsafe(Size.OUT_HEADER);
    writeOutHeader(out, out.length, -error, unique);
    try {
      writeSync(this.fd, out, 0, out.length);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENODEV' && code !== 'EBADF') throw e;
    }
  }

  /**
   * Sets the kernel's readahead for this mount (`/sys/class/bdi/0:N/read_ahead_kb`) and resolves
   * to it in bytes, or to undefined when it cannot (no sysfs, not root). Call it after INIT has
   * been answered: the INIT reply lowers it to its own `max_readahead`.
   */
  async setReadahead(kib: number): Promise<number | undefined> {
    try {
      const info = await mountAt(this.mountpoint);
      if (info === undefined || !info.fstype.startsWith('fuse') || !/^\d+:\d+$/.test(info.device)) return undefined;
      await writeFile(`/sys/class/bdi/${info.device}/read_ahead_kb`, `${kib}\n`);
      return kib * 1024;
    } catch {
      return undefined;
    }
  }

  /**
   * Unmounts (`umount`, or `umount -l` with `lazy`: detach now, finish when the last open file
   * is closed) and resolves when the connection has ended.
   *
   * @throws Error with umount's message (for instance "target is busy") when it refuses.
   */
  async unmount(lazy = false): Promise<void> {
    if (this.fd >= 0) {
      const result = await runProgram('umount', lazy ? ['-l', this.mountpoint] : [this.mountpoint]);
      if (result.code !== 0 && this.fd >= 0) throw new Error(`umount ${this.mountpoint} failed: ${result.stderr || `umount exited ${result.code}`}`);
    }
    await this.closed;
  }

  private closeFd(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      closeSync(fd);
    } catch {
      // already gone
    }
  }
}
