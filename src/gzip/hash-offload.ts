/**
 * The sha256 work of an index build (blob digest, span digests, diff_id) on a worker thread, so
 * that the inflating thread only inflates. See docs/inflater.md ("Hashing off the inflate thread").
 * @module
 */
import { Worker } from 'node:worker_threads';

/**
 * Where a {@link GzipIndexBuilder} sends the hashing of the compressed bytes when it does not
 * hash them itself. @internal
 */
export interface CompressedHashSink {
  /** The next compressed bytes, in order. The sink copies them if it needs them later. */
  update(chunk: Uint8Array): void;
  /** The span `[start, end)` (absolute compressed offsets, already given to `update`) needs a digest. */
  span(start: number, end: number): void;
}

/** What {@link HashOffload.finish} resolves to. @internal */
export interface OffloadedDigests {
  /** `sha256:<hex>` of every compressed byte. */
  digest: string;
  /** sha256 of each span, in the order the spans were given. */
  spanDigests: Uint8Array[];
  /** `sha256:<hex>` of the uncompressed bytes, when the offload was made with `diffId: true`. */
  diffId?: string;
}

/** The worker: plain CommonJS using only node built-ins, so it runs the same from src/ and dist/. */
const WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const blob = createHash('sha256');
const diff = workerData.diffId ? createHash('sha256') : undefined;
let held = [];
let heldEnd = 0;
const spans = [];
function span(start, end) {
  const first = held.length === 0 ? heldEnd : held[0].at;
  if (start < first || end > heldEnd || start > end) throw new Error('span ' + start + '-' + end + ' is not held (' + first + '-' + heldEnd + ')');
  const h = createHash('sha256');
  for (const { at, bytes } of held) {
    const a = Math.max(start - at, 0);
    const b = Math.min(end - at, bytes.length);
    if (a < b) h.update(bytes.subarray(a, b));
  }
  spans.push(h.digest());
  const keep = Math.max(end - 1, start);
  const back = [];
  held = held.filter((c) => {
    if (c.at + c.bytes.length > keep) return true;
    back.push(c.bytes.buffer);
    return false;
  });
  if (back.length > 0) parentPort.postMessage({ back }, back);
}
parentPort.on('message', (m) => {
  try {
    if (m.t === 'in') {
      const bytes = new Uint8Array(m.buf, 0, m.n);
      blob.update(bytes);
      held.push({ at: heldEnd, bytes });
      heldEnd += bytes.length;
      parentPort.postMessage({ ack: m.n });
    } else if (m.t === 'out') {
      diff.update(new Uint8Array(m.buf, 0, m.n));
      parentPort.postMessage({ ack: m.n, back: [m.buf] }, [m.buf]);
    } else if (m.t === 'span') {
      span(m.s, m.e);
    } else if (m.t === 'end') {
      parentPort.postMessage({ digest: 'sha256:' + blob.digest('hex'), spans: spans.map((d) => new Uint8Array(d)), diffId: diff === undefined ? undefined : 'sha256:' + diff.digest('hex') });
    }
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message || error) });
  }
});
`;

/** Uncompressed bytes gathered before one message to the worker. */
const OUT_BATCH = 1024 * 1024;
/** Buffers kept for reuse once the worker gives them back. */
const MAX_POOLED = 16;
/** Bytes sent but not yet hashed above which {@link HashOffload.drain} waits. */
const MAX_IN_FLIGHT = 64 * 1024 * 1024;

/**
 * A worker thread computing the blob sha256, the span digests and (optionally) the diff_id of an
 * index build. Bytes are copied into fresh buffers that are transferred, so the caller may reuse
 * its own. Always {@link HashOffload.close} it (idempotent) — on success and on failure.
 * @internal
 */
export class HashOffload implements CompressedHashSink {
  private readonly worker: Worker;
  private readonly result: Promise<OffloadedDigests>;
  private failed: Error | undefined;
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  private batch: Uint8Array<ArrayBuffer> | undefined;
  private batchFill = 0;
  private readonly pool: ArrayBuffer[] = [];
  private ended = false;

  /** @param options - `diffId: true` to also hash the uncompressed bytes given to {@link HashOffload.output}. */
  constructor(options: { diffId: boolean }) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { diffId: options.diffId } });
    // Not unref()'d: awaiting finish() may be the only thing keeping the event loop alive.
    this.result = new Promise<OffloadedDigests>((resolve, reject) => {
      const fail = (error: Error): void => {
        this.failed ??= error;
        this.release();
        reject(this.failed);
      };
      this.worker.on('message', (m: { ack?: number; back?: ArrayBuffer[]; error?: string } & Partial<OffloadedDigests> & { spans?: Uint8Array[] }) => {
        if (m.back !== undefined) for (const buf of m.back) this.recycle(buf);
        if (m.ack !== undefined) {
          this.inFlight -= m.ack;
          if (this.inFlight <= MAX_IN_FLIGHT / 2) this.release();
        } else if (m.back !== undefined) {
          // buffers only
        } else if (m.error !== undefined) {
          fail(new Error(`hash worker: ${m.error}`));
        } else {
          resolve({ digest: m.digest as string, spanDigests: m.spans ?? [], ...(m.diffId === undefined ? {} : { diffId: m.diffId }) });
        }
      });
      this.worker.on('error', fail);
      this.worker.on('exit', (code) => fail(new Error(`hash worker exited (code ${code}) before it was done`)));
    });
    this.result.catch(() => {}); // observed by finish(); avoid an unhandled rejection when the build fails first
  }

  /** Hashes the next compressed bytes (copied). */
  update(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const buf = this.take(chunk.length);
    new Uint8Array(buf).set(chunk); // a memcpy (new Uint8Array(typedArray) copies element by element)
    this.send({ t: 'in', buf, n: chunk.length }, buf);
  }

  /** Asks for the digest of compressed span `[start, end)`. */
  span(start: number, end: number): void {
    this.worker.postMessage({ t: 'span', s: start, e: end });
  }

  /** Hashes the next uncompressed bytes (copied) for the diff_id. */
  output(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      this.batch ??= new Uint8Array(this.take(OUT_BATCH), 0, OUT_BATCH);
      const n = Math.min(chunk.length - at, OUT_BATCH - this.batchFill);
      this.batch.set(chunk.subarray(at, at + n), this.batchFill);
      this.batchFill += n;
      at += n;
      if (this.batchFill === OUT_BATCH) this.flushOutput();
    }
  }

  /** Resolves once the worker has caught up enough (bounded memory); rejects if it failed. */
  async drain(): Promise<void> {
    if (this.failed !== undefined) throw this.failed;
    if (this.inFlight <= MAX_IN_FLIGHT) return;
    await new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.failed !== undefined) throw this.failed;
  }

  /** Ends the input and waits for the digests. */
  async finish(): Promise<OffloadedDigests> {
    if (this.ended) throw new Error('HashOffload.finish() called twice');
    this.ended = true;
    this.flushOutput();
    this.worker.postMessage({ t: 'end' });
    return this.result;
  }

  /** Stops the worker. Idempotent; safe while it works. */
  close(): void {
    this.failed ??= new Error('hash worker closed');
    this.release();
    void this.worker.terminate();
  }

  private flushOutput(): void {
    if (this.batch === undefined || this.batchFill === 0) return;
    const buf = this.batch.buffer;
    this.send({ t: 'out', buf, n: this.batchFill }, buf);
    this.batch = undefined;
    this.batchFill = 0;
  }

  private send(message: { t: string; buf: ArrayBuffer; n: number }, transfer: ArrayBuffer): void {
    this.inFlight += message.n;
    this.worker.postMessage(message, [transfer]);
  }

  /** A buffer of at least `size` bytes: one the worker gave back (warm memory), or a new one. */
  private take(size: number): ArrayBuffer {
    for (let i = this.pool.length - 1; i >= 0; i--) {
      const buf = this.pool[i] as ArrayBuffer;
      if (buf.byteLength >= size) {
        this.pool.splice(i, 1);
        return buf;
      }
    }
    return new ArrayBuffer(Math.max(size, OUT_BATCH));
  }

  private recycle(buf: ArrayBuffer): void {
    if (this.pool.length < MAX_POOLED) this.pool.push(buf);
  }

  private release(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
