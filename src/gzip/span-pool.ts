/**
 * Lazy reads off the main thread: a pool of worker threads that check fetched spans against their
 * sha256 and inflate them, so that a FUSE server or an application sharing the main thread keeps
 * answering while spans are decoded. See docs/inflater.md ("Off the main thread").
 * @module
 */
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { primeInput } from './bit-prefix.js';
import { inflateEngine, type InflateEngine } from './inflater.js';

/** One decode: verify the spans of `compressed`, then inflate `length` bytes `skip` bytes after the checkpoint. */
export interface SpanJob {
  /** The compressed bytes from the checkpoint's `compressedOffset` on (copied; the caller keeps them). */
  compressed: Uint8Array;
  /** Each span to check: `[start, end)` relative to `compressed`, and its sha256 (32 bytes). */
  spans: { start: number; end: number; digest: Uint8Array }[];
  /** Where to start: a gzip member header (`memberStart`), or bit `bitOffset` of `compressed[0]` with `window` as history. */
  checkpoint: { bitOffset: number; memberStart?: boolean; window?: Uint8Array };
  /** Uncompressed bytes to decode and drop first. */
  skip: number;
  /** Uncompressed bytes to return. */
  length: number;
}

/** What went wrong with a {@link SpanJob}: a span failed its digest, or the data would not inflate. */
export type SpanJobFailure = { kind: 'digest'; span: number } | { kind: 'inflate'; message: string };

/** A {@link SpanPool.decode} result. */
export type SpanJobResult = { ok: true; bytes: Uint8Array } | ({ ok: false } & SpanJobFailure);

/** The worker: plain CommonJS with node built-ins (and pako, by absolute path, for the JS engine). */
const WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const zlib = require('node:zlib');
const pako = workerData.engine === 'js' ? require(workerData.pakoPath) : undefined;
function inBounds(input, inOff, inLen, out, outOff, outLen) {
  if (!(inOff >= 0 && inLen >= 0 && inOff + inLen <= input.length && outOff >= 0 && outLen >= 0 && outOff + outLen <= out.length)) throw new Error('inflate bounds out of range');
}
function nativeInflater(dict) {
  const s = dict !== undefined && dict.length > 0 ? zlib.createInflateRaw({ dictionary: dict }) : zlib.createInflateRaw();
  const h = s._handle;
  const st = s._writeState;
  let err;
  h.onerror = (message) => { err = message; };
  return {
    write(input, inOff, inLen, out, outOff, outLen) {
      inBounds(input, inOff, inLen, out, outOff, outLen);
      h.writeSync(0, input, inOff, inLen, out, outOff, outLen);
      if (err !== undefined) throw new Error(err);
      return [inLen - st[1], outLen - st[0], st[1], st[0]];
    },
    close() { s.destroy(); },
  };
}
function jsInflater(dict) {
  const strm = new pako.ZStream();
  pako.zlibInflateInit2(strm, -15);
  if (dict !== undefined && dict.length > 0) pako.zlibInflateSetDictionary(strm, dict);
  return {
    write(input, inOff, inLen, out, outOff, outLen) {
      inBounds(input, inOff, inLen, out, outOff, outLen);
      strm.input = input; strm.next_in = inOff; strm.avail_in = inLen;
      strm.output = out; strm.next_out = outOff; strm.avail_out = outLen;
      const ret = pako.zlibInflate(strm, 0);
      if (ret !== 0 && ret !== 1 && ret !== -5) throw new Error(strm.msg || ('inflate error ' + ret));
      return [inLen - strm.avail_in, outLen - strm.avail_out, strm.avail_in, strm.avail_out];
    },
    close() {},
  };
}
const make = pako === undefined ? nativeInflater : jsInflater;
function headerLength(b, p) {
  if (b.length - p < 10) throw new Error('a gzip member header is cut short');
  if (b[p] !== 0x1f || b[p + 1] !== 0x8b || b[p + 2] !== 8) throw new Error('not a gzip member (bad magic) at ' + p);
  const flags = b[p + 3];
  let q = p + 10;
  if (flags & 4) q += 2 + (b[q] | (b[q + 1] << 8));
  if (flags & 8) { while (q < b.length && b[q] !== 0) q++; q++; }
  if (flags & 16) { while (q < b.length && b[q] !== 0) q++; q++; }
  if (flags & 2) q += 2;
  if (q > b.length) throw new Error('a gzip member header is cut short');
  return q - p;
}
function inflate(compressed, job) {
  const { skip, length, bitOffset, memberStart, window, primer } = job;
  const result = new Uint8Array(length);
  const scratch = skip > 0 ? new Uint8Array(Math.min(65536, skip)) : result;
  let skipped = 0, filled = 0, pos = 0, inf;
  const write = (input, off, len) => {
    const r = skipped < skip
      ? inf.write(input, off, len, scratch, 0, Math.min(scratch.length, skip - skipped))
      : inf.write(input, off, len, result, filled, length - filled);
    if (skipped < skip) skipped += r[1]; else filled += r[1];
    return r;
  };
  const startMember = () => { pos += headerLength(compressed, pos); inf = make(); };
  if (memberStart) startMember();
  else {
    inf = make(window);
    if (primer.length > 0) write(primer, 0, primer.length);
    pos = bitOffset === 0 ? 0 : 1;
  }
  try {
    while (filled < length) {
      if (pos >= compressed.length) throw new Error('the compressed bytes end after ' + (skipped + filled) + ' of ' + (skip + length) + ' bytes');
      const r = write(compressed, pos, compressed.length - pos);
      pos += r[0];
      if (r[2] > 0 && r[3] > 0) { inf.close(); pos += 8; startMember(); }
    }
  } finally {
    inf.close();
  }
  return result;
}
parentPort.on('message', (job) => {
  const compressed = new Uint8Array(job.buf, 0, job.n);
  const reply = { id: job.id, buf: job.buf };
  try {
    for (let i = 0; i < job.spans.length; i += 2) {
      const digest = createHash('sha256').update(compressed.subarray(job.spans[i], job.spans[i + 1])).digest();
      if (!digest.equals(job.digests.subarray(i * 16, i * 16 + 32))) { reply.bad = i / 2; break; }
    }
    if (reply.bad === undefined) reply.result = inflate(compressed, job);
  } catch (error) {
    reply.error = String((error && error.message) || error);
  }
  const transfer = [job.buf];
  if (reply.result !== undefined) transfer.push(reply.result.buffer);
  parentPort.postMessage(reply, transfer);
});
`;

interface Reply {
  id: number;
  buf: ArrayBuffer;
  result?: Uint8Array;
  bad?: number;
  error?: string;
}

/** Jobs a worker holds at once; the rest wait in the pool's queue, uncopied. */
const MAX_IN_FLIGHT = 2;
/** Workers that may die in a row before the pool stops starting new ones. */
const MAX_FAILURES = 3;
/** Input buffers kept per worker for reuse, and the largest kept (a whole-file read may be far larger). */
const MAX_SPARE = 4;
const MAX_SPARE_BYTES = 8 * 1024 * 1024;

interface Queued {
  job: SpanJob;
  resolve: (r: SpanJobResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  engine: InflateEngine;
  pending: Map<number, { resolve: (r: SpanJobResult) => void; reject: (e: Error) => void }>;
  /** Input buffers the worker handed back, reused for the next jobs (warm memory). */
  spare: ArrayBuffer[];
  /** Removed from the pool (stopped on purpose, or lost): its exit is not a failure. */
  dropped: boolean;
}

/** Options of {@link SpanPool}. */
export interface SpanPoolOptions {
  /** Worker threads at most. Default: `os.availableParallelism()`. */
  size?: number;
}

/**
 * A pool of worker threads that verify and inflate lazily read spans. Workers start on demand (up
 * to `size`), run on the inflate engine in use ({@link inflateEngine}) and do not keep the process
 * alive while idle. {@link SpanPool.decode} rejects only when a worker cannot run (the caller
 * then decodes inline); bad data is a resolved failure, never bytes.
 *
 * @example
 * ```ts
 * const r = await defaultSpanPool().decode({ compressed, spans, checkpoint, skip, length });
 * if (r.ok) use(r.bytes); else if (r.kind === 'digest') throw dataLoss(`span ${r.span} is corrupt`);
 * ```
 */
export class SpanPool {
  /** Worker threads at most. */
  readonly size: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Queued[] = [];
  private nextId = 0;
  private closed = false;
  /** Workers lost in a row without a reply in between; at {@link MAX_FAILURES} the pool gives up. */
  private failures = 0;

  /** @param options - see {@link SpanPoolOptions}. */
  constructor(options: SpanPoolOptions = {}) {
    const size = options.size ?? availableParallelism();
    if (!Number.isSafeInteger(size) || size < 1) throw new TypeError(`options.size must be a positive integer, got ${size}`);
    this.size = size;
  }

  /** Workers started so far (for diagnostics). */
  get workers(): number {
    return this.slots.length;
  }

  /** Verifies and inflates one job on a worker. */
  decode(job: SpanJob): Promise<SpanJobResult> {
    if (this.closed) return Promise.reject(new Error('SpanPool is closed'));
    return new Promise<SpanJobResult>((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.dispatch();
    });
  }

  /**
   * Hands queued jobs to workers with room (at most {@link MAX_IN_FLIGHT} each). Queued jobs hold
   * the caller's bytes; only dispatched ones are copied, into buffers the workers hand back, so the
   * copies land in warm memory and their number stays bounded.
   */
  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot: Slot | undefined;
      try {
        slot = this.pick();
      } catch (error) {
        for (const q of this.queue.splice(0)) q.reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      if (slot === undefined) return;
      this.send(slot, this.queue.shift() as Queued);
    }
  }

  private send(slot: Slot, { job, resolve, reject }: Queued): void {
    const n = job.compressed.length;
    let buf = slot.spare.pop();
    if (buf === undefined || buf.byteLength < n) buf = new ArrayBuffer(Math.max(n, 64 * 1024));
    new Uint8Array(buf, 0, n).set(job.compressed);
    const spans: number[] = [];
    const digests = new Uint8Array(32 * job.spans.length);
    job.spans.forEach((s, i) => {
      spans.push(s.start, s.end);
      digests.set(s.digest.subarray(0, 32), 32 * i);
    });
    const { bitOffset, memberStart, window } = job.checkpoint;
    const id = this.nextId++;
    const message = {
      id, buf, n, spans, digests, skip: job.skip, length: job.length, bitOffset, memberStart: memberStart === true,
      // A copy: a view's whole underlying buffer (say, the index) would otherwise be cloned.
      window: window === undefined ? undefined : window.slice(),
      primer: memberStart === true ? new Uint8Array(0) : primeInput(job.compressed, 0, bitOffset),
    };
    slot.pending.set(id, { resolve, reject });
    if (slot.pending.size === 1) slot.worker.ref();
    slot.worker.postMessage(message, [buf]);
  }

  /** Stops every worker; pending decodes reject. */
  async close(): Promise<void> {
    this.closed = true;
    for (const q of this.queue.splice(0)) q.reject(new Error('SpanPool is closed'));
    const slots = this.slots.splice(0);
    for (const slot of slots) {
      slot.dropped = true;
      for (const p of slot.pending.values()) p.reject(new Error('SpanPool is closed'));
      slot.pending.clear();
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  /**
   * The least busy worker on the current engine with room for a job, starting one when all are
   * busy and the pool has room; `undefined` when every worker is full.
   */
  private pick(): Slot | undefined {
    const engine = inflateEngine().engine;
    for (const stale of this.slots.filter((s) => s.engine !== engine && s.pending.size === 0)) this.drop(stale, undefined);
    let best: Slot | undefined;
    for (const s of this.slots) if (s.engine === engine && (best === undefined || s.pending.size < best.pending.size)) best = s;
    if (best !== undefined && (best.pending.size === 0 || this.slots.length >= this.size)) return best.pending.size < MAX_IN_FLIGHT ? best : undefined;
    return this.start(engine);
  }

  private start(engine: InflateEngine): Slot {
    const workerData = engine === 'js' ? { engine, pakoPath: pakoPath() } : { engine };
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData });
    worker.unref();
    const slot: Slot = { worker, engine, pending: new Map(), spare: [], dropped: false };
    worker.on('message', (reply: Reply) => {
      this.failures = 0;
      const p = slot.pending.get(reply.id);
      slot.pending.delete(reply.id);
      if (slot.pending.size === 0) worker.unref();
      if (slot.spare.length < MAX_SPARE && reply.buf.byteLength <= MAX_SPARE_BYTES) slot.spare.push(reply.buf);
      this.dispatch();
      if (p === undefined) return;
      if (reply.result !== undefined) p.resolve({ ok: true, bytes: reply.result });
      else if (reply.bad !== undefined) p.resolve({ ok: false, kind: 'digest', span: reply.bad });
      else p.resolve({ ok: false, kind: 'inflate', message: reply.error ?? 'unknown worker failure' });
    });
    const fail = (error: Error): void => this.drop(slot, error);
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`span worker exited (code ${code})`)));
    this.slots.push(slot);
    return slot;
  }

  private drop(slot: Slot, error: Error | undefined): void {
    if (slot.dropped) return;
    slot.dropped = true;
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    for (const p of slot.pending.values()) p.reject(error ?? new Error('span worker stopped'));
    slot.pending.clear();
    if (error === undefined) void slot.worker.terminate();
    else if (++this.failures >= MAX_FAILURES) {
      this.closed = true; // workers cannot run here: every decode now rejects, and callers decode inline
      for (const q of this.queue.splice(0)) q.reject(error);
    } else if (!this.closed) {
      this.dispatch();
    }
  }
}

let pako: string | undefined;

/** The absolute path of pako's CommonJS build, for workers on the JS engine. */
function pakoPath(): string {
  if (pako === undefined) {
    const base = typeof __filename === 'string' ? __filename : import.meta.url;
    pako = createRequire(base).resolve('pako');
  }
  return pako;
}

let shared: SpanPool | undefined;

/**
 * The process-wide pool lazy reads use by default (sized to the machine).
 *
 * @example
 * ```ts
 * const reader = new GzipSpanReader(index, blob, { pool: defaultSpanPool() });
 * ```
 */
export function defaultSpanPool(): SpanPool {
  shared ??= new SpanPool();
  return shared;
}
