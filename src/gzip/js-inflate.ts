/**
 * The pure-JavaScript raw inflater: pako's port of zlib's `inflate()`, driven through pako's
 * public low-level API (`ZStream`, `zlibInflateInit2`, `zlibInflate`, `zlibInflateSetDictionary`).
 * It honours `Z_BLOCK` exactly as zlib does, so it is a drop-in for {@link NativeInflater} on a
 * Node whose internal zlib handle is missing or misbehaves. See docs/inflater.md ("Two engines").
 * @module
 */
import { ZStream, Z_BUF_ERROR, Z_OK, Z_STREAM_END, zlibInflate, zlibInflateInit2, zlibInflateReset, zlibInflateSetDictionary } from 'pako';
import { InflateDataError, type InflateStep } from './native-inflate.js';

/** zlib's windowBits for a raw deflate stream with a 32 KiB window. */
const RAW_WINDOW_BITS = -15;

/**
 * A raw-deflate inflater in pure JavaScript (pako), with the same contract as
 * {@link NativeInflater}: one `write` runs one `inflate(flush)`.
 *
 * @example
 * ```ts
 * const inf = new JsInflater(window);                // window: up to 32 KiB of history
 * const step = inf.write(zlib.constants.Z_BLOCK, input, 0, input.length, out, 0, out.length);
 * inf.close();
 * ```
 */
export class JsInflater {
  private strm: ZStream | undefined = new ZStream();
  private error: InflateDataError | undefined;

  /**
   * @param dictionary - the history (at most 32 KiB) the raw stream may refer back to; empty or
   * absent for the start of a gzip member.
   */
  constructor(private readonly dictionary?: Uint8Array) {
    const strm = this.strm as ZStream;
    check(zlibInflateInit2(strm, RAW_WINDOW_BITS), strm, 'inflateInit2');
    this.setDictionary(strm);
  }

  /**
   * Runs one `inflate(flush)` over `input[inOff, inOff+inLen)` into `out[outOff, outOff+outLen)`.
   * Throws {@link InflateDataError} when the data is corrupt; the inflater is then unusable until
   * {@link JsInflater.reset}.
   */
  write(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): InflateStep {
    const strm = this.strm;
    if (strm === undefined) throw new Error('JsInflater used after close()');
    if (this.error !== undefined) throw this.error;
    if (!(inOff >= 0 && inLen >= 0 && inOff + inLen <= input.length && outOff >= 0 && outLen >= 0 && outOff + outLen <= out.length)) {
      throw new RangeError(`inflate bounds out of range (in ${inOff}+${inLen}/${input.length}, out ${outOff}+${outLen}/${out.length})`);
    }
    strm.input = input;
    strm.next_in = inOff;
    strm.avail_in = inLen;
    strm.output = out as Uint8Array<ArrayBuffer>;
    strm.next_out = outOff;
    strm.avail_out = outLen;
    const ret = zlibInflate(strm, flush as Parameters<typeof zlibInflate>[1]);
    const availIn = strm.avail_in;
    const availOut = strm.avail_out;
    // Do not keep the caller's buffers alive through the stream.
    strm.input = EMPTY;
    strm.output = EMPTY;
    if (ret !== Z_OK && ret !== Z_STREAM_END && ret !== Z_BUF_ERROR) {
      this.error = new InflateDataError(strm.msg !== '' && strm.msg !== undefined ? strm.msg : `inflate error ${ret}`, ret);
      throw this.error;
    }
    return { consumed: inLen - availIn, produced: outLen - availOut, availIn, availOut };
  }

  /** Starts over (zlib `inflateReset`) with the same dictionary, even after a data error. */
  reset(): void {
    const strm = this.strm;
    if (strm === undefined) throw new Error('JsInflater used after close()');
    this.error = undefined;
    check(zlibInflateReset(strm), strm, 'inflateReset');
    this.setDictionary(strm);
  }

  /** Drops the state. Idempotent. */
  close(): void {
    this.strm = undefined;
  }

  private setDictionary(strm: ZStream): void {
    if (this.dictionary !== undefined && this.dictionary.length > 0) {
      check(zlibInflateSetDictionary(strm, this.dictionary), strm, 'inflateSetDictionary');
    }
  }
}

const EMPTY = new Uint8Array(0);

function check(ret: number, strm: ZStream, what: string): void {
  if (ret !== Z_OK) throw new InflateDataError(`${what} failed (${strm.msg || ret})`, ret);
}
