/**
 * Which raw inflater seekable gzip runs on: Node's native zlib handle (fast; internal Node API) or
 * pako in pure JavaScript (any Node). The choice is made once, on first use: the native handle is
 * probed and put through a self-test (block stops, dictionary, corrupt data); if anything is off,
 * or `IMAGEFS_INFLATE=js` is set, the JS engine is used and listeners (and a process warning,
 * code `IMAGEFS_INFLATE_FALLBACK`) are told why. See docs/inflater.md ("Two engines").
 * @module
 */
import zlib from 'node:zlib';
import { JsInflater } from './js-inflate.js';
import { InflateDataError, NativeInflater, nativeInflateProblem, type InflateStep } from './native-inflate.js';

/** The two raw-inflate engines. */
export type InflateEngine = 'native' | 'js';

/** The engine seekable gzip uses, and why when it is not the native one. */
export interface InflateEngineStatus {
  /** The engine in use. */
  engine: InflateEngine;
  /** Why the JS engine is used: forced (`IMAGEFS_INFLATE=js` or `setInflateEngine`) or what the native self-test found. */
  reason?: string;
}

/** A raw-deflate inflater: one `write` is one zlib `inflate(flush)` call. */
export interface Inflater {
  /** Runs one `inflate(flush)`; throws {@link InflateDataError} on corrupt data. */
  write(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): InflateStep;
  /** `inflateReset`, keeping the dictionary. */
  reset(): void;
  /** Frees the state. Idempotent. */
  close(): void;
}

/** Called once when seekable gzip falls back to the JS engine on its own (not when forced). */
export type InflateFallbackListener = (status: InflateEngineStatus) => void;

let status: InflateEngineStatus | undefined;
const listeners = new Set<InflateFallbackListener>();

/**
 * The engine seekable gzip uses (chosen on first call: native unless it fails its self-test or
 * `IMAGEFS_INFLATE=js` is set).
 *
 * @example
 * ```ts
 * const { engine, reason } = inflateEngine();   // { engine: 'native' } on Node 20 and 22
 * if (engine === 'js') console.warn(`seekable gzip runs in pure JS: ${reason}`);
 * ```
 */
export function inflateEngine(): InflateEngineStatus {
  if (status === undefined) status = choose(process.env.IMAGEFS_INFLATE);
  return status;
}

/**
 * Forces an engine (`'auto'`: choose again as on first use). For tests and benches: inflaters
 * already made keep their engine.
 *
 * @example
 * ```ts
 * setInflateEngine('js');      // run the next reads on pako
 * setInflateEngine('auto');    // back to the default choice
 * ```
 */
export function setInflateEngine(engine: InflateEngine | 'auto'): InflateEngineStatus {
  status = choose(engine === 'auto' ? process.env.IMAGEFS_INFLATE : engine);
  return status;
}

/**
 * Registers a listener for an automatic fallback to the JS engine (called at once if it already
 * happened). Returns a function that removes it.
 *
 * @example
 * ```ts
 * const off = onInflateFallback(({ reason }) => log.warn(`seekable gzip in pure JS: ${reason}`));
 * off();
 * ```
 */
export function onInflateFallback(listener: InflateFallbackListener): () => void {
  listeners.add(listener);
  if (status?.engine === 'js' && status.reason !== undefined && !status.reason.startsWith('forced')) listener(status);
  return () => listeners.delete(listener);
}

/**
 * A raw inflater on the engine in use.
 *
 * @param dictionary - the history (at most 32 KiB) the stream may refer back to.
 * @example
 * ```ts
 * const inf = createInflater(checkpoint.window);
 * try { inf.write(zlib.constants.Z_NO_FLUSH, input, 0, input.length, out, 0, out.length); } finally { inf.close(); }
 * ```
 */
export function createInflater(dictionary?: Uint8Array): Inflater {
  return inflateEngine().engine === 'native' ? new NativeInflater(dictionary) : new JsInflater(dictionary);
}

function choose(wanted: string | undefined): InflateEngineStatus {
  return chooseInflateEngine(wanted, wanted === 'js' ? undefined : nativeProblem());
}

/**
 * The engine choice itself: `wanted` is `'js'`, `'native'` or anything else (automatic);
 * `problem` is what the native self-test found. An automatic fallback emits a process warning
 * (code `IMAGEFS_INFLATE_FALLBACK`) and calls the {@link onInflateFallback} listeners. @internal
 *
 * @example
 * ```ts
 * chooseInflateEngine(undefined, 'no _handle'); // { engine: 'js', reason: 'no _handle' }, listeners called
 * ```
 */
export function chooseInflateEngine(wanted: string | undefined, problem: string | undefined): InflateEngineStatus {
  if (wanted === 'js') return { engine: 'js', reason: 'forced (IMAGEFS_INFLATE=js)' };
  if (problem === undefined) return { engine: 'native' };
  if (wanted === 'native') return { engine: 'native', reason: `forced despite: ${problem}` };
  const fallback: InflateEngineStatus = { engine: 'js', reason: problem };
  process.emitWarning(`imagefs: seekable gzip falls back to pure-JS inflate (slower): ${problem}`, { code: 'IMAGEFS_INFLATE_FALLBACK' });
  for (const listener of listeners) listener(fallback);
  return fallback;
}

let selfTest: string | undefined | null = null;

/** Why the native engine cannot be trusted, or `undefined` when its probe and self-test pass (run once). */
export function nativeProblem(): string | undefined {
  if (selfTest === null) selfTest = nativeInflateProblem ?? inflaterSelfTest((dictionary) => new NativeInflater(dictionary));
  return selfTest;
}

/**
 * Checks an inflater engine, on data made by node:zlib's deflate, for what the index builder
 * relies on: `Z_BLOCK` stops at block boundaries with input and output left, the output is right,
 * a dictionary is honoured, and corrupt data throws {@link InflateDataError}. Returns what is
 * wrong, or `undefined`. Takes a few milliseconds. @internal
 *
 * @example
 * ```ts
 * inflaterSelfTest((dictionary) => new NativeInflater(dictionary)); // undefined on Node 20 and 22
 * ```
 */
export function inflaterSelfTest(make: (dictionary?: Uint8Array) => Inflater): string | undefined {
  try {
    const data = Buffer.alloc(40 * 1024);
    let x = 12345;
    for (let i = 0; i < data.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      data[i] = i % 3 === 0 ? (x >>> 24) : 97 + (i % 7);
    }
    // memLevel 1: small symbol buffers, so many blocks.
    const raw = zlib.deflateRawSync(data, { memLevel: 1 });
    const out = Buffer.alloc(data.length + 1);
    const inf = make();
    let inPos = 0;
    let outPos = 0;
    let stops = 0;
    try {
      for (let calls = 0; inPos < raw.length && calls < 100000; calls++) {
        const step = inf.write(zlib.constants.Z_BLOCK, raw, inPos, raw.length - inPos, out, outPos, out.length - outPos);
        if (!(step.consumed >= 0 && step.consumed <= raw.length - inPos && step.produced >= 0 && step.produced <= out.length - outPos)) {
          return 'the inflater reports impossible avail_in/avail_out';
        }
        inPos += step.consumed;
        outPos += step.produced;
        if (step.consumed === 0 && step.produced === 0) break;
        if (step.availIn > 0 && step.availOut > 0) stops++;
      }
    } finally {
      inf.close();
    }
    if (outPos !== data.length || !out.subarray(0, outPos).equals(data)) return 'the inflater inflated the self-test data wrongly';
    if (stops < 2) return `the inflater does not stop at block boundaries (Z_BLOCK: ${stops} stops)`;
    const dictionary = data.subarray(0, 32 * 1024);
    const tail = data.subarray(32 * 1024, 40 * 1024);
    const withDict = zlib.deflateRawSync(tail, { dictionary });
    const dictOut = Buffer.alloc(tail.length);
    const dictInf = make(dictionary);
    try {
      dictInf.write(zlib.constants.Z_SYNC_FLUSH, withDict, 0, withDict.length, dictOut, 0, dictOut.length);
    } finally {
      dictInf.close();
    }
    if (!dictOut.equals(tail)) return 'the inflater ignores the inflate dictionary';
    const bad = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    const badInf = make();
    try {
      badInf.write(zlib.constants.Z_BLOCK, bad, 0, bad.length, out, 0, out.length);
      return 'the inflater does not report corrupt data';
    } catch (error) {
      if (!(error instanceof InflateDataError)) throw error;
    } finally {
      badInf.close();
    }
    return undefined;
  } catch (error) {
    return `the inflater failed its self-test: ${error instanceof Error ? error.message : String(error)}`;
  }
}
