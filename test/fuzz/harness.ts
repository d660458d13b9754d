// The fuzz runner: seeded generation and mutation, and a judge that accepts a correct result or a
// typed error (ImageFsError: registry/image codes or Node-shaped fs codes) and nothing else, in
// bounded time per case. Used by test/fuzz-*.test.ts (thousands of cases in CI) and scripts/fuzz.ts
// (`npm run fuzz`, more cases, any seed).
import { ImageFsError } from '../../src/errors/image-fs-error.js';

/** A seeded pseudo-random source (mulberry32): the same seed gives the same cases. */
export class Rand {
  private state: number;
  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
  /** A number from a set that breaks parsers: boundaries, huge, negative, fractional, not finite. */
  nastyNumber(): number {
    return this.pick([0, 1, -1, 7, 511, 512, 513, 4095, 4096, 32768, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1, 2 ** 53, 1e21, -(2 ** 31), 0.5, -0.5, NaN, Infinity, -Infinity, this.int(1000), this.int(2 ** 31)]);
  }
  /** A JSON value of any type (for structural mutation of JSON documents). */
  nastyJson(depth = 0): unknown {
    switch (this.int(depth > 1 ? 6 : 9)) {
      case 0: return this.nastyNumber();
      case 1: return this.pick(['', 'a', '/', '..', '../../etc/passwd', 'sha256:' + '0'.repeat(64), 'sha256:xyz', '\u0000', 'é'.repeat(50), 'x'.repeat(5000), 'true', '-1']);
      case 2: return this.chance(0.5);
      case 3: return null;
      case 4: return undefined;
      case 5: return this.int(100);
      case 6: return Array.from({ length: this.int(4) }, () => this.nastyJson(depth + 1));
      case 7: return Object.fromEntries(Array.from({ length: this.int(4) }, (_, i) => [this.pick(['digest', 'size', 'mediaType', 'name', 'type', 'offset', `k${i}`]), this.nastyJson(depth + 1)]));
      default: return {};
    }
  }
}

/** Bytes with `count` random mutations: flips, interesting bytes, digits, truncation, extension, duplicated or removed runs. */
export function mutateBytes(input: Uint8Array, r: Rand, count = 1 + r.int(6), focus?: (r: Rand, length: number) => number): Uint8Array {
  let b = Uint8Array.from(input);
  for (let k = 0; k < count; k++) {
    const at = (): number => Math.max(0, Math.min(b.length - 1, focus !== undefined && r.chance(0.7) ? focus(r, b.length) : r.int(Math.max(1, b.length))));
    switch (r.int(9)) {
      case 0: { if (b.length) { const i = at(); b[i] = b[i]! ^ (1 << r.int(8)); } break; }
      case 1: { if (b.length) b[at()] = r.pick([0, 0xff, 0x7f, 0x80, 0x20, 0x0a, 0x3d, 0x2f]); break; }
      case 2: { if (b.length) b[at()] = 0x30 + r.int(10); break; }
      case 3: { b = b.subarray(0, r.int(b.length + 1)); break; }
      case 4: { const extra = r.bytes(r.int(600)); const c = new Uint8Array(b.length + extra.length); c.set(b); c.set(extra, b.length); b = c; break; }
      case 5: { // duplicate a run
        if (b.length < 2) break;
        const s = at(); const e = Math.min(b.length, s + 1 + r.int(1024));
        const c = new Uint8Array(b.length + (e - s)); c.set(b.subarray(0, e)); c.set(b.subarray(s, e), e); c.set(b.subarray(e), e + (e - s)); b = c; break;
      }
      case 6: { // remove a run
        if (b.length < 2) break;
        const s = at(); const e = Math.min(b.length, s + 1 + r.int(1024));
        const c = new Uint8Array(b.length - (e - s)); c.set(b.subarray(0, s)); c.set(b.subarray(e), s); b = c; break;
      }
      case 7: { // overwrite a run with digits (numeric fields)
        if (!b.length) break;
        const s = at(); for (let i = s; i < Math.min(b.length, s + 1 + r.int(12)); i++) b[i] = 0x30 + r.int(10); break;
      }
      default: { if (b.length) { const i = at(); b[i] = r.int(256); } break; }
    }
  }
  return b;
}

/** Deep-copies a JSON document and replaces, deletes or adds `count` random members with nasty values. */
export function mutateJson(doc: unknown, r: Rand, count = 1 + r.int(4)): unknown {
  const copy = JSON.parse(JSON.stringify(doc)) as unknown;
  for (let k = 0; k < count; k++) {
    // Walk to a random container.
    let node: unknown = copy;
    for (let depth = 0; depth < 6; depth++) {
      const children = node !== null && typeof node === 'object' ? Object.values(node as object).filter((v) => v !== null && typeof v === 'object') : [];
      if (children.length === 0 || r.chance(0.3)) break;
      node = r.pick(children);
    }
    if (node === null || typeof node !== 'object') continue;
    const obj = node as Record<string, unknown>;
    const keys = Object.keys(obj);
    const key = keys.length > 0 && r.chance(0.8) ? r.pick(keys) : Array.isArray(obj) ? String(obj.length) : r.pick(['digest', 'size', 'mediaType', 'annotations', 'urls', 'extra']);
    if (r.chance(0.2)) delete obj[key];
    else obj[key] = r.nastyJson();
  }
  return copy;
}

/** True for the errors a case may end in: imagefs's typed errors. */
export function isTypedError(error: unknown): boolean {
  return ImageFsError.is(error);
}

/** One fuzz target: a generator of inputs and a run that returns normally (correct result) or throws a typed error. */
export interface FuzzTarget<T = unknown> {
  name: string;
  /** Cases in CI (test/fuzz-*.test.ts). */
  ciCases: number;
  /** Prepares shared fixtures once (seeds, images). */
  setup?: () => Promise<void>;
  /** The input of case `i`. */
  generate: (r: Rand, i: number) => T | Promise<T>;
  /** Runs one case: throws a typed error, or checks its result against the oracle (throwing a plain Error when wrong). */
  run: (input: T, r: Rand) => unknown;
  /** Releases what setup made. */
  teardown?: () => Promise<void>;
}

/** What a campaign found. */
export interface FuzzReport {
  target: string;
  seed: number;
  cases: number;
  /** Cases that ended in a result. */
  ok: number;
  /** Cases that ended in a typed error, by code. */
  typed: Record<string, number>;
  /** Cases that ended in anything else, or over the time bound: each with what reproduces it. */
  failures: Array<{ case: number; error: string }>;
  ms: number;
  /** Slowest case, ms. */
  maxCaseMs: number;
}

/**
 * Runs `cases` cases of `target` from `seed` (case i uses seed `seed + i`, so one case can be
 * replayed alone with `FUZZ_SEED=seed+i FUZZ_CASES=1`). A case slower than `maxCaseMs` is a failure.
 */
export async function runFuzz<T>(target: FuzzTarget<T>, options: { seed: number; cases: number; maxCaseMs?: number }): Promise<FuzzReport> {
  const report: FuzzReport = { target: target.name, seed: options.seed, cases: options.cases, ok: 0, typed: {}, failures: [], ms: 0, maxCaseMs: 0 };
  const maxCaseMs = options.maxCaseMs ?? 2000;
  const started = performance.now();
  for (let i = 0; i < options.cases; i++) {
    const r = new Rand(options.seed + i);
    const t0 = performance.now();
    try {
      const input = await target.generate(r, i);
      await target.run(input, r);
      report.ok++;
    } catch (error) {
      if (isTypedError(error)) {
        const code = String((error as { code?: unknown }).code);
        report.typed[code] = (report.typed[code] ?? 0) + 1;
      } else {
        report.failures.push({ case: options.seed + i, error: error instanceof Error ? `${error.name}: ${error.message}\n${error.stack?.split('\n').slice(1, 4).join('\n') ?? ''}` : String(error) });
      }
    }
    const ms = performance.now() - t0;
    report.maxCaseMs = Math.max(report.maxCaseMs, ms);
    if (ms > maxCaseMs) report.failures.push({ case: options.seed + i, error: `took ${Math.round(ms)} ms, over the ${maxCaseMs} ms bound` });
  }
  report.ms = performance.now() - started;
  return report;
}
