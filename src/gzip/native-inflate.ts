/**
 * The one place imagefs touches Node's internal zlib binding.
 *
 * `node:zlib` exposes inflate only as streams and one-shot calls; neither stops at deflate block
 * boundaries. Underneath, every zlib stream owns a native handle (`stream._handle`) whose
 * `writeSync(flush, in, inOff, inLen, out, outOff, outLen)` runs one `inflate()` call and leaves
 * `avail_out` and `avail_in` in `stream._writeState[0]` and `[1]`. With `flush = Z_BLOCK` zlib
 * returns at every block boundary, which is exactly what a seekable index needs, at native speed.
 *
 * This is internal Node API (tested on Node 20 and 22). Support is probed once when this module is
 * loaded; {@link NativeInflater} throws a `FailedPrecondition` error when it is missing, so importing
 * imagefs never fails by itself. The native side aborts the process (not throws) on out-of-range
 * offsets, so {@link NativeInflater.write} checks every argument first.
 * @module
 */
import zlib from 'node:zlib';
import { ImageError } from '../errors/image-fs-error.js';

interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  reset(): void;
  onerror: (message: string, errno: number, code?: string) => void;
}

interface ZlibInternals {
  _handle?: ZlibHandle | null;
  _writeState?: Uint32Array;
}

/** Why native block-level inflate is unavailable, or `undefined` when it works (probed once). */
export const nativeInflateProblem: string | undefined = probe();

function probe(): string | undefined {
  try {
    const stream = zlib.createInflateRaw() as unknown as ZlibInternals & zlib.InflateRaw;
    const ok = typeof stream._handle?.writeSync === 'function' && stream._writeState instanceof Uint32Array;
    stream.destroy();
    return ok ? undefined : 'node:zlib streams have no _handle.writeSync/_writeState on this Node version';
  } catch (error) {
    return `node:zlib internals could not be probed: ${String(error)}`;
  }
}

/** The result of one {@link NativeInflater.write} call. */
export interface InflateStep {
  /** Input bytes consumed. */
  consumed: number;
  /** Output bytes produced. */
  produced: number;
  /** Input bytes left (`inLen - consumed`). */
  availIn: number;
  /** Output space left (`outLen - produced`). */
  availOut: number;
}

/** A zlib error reported by the native handle; callers turn it into a `DataLoss` error. */
export class InflateDataError extends Error {
  /**
   * @param message - zlib's message, for instance `invalid block type`.
   * @param errno - zlib's error number, for instance -3 (`Z_DATA_ERROR`).
   */
  constructor(message: string, readonly errno: number) {
    super(message);
    this.name = 'InflateDataError';
  }
}

/**
 * A raw-deflate inflater driven synchronously through Node's native zlib handle.
 *
 * @example
 * ```ts
 * const inf = new NativeInflater(window);           // window: up to 32 KiB of history
 * const step = inf.write(zlib.constants.Z_BLOCK, input, 0, input.length, out, 0, out.length);
 * inf.close();
 * ```
 */
export class NativeInflater {
  private stream: (ZlibInternals & zlib.InflateRaw) | undefined;
  private readonly handle: ZlibHandle;
  private readonly state: Uint32Array;
  private error: InflateDataError | undefined;

  /**
   * @param dictionary - the history (at most 32 KiB) the raw stream may refer back to; empty or
   * absent for the start of a gzip member.
   */
  constructor(dictionary?: Uint8Array) {
    if (nativeInflateProblem !== undefined) {
      throw new ImageError('FailedPrecondition', `seekable gzip needs Node's native zlib handle: ${nativeInflateProblem}`, {
        hint: 'run imagefs on Node 20 or 22',
      });
    }
    const options: zlib.ZlibOptions = dictionary !== undefined && dictionary.length > 0 ? { dictionary } : {};
    this.stream = zlib.createInflateRaw(options) as unknown as ZlibInternals & zlib.InflateRaw;
    this.handle = this.stream._handle as ZlibHandle;
    this.state = this.stream._writeState as Uint32Array;
    // Replace Node's handler, which would destroy the stream and emit an unhandled 'error' event.
    this.handle.onerror = (message: string, errno: number) => {
      this.error = new InflateDataError(message, errno);
    };
  }

  /**
   * Runs one `inflate(flush)` over `input[inOff, inOff+inLen)` into `out[outOff, outOff+outLen)`.
   * Throws {@link InflateDataError} when zlib reports corrupt data; the inflater is then unusable.
   */
  write(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): InflateStep {
    if (this.stream === undefined) throw new Error('NativeInflater used after close()');
    if (this.error !== undefined) throw this.error;
    if (!(inOff >= 0 && inLen >= 0 && inOff + inLen <= input.length && outOff >= 0 && outLen >= 0 && outOff + outLen <= out.length)) {
      throw new RangeError(`inflate bounds out of range (in ${inOff}+${inLen}/${input.length}, out ${outOff}+${outLen}/${out.length})`);
    }
    this.handle.writeSync(flush, input, inOff, inLen, out, outOff, outLen);
    if (this.error !== undefined) throw this.error;
    const availOut = this.state[0] as number;
    const availIn = this.state[1] as number;
    return { consumed: inLen - availIn, produced: outLen - availOut, availIn, availOut };
  }

  /** Starts over (zlib `inflateReset`) with the same dictionary, even after a data error. */
  reset(): void {
    if (this.stream === undefined) throw new Error('NativeInflater used after close()');
    this.error = undefined;
    this.handle.reset();
    if (this.error !== undefined) throw this.error;
  }

  /** Frees the native zlib state. Idempotent. */
  close(): void {
    this.stream?.destroy();
    this.stream = undefined;
  }
}
