/**
 * The thread that reads requests from /dev/fuse.
 *
 * A read of /dev/fuse blocks until the kernel has a request. Node has no way to wait for an
 * arbitrary character device without blocking a thread (no `uv_poll` in the public API, and
 * `net.Socket` refuses a character device), so the read has to block *somewhere*. Blocking on
 * libuv's threadpool would take one of its 4 threads per pending read for the whole life of the
 * mount, and the same pool serves the file reads, zlib and crypto the lazy layers need: a slow
 * fetch could then starve the reads that would answer it. So the blocking read runs on a worker
 * thread of its own, in a plain loop: each `read` returns exactly one request, which is copied to
 * a right-sized buffer and transferred (not cloned) to the main thread. The main thread never
 * blocks; it answers with `writeSync` (writing a reply to /dev/fuse never waits).
 *
 * Booting a worker takes tens of milliseconds (a new V8 isolate and Node environment), so a
 * {@link ReaderThread} is created first and told the descriptor later: the boot overlaps with
 * whatever comes before the mount (opening the image, `mount(8)`).
 *
 * The loop ends when the kernel ends the connection (`ENODEV` after unmount or abort), so the
 * thread, and with it the process, does not outlive the mount. `ENOENT` (a request interrupted
 * while being read), `EINTR` and `EAGAIN` are retried, as libfuse does.
 */
import { Worker } from 'node:worker_threads';

/** What the reader thread posts: one request's bytes, or the end of the connection. */
export type ReaderMessage = Uint8Array | { end: string | null };

// Kept as source text (eval: true) so the bundled package needs no separate worker file. The
// thread waits for `{ fd, size }` (or `null`: stop without reading), then reads until the end.
const SOURCE = `
const { parentPort } = require('node:worker_threads');
const { readSync } = require('node:fs');
parentPort.once('message', (start) => {
  if (start === null) { parentPort.close(); return; }
  const { fd, size } = start;
  const buf = Buffer.allocUnsafe(size);
  for (;;) {
    let n;
    try {
      n = readSync(fd, buf, 0, size, null);
    } catch (e) {
      if (e.code === 'ENOENT' || e.code === 'EINTR' || e.code === 'EAGAIN') continue;
      parentPort.postMessage({ end: e.code === 'ENODEV' ? null : String(e.code || e) });
      break;
    }
    if (n === 0) { parentPort.postMessage({ end: null }); break; }
    const req = new Uint8Array(n);
    req.set(buf.subarray(0, n));
    parentPort.postMessage(req, [req.buffer]);
  }
  parentPort.close();
});
`;

/**
 * A reader thread, booting from construction on; {@link ReaderThread.start} hands it a mounted
 * /dev/fuse descriptor, {@link ReaderThread.cancel} ends it unused.
 */
export class ReaderThread {
  private readonly worker = new Worker(SOURCE, { eval: true });
  private state: 'idle' | 'reading' | 'done' = 'idle';

  constructor() {
    // Until started, the thread must not keep the process alive (a mount that fails before
    // reading leaves nothing behind).
    this.worker.unref();
  }

  /**
   * Starts reading requests from `fd`. `onRequest` receives each request; `onEnd` once, with
   * `null` for a normal end (unmounted) or the error code that stopped reading.
   */
  start(fd: number, bufferSize: number, onRequest: (req: Buffer) => void, onEnd: (error: string | null) => void): void {
    if (this.state !== 'idle') throw new Error('the reader thread was already started or cancelled');
    this.state = 'reading';
    let ended = false;
    const end = (error: string | null): void => {
      if (ended) return;
      ended = true;
      this.state = 'done';
      onEnd(error);
    };
    this.worker.on('message', (message: ReaderMessage) => {
      if (message instanceof Uint8Array) onRequest(Buffer.from(message.buffer, message.byteOffset, message.byteLength));
      else end(message.end);
    });
    this.worker.on('error', (error) => end(String(error)));
    this.worker.on('exit', () => end(null));
    this.worker.ref(); // while mounted, the thread keeps the process alive, as a listening server does
    this.worker.postMessage({ fd, size: bufferSize });
  }

  /** Ends a thread that was never started. */
  cancel(): void {
    if (this.state !== 'idle') return;
    this.state = 'done';
    this.worker.postMessage(null);
  }
}
