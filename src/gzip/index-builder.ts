/**
 * Building a seekable gzip index in one streaming pass: the heart of lazy layer reading.
 * @module
 */
import { createHash, type Hash } from 'node:crypto';
import zlib from 'node:zlib';
import { dataLoss, ImageFsError, throwIfAborted } from '../errors/image-fs-error.js';
import { MAX_WINDOW_SIZE } from '../layer-index/checkpoint.js';
import { decodesTo, findBitOffset } from './bit-offset-trial.js';
import type { Checkpoint, GzipIndex } from './checkpoint.js';
import { crc32 } from './crc32.js';
import { GZIP_TRAILER_SIZE, parseGzipHeader, readGzipTrailer } from './gzip-member.js';
import type { CompressedHashSink } from './hash-offload.js';
import { createInflater, type Inflater } from './inflater.js';
import { InflateDataError } from './native-inflate.js';
import { SegmentList } from './segment-list.js';

/**
 * Default uncompressed distance between checkpoints: 1 MiB. Chosen by bench/startup.ts (docs/fuse.md):
 * on a Debian + python3 image, `python3 -c 'print(1)'` from a mount fetched the fewest bytes and ran
 * soonest at 1 MiB (against 256 KiB, whose index is 3x larger, and 4 MiB, as SOCI, which fetches
 * up to 4 MiB of data per small file touched).
 */
export const DEFAULT_SPAN = 1024 * 1024;
const WINDOW_SIZE = MAX_WINDOW_SIZE;
const TRUTH_SIZE = 1024;
const MIN_TRUTH = 64;
const TRIAL_INPUT_MAX = 64 * 1024;
/** Window lengths tried, shortest first, when trimming a checkpoint's window (see trimWindow). */
const TRIMMED_WINDOWS = [0, 1024, 4096, 8192, 16384, 24576];
const OUT_BUFFER_SIZE = 1024 * 1024;
/** With `reuseOutput`, at most this many filled output buffers wait to be reused. */
const MAX_SPARE_OUT = 8;
/**
 * Smaller pushes are gathered up to this size before inflating: a block boundary that falls
 * exactly at the end of the input zlib was given looks like "input exhausted" and cannot be used,
 * so tiny chunks (say 1 byte) would hide every boundary.
 */
const MIN_FEED = 16 * 1024;

/** Options of {@link GzipIndexBuilder}. */
export interface GzipIndexBuilderOptions {
  /** Target uncompressed bytes between checkpoints (a checkpoint goes at the first block boundary past it). Default 4 MiB. */
  span?: number;
  /**
   * Receives the uncompressed stream, in order. Chunks are fresh memory, never reused, so they may
   * be kept — unless `reuseOutput` is set.
   */
  onOutput?: (chunk: Uint8Array) => void;
  /**
   * Let the builder recycle its output buffers: a chunk given to `onOutput` is valid only during
   * that call (copy what you keep). Saves allocating (and collecting) one buffer per MiB of
   * output. Default false.
   */
  reuseOutput?: boolean;
  /** Put a checkpoint at every gzip member start, not only when a span is due (eStargz-like blobs). Default false. */
  checkpointEveryMember?: boolean;
  /** `sha256:<hex>` the whole blob must have (the layer digest); `finish()` throws `DataLoss` otherwise. */
  expectedDigest?: string;
  /** Names the blob in error messages (e.g. the layer digest). */
  subject?: string;
  /**
   * Hash the compressed bytes elsewhere (buildIndex's worker): the builder then computes neither
   * the blob digest nor span digests (`finish()` returns `digest: ''` and no span digests) and
   * `expectedDigest` must be absent; the caller verifies. @internal
   */
  hashSink?: CompressedHashSink;
}

/** Counters of a build, for diagnostics and benchmarks. */
export interface GzipIndexBuilderStats {
  /** Block boundaries inspected as checkpoint candidates. */
  candidates: number;
  /** Candidates dropped because no bit offset matched (a later boundary is used). */
  skipped: number;
}

const enum State { Header, Deflate, Trailer, Between, Padding }

/**
 * A block boundary waiting to become a checkpoint. It is resolved once the block after it is
 * known to be non-final (a block boundary was seen after it and inflate went on) and enough
 * output (the truth) has followed; a boundary before a member's final block is never used,
 * because a stored final block cannot be told from a stored non-final one by its output.
 */
interface Pending {
  consumed: number;
  uncompressedOffset: number;
  window: Uint8Array;
  /** A block boundary was seen after this one. */
  blockEnded: boolean;
  /** The block after this boundary is known not to be the member's last. */
  nonFinal: boolean;
}

/**
 * Streams a gzip blob through native zlib, hands the uncompressed bytes to `onOutput`, and
 * records a {@link Checkpoint} about every `span` uncompressed bytes, span digests, the blob's
 * sha256, and verifies every member's CRC32 and ISIZE. Multi-member blobs and zero padding after
 * the last member are accepted; anything else is `DataLoss`.
 *
 * `push` keeps references to the chunks it is given until their span is hashed: do not modify a
 * chunk after pushing it (stream chunks are fresh buffers, so piping a stream is fine).
 *
 * @example
 * ```ts
 * const builder = new GzipIndexBuilder({ onOutput: (c) => tar.write(c) });
 * for await (const chunk of blobStream) builder.push(chunk);
 * const index = builder.finish(); // { checkpoints, spanDigests, digest, ... }
 * ```
 */
export class GzipIndexBuilder {
  private readonly span: number;
  private readonly options: GzipIndexBuilderOptions;
  private readonly sha: Hash | undefined;
  private readonly input = new SegmentList(0);
  private readonly output = new SegmentList(0);
  private readonly checkpoints: Checkpoint[] = [];
  private readonly spanDigests: Uint8Array[] = [];
  private state = State.Header;
  private totalIn = 0;
  private processed = 0;
  private totalOut = 0;
  private headerStart = 0;
  private members = 0;
  private inflater: Inflater | undefined;
  private memberCrc = 0;
  private memberOutStart = 0;
  private readonly trailer = new Uint8Array(GZIP_TRAILER_SIZE);
  private trailerFill = 0;
  private pending: Pending | undefined;
  private outBuf: Buffer = Buffer.allocUnsafe(0);
  private outPos = 0;
  /** With `reuseOutput`: filled output buffers and the uncompressed offset just past their data. */
  private spareOut: { buf: Buffer; end: number }[] = [];
  private small: Uint8Array[] = [];
  private smallBytes = 0;
  private failure: unknown;
  private done = false;
  /** The first checkpoint whose window may still be trimmed. */
  private untrimmed = 1;
  /** Build counters. */
  readonly stats: GzipIndexBuilderStats = { candidates: 0, skipped: 0 };

  /** @param options - see {@link GzipIndexBuilderOptions}; throws a TypeError naming a bad field. */
  constructor(options: GzipIndexBuilderOptions = {}) {
    const span = options.span ?? DEFAULT_SPAN;
    if (!Number.isSafeInteger(span) || span < 1) throw new TypeError(`options.span must be a positive integer (bytes), got ${span}`);
    if (options.hashSink !== undefined && options.expectedDigest !== undefined) {
      throw new TypeError('options.expectedDigest cannot be checked when options.hashSink hashes the blob');
    }
    this.span = span;
    this.options = options;
    this.sha = options.hashSink === undefined ? createHash('sha256') : undefined;
  }

  /** Compressed bytes pushed so far. */
  get compressedBytes(): number {
    return this.totalIn + this.smallBytes;
  }

  /** Uncompressed bytes produced so far. */
  get uncompressedBytes(): number {
    return this.totalOut;
  }

  /**
   * Feeds the next compressed bytes (any size; pushes under 16 KiB are gathered first, so their
   * output and errors may come with a later push or with `finish()`). Throws `DataLoss` on corrupt
   * data; the builder is then failed.
   */
  push(chunk: Uint8Array): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.done) throw new Error('GzipIndexBuilder.push() called after finish()');
    if (chunk.length === 0) return;
    if (this.smallBytes === 0 && chunk.length >= MIN_FEED) {
      this.process(chunk);
      return;
    }
    this.small.push(chunk);
    this.smallBytes += chunk.length;
    if (this.smallBytes >= MIN_FEED) this.flushSmall();
  }

  private flushSmall(): void {
    const gathered = Buffer.concat(this.small, this.smallBytes);
    this.small = [];
    this.smallBytes = 0;
    this.process(gathered);
  }

  private process(chunk: Uint8Array): void {
    const chunkStart = this.totalIn;
    if (this.sha === undefined) this.options.hashSink?.update(chunk);
    else this.sha.update(chunk);
    this.input.append(chunk);
    this.totalIn += chunk.length;
    try {
      while (this.processed < this.totalIn) {
        const pos = this.processed - chunkStart;
        switch (this.state) {
          case State.Header: this.readHeader(); break;
          case State.Deflate: this.inflate(chunk, pos); break;
          case State.Trailer: this.readTrailer(chunk, pos); break;
          case State.Between: this.between(chunk[pos] as number); break;
          case State.Padding: this.padding(chunk, pos); break;
        }
      }
    } catch (error) {
      this.inflater?.close();
      this.failure = error instanceof InflateDataError
        ? this.corrupt(`its deflate data is corrupt near compressed offset ${this.processed} (${error.message})`, error)
        : error;
      throw this.failure;
    }
  }

  /** Ends the input and returns the index. Throws `DataLoss` when the blob is truncated or its digest differs. */
  finish(): GzipIndex {
    if (this.failure !== undefined) throw this.failure;
    if (this.done) throw new Error('GzipIndexBuilder.finish() called twice');
    if (this.smallBytes > 0) this.flushSmall();
    this.done = true;
    this.inflater?.close();
    if (this.members === 0 || (this.state !== State.Between && this.state !== State.Padding)) {
      const where = this.members === 0 && this.totalIn === 0 ? 'it is empty' : `it ends inside a gzip member (after ${this.totalIn} bytes)`;
      this.failure = this.corrupt(`the gzip blob is truncated: ${where}`);
      throw this.failure;
    }
    this.closeSpan(this.totalIn);
    const digest = this.sha === undefined ? '' : `sha256:${this.sha.digest('hex')}`;
    if (this.options.expectedDigest !== undefined && this.options.expectedDigest !== digest) {
      this.failure = this.corrupt(`the blob's digest is ${digest}, not ${this.options.expectedDigest}`);
      throw this.failure;
    }
    return {
      checkpoints: this.checkpoints,
      spanDigests: this.spanDigests,
      digest,
      compressedSize: this.totalIn,
      uncompressedSize: this.totalOut,
      members: this.members,
      span: this.span,
    };
  }

  private corrupt(what: string, cause?: unknown): ImageFsError {
    const subject = this.options.subject;
    return dataLoss(`gzip blob${subject === undefined ? '' : ` ${subject}`} is unreadable: ${what}`, {
      cause,
      ...(subject === undefined ? {} : { subject }),
      hint: 'fetch the layer again; if it persists, the blob in the registry is corrupt',
    });
  }

  private readHeader(): void {
    const bytes = this.input.copy(this.headerStart, this.totalIn);
    const header = parseGzipHeader(bytes);
    if (header.status === 'invalid') throw this.corrupt(`${header.reason} at compressed offset ${this.headerStart}`);
    if (header.status === 'incomplete') {
      this.processed = this.totalIn;
      return;
    }
    this.processed = this.headerStart + header.length;
    const last = this.checkpoints[this.checkpoints.length - 1];
    if (last === undefined) {
      this.checkpoints.push({ compressedOffset: this.headerStart, bitOffset: 0, uncompressedOffset: 0, memberStart: true });
    } else if (this.totalOut > last.uncompressedOffset &&
      (this.options.checkpointEveryMember === true || this.totalOut - last.uncompressedOffset >= this.span)) {
      this.addCheckpoint({ compressedOffset: this.headerStart, bitOffset: 0, uncompressedOffset: this.totalOut, memberStart: true });
    }
    this.members++;
    this.inflater?.close();
    this.inflater = createInflater();
    this.memberCrc = 0;
    this.memberOutStart = this.totalOut;
    this.state = State.Deflate;
  }

  private inflate(chunk: Uint8Array, pos: number): void {
    const inflater = this.inflater as Inflater;
    let off = pos;
    let len = chunk.length - pos;
    while (len > 0) {
      if (this.outPos === this.outBuf.length) this.nextOutBuffer();
      const step = inflater.write(zlib.constants.Z_BLOCK, chunk, off, len, this.outBuf, this.outPos, this.outBuf.length - this.outPos);
      off += step.consumed;
      len -= step.consumed;
      this.processed += step.consumed;
      if (step.produced > 0) this.emit(step.produced);
      this.trimWindows();
      if (step.consumed === 0 && step.produced === 0 && step.availOut > 0) {
        this.endMember(); // no progress with input and room: the final block is behind us
        return;
      }
      const pending = this.pending;
      if (pending !== undefined) {
        if (pending.blockEnded) pending.nonFinal = true; // progress after the block's end: it was not the last
        if (pending.nonFinal && this.totalOut - pending.uncompressedOffset >= TRUTH_SIZE) this.resolvePending();
      }
      if (step.availIn > 0 && step.availOut > 0) this.boundary();
    }
    this.dropOutput();
  }

  /** Forgets output no longer needed for windows and truths. */
  private dropOutput(): void {
    const untrimmed = this.checkpoints[this.untrimmed]?.uncompressedOffset ?? Infinity;
    this.output.dropBefore(Math.min(this.totalOut - WINDOW_SIZE, this.pending?.uncompressedOffset ?? Infinity, untrimmed));
  }

  /**
   * Shortens the windows of checkpoints that have 32 KiB of output behind them. Only the first
   * 32 KiB after a checkpoint can refer back into its window, so if those bytes decode exactly from
   * the checkpoint with just the last W bytes of the window as history, W bytes are all a reader
   * needs: the shortest such W is kept. Checkpoints that a member end or the next checkpoint
   * overtakes first keep their whole window (always correct).
   */
  private trimWindows(): void {
    for (let cp = this.checkpoints[this.untrimmed]; cp !== undefined && this.totalOut - cp.uncompressedOffset >= WINDOW_SIZE; cp = this.checkpoints[this.untrimmed]) {
      this.untrimmed++;
      const window = cp.window;
      if (window === undefined || window.length === 0) continue;
      const truth = this.output.copy(cp.uncompressedOffset, cp.uncompressedOffset + WINDOW_SIZE);
      const bytes = this.input.copy(cp.compressedOffset, this.processed);
      const fits = TRIMMED_WINDOWS.find((w) => w < window.length && decodesTo(bytes, 0, cp.bitOffset, window.subarray(window.length - w), truth));
      if (fits !== undefined) cp.window = window.slice(window.length - fits);
    }
  }

  /** Switches to an empty output buffer: a recycled one nothing refers to any more, or a new one. */
  private nextOutBuffer(): void {
    this.outPos = 0;
    if (this.options.reuseOutput !== true) {
      this.outBuf = Buffer.allocUnsafe(OUT_BUFFER_SIZE);
      return;
    }
    if (this.outBuf.length > 0) this.spareOut.push({ buf: this.outBuf, end: this.totalOut });
    this.dropOutput();
    const free = this.spareOut.findIndex((s) => s.end <= this.output.start);
    if (free >= 0) {
      this.outBuf = (this.spareOut.splice(free, 1)[0] as { buf: Buffer }).buf;
    } else {
      this.outBuf = Buffer.allocUnsafe(OUT_BUFFER_SIZE);
      if (this.spareOut.length > MAX_SPARE_OUT) this.spareOut.shift(); // still referenced; let GC have it later
    }
  }

  private emit(produced: number): void {
    const view = this.outBuf.subarray(this.outPos, this.outPos + produced);
    this.outPos += produced;
    this.totalOut += produced;
    this.memberCrc = crc32(view, this.memberCrc);
    this.output.append(view);
    this.options.onOutput?.(view);
  }

  /** inflate stopped at a block boundary after `processed` bytes. */
  private boundary(): void {
    if (this.pending !== undefined) this.pending.blockEnded = true;
    const last = this.checkpoints[this.checkpoints.length - 1] as Checkpoint;
    if (this.pending !== undefined || this.totalOut - last.uncompressedOffset < this.span) return;
    this.stats.candidates++;
    const from = Math.max(this.memberOutStart, this.totalOut - WINDOW_SIZE);
    const window = this.output.copy(from, this.totalOut);
    this.pending = { consumed: this.processed, uncompressedOffset: this.totalOut, window, blockEnded: false, nonFinal: false };
  }

  private resolvePending(): void {
    const pending = this.pending as Pending;
    this.pending = undefined;
    const truthEnd = Math.min(this.totalOut, pending.uncompressedOffset + TRUTH_SIZE);
    if (truthEnd - pending.uncompressedOffset < MIN_TRUTH) {
      this.stats.skipped++;
      return;
    }
    const truth = this.output.copy(pending.uncompressedOffset, truthEnd);
    const base = Math.max(this.input.start, pending.consumed - 1);
    const bytes = this.input.copy(base, Math.min(this.totalIn, base + TRIAL_INPUT_MAX));
    const found = findBitOffset(bytes, base, pending.consumed, pending.window, truth);
    if (found === undefined) {
      this.stats.skipped++;
      return;
    }
    this.addCheckpoint({ ...found, uncompressedOffset: pending.uncompressedOffset, window: pending.window });
  }

  private addCheckpoint(cp: Checkpoint): void {
    this.untrimmed = this.checkpoints.length; // the new one; older ones lose their input below and keep their windows
    this.closeSpan(cp.compressedOffset + (cp.bitOffset > 0 ? 1 : 0));
    this.checkpoints.push(cp);
    this.input.dropBefore(cp.compressedOffset);
  }

  /** Hashes the span of the last checkpoint, up to `end`. */
  private closeSpan(end: number): void {
    const last = this.checkpoints[this.checkpoints.length - 1] as Checkpoint;
    if (this.options.hashSink !== undefined) {
      this.options.hashSink.span(last.compressedOffset, end);
      return;
    }
    const hash = createHash('sha256');
    this.input.hash(last.compressedOffset, end, hash);
    this.spanDigests.push(new Uint8Array(hash.digest()));
  }

  private endMember(): void {
    if (this.pending?.nonFinal === true) this.resolvePending();
    else if (this.pending !== undefined) this.stats.skipped++;
    this.pending = undefined;
    this.inflater?.close();
    this.inflater = undefined;
    this.trailerFill = 0;
    this.state = State.Trailer;
  }

  private readTrailer(chunk: Uint8Array, pos: number): void {
    const take = Math.min(GZIP_TRAILER_SIZE - this.trailerFill, chunk.length - pos);
    this.trailer.set(chunk.subarray(pos, pos + take), this.trailerFill);
    this.trailerFill += take;
    this.processed += take;
    if (this.trailerFill < GZIP_TRAILER_SIZE) return;
    const { crc, isize } = readGzipTrailer(this.trailer, 0);
    const size = this.totalOut - this.memberOutStart;
    if (crc !== this.memberCrc >>> 0 || isize !== size % 2 ** 32) {
      throw this.corrupt(`gzip member ${this.members} fails its check (CRC32 ${this.memberCrc.toString(16)} vs ${crc.toString(16)}, size ${size} vs ${isize})`);
    }
    this.state = State.Between;
  }

  private between(byte: number): void {
    if (byte === 0x1f) {
      this.headerStart = this.processed;
      this.state = State.Header;
    } else if (byte === 0) {
      this.state = State.Padding;
    } else {
      throw this.corrupt(`unexpected byte 0x${byte.toString(16)} after gzip member ${this.members} at compressed offset ${this.processed}`);
    }
  }

  private padding(chunk: Uint8Array, pos: number): void {
    for (let i = pos; i < chunk.length; i++) {
      if (chunk[i] !== 0) throw this.corrupt(`non-zero byte after the padding that ends the blob, at compressed offset ${this.processed + i - pos}`);
    }
    this.processed += chunk.length - pos;
  }
}

/**
 * Builds the index of a whole gzip blob from an (async) iterable of chunks, such as a Node stream.
 *
 * @example
 * ```ts
 * const index = await buildGzipIndex(fs.createReadStream('layer.tar.gz'), { span: 4 << 20 });
 * ```
 */
export async function buildGzipIndex(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: GzipIndexBuilderOptions & { signal?: AbortSignal } = {},
): Promise<GzipIndex> {
  throwIfAborted(options.signal);
  const builder = new GzipIndexBuilder(options);
  for await (const chunk of chunks) {
    throwIfAborted(options.signal);
    builder.push(chunk);
  }
  return builder.finish();
}
