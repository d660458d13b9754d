// The two raw-inflate engines (native zlib handle, pako) and the choice between them: the native
// self-test catches a handle that misbehaves, the fallback is announced, and both engines build
// identical indexes and read identical bytes on GNU gzip, pigz, multi-member and Go-style
// sync-flushed blobs (the data itself as the oracle).
import zlib from 'node:zlib';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ImageFsError } from '../src/errors/index.js';
import { GzipIndexBuilder } from '../src/gzip/index-builder.js';
import { chooseInflateEngine, inflateEngine, inflaterSelfTest, nativeProblem, onInflateFallback, setInflateEngine, type Inflater, type InflateEngine } from '../src/gzip/inflater.js';
import { JsInflater } from '../src/gzip/js-inflate.js';
import { InflateDataError, NativeInflater } from '../src/gzip/native-inflate.js';
import { GzipSpanReader } from '../src/gzip/span-reader.js';
import { seededRandom } from '../src/testing/builder/index.js';
import { CountingSource, gzipFlavours, tarLike } from './gzip-fixtures.js';

const data = tarLike(11, 512 * 1024 + 77);
let flavours: Record<string, Uint8Array>;

beforeAll(async () => {
  flavours = await gzipFlavours(data);
});

afterEach(() => {
  setInflateEngine('auto');
});

describe('engine choice', () => {
  it('is native on this Node unless IMAGEFS_INFLATE=js, and the native handle passes its self-test', () => {
    expect(nativeProblem()).toBeUndefined();
    expect(inflateEngine()).toEqual(process.env.IMAGEFS_INFLATE === 'js' ? { engine: 'js', reason: 'forced (IMAGEFS_INFLATE=js)' } : { engine: 'native' });
    expect(setInflateEngine('js')).toEqual({ engine: 'js', reason: 'forced (IMAGEFS_INFLATE=js)' });
    expect(inflateEngine().engine).toBe('js');
    expect(setInflateEngine('native')).toEqual({ engine: 'native' });
  });

  it('the pako engine passes the same self-test', () => {
    expect(inflaterSelfTest((d) => new JsInflater(d))).toBeUndefined();
  });

  it('catches a handle that does not stop at block boundaries, ignores the dictionary, or throws', () => {
    const wrap = (change: (inf: NativeInflater, flush: number) => number, dropDictionary = false) => (d?: Uint8Array): Inflater => {
      const inf = new NativeInflater(dropDictionary ? undefined : d);
      return {
        write: (flush, ...rest) => inf.write(change(inf, flush), ...rest),
        reset: () => inf.reset(),
        close: () => inf.close(),
      };
    };
    expect(inflaterSelfTest(wrap((_, f) => (f === zlib.constants.Z_BLOCK ? zlib.constants.Z_NO_FLUSH : f)))).toMatch(/does not stop at block boundaries/);
    expect(inflaterSelfTest(wrap((_, f) => f, true))).toMatch(/wrongly|ignores the inflate dictionary|self-test/);
    expect(inflaterSelfTest(() => { throw new TypeError('stream._handle is null'); })).toBe('the inflater failed its self-test: stream._handle is null');
    expect(inflaterSelfTest((d) => new NativeInflater(d))).toBeUndefined();
  });

  it('an automatic fallback warns once and tells the listeners; a forced engine does not', async () => {
    const seen: string[] = [];
    const off = onInflateFallback((s) => seen.push(`${s.engine}: ${s.reason}`));
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
    expect(chooseInflateEngine(undefined, 'no _handle.writeSync')).toEqual({ engine: 'js', reason: 'no _handle.writeSync' });
    const warning = await warned;
    expect((warning as Error & { code?: string }).code).toBe('IMAGEFS_INFLATE_FALLBACK');
    expect(warning.message).toContain('no _handle.writeSync');
    expect(seen).toEqual(['js: no _handle.writeSync']);
    expect(chooseInflateEngine('js', undefined)).toEqual({ engine: 'js', reason: 'forced (IMAGEFS_INFLATE=js)' });
    expect(chooseInflateEngine(undefined, undefined)).toEqual({ engine: 'native' });
    expect(seen).toHaveLength(1);
    off();
    chooseInflateEngine(undefined, 'again');
    expect(seen).toHaveLength(1);
  });
});

describe('JsInflater', () => {
  it('stops at the same block boundaries as the native handle, with the same output', () => {
    const raw = zlib.deflateRawSync(tarLike(3, 300_000), { memLevel: 2 });
    const run = (inf: Inflater): string[] => {
      const out = Buffer.alloc(400_000);
      const stops: string[] = [];
      let i = 0;
      let o = 0;
      for (;;) {
        const s = inf.write(zlib.constants.Z_BLOCK, raw, i, raw.length - i, out, o, out.length - o);
        i += s.consumed;
        o += s.produced;
        if (s.consumed === 0 && s.produced === 0) break;
        stops.push(`${i}/${o}/${s.availIn > 0 && s.availOut > 0}`);
      }
      inf.close();
      expect(out.subarray(0, o).equals(zlib.inflateRawSync(raw))).toBe(true);
      return stops;
    };
    const js = run(new JsInflater());
    expect(js.length).toBeGreaterThan(10);
    expect(js).toEqual(run(new NativeInflater()));
  });

  it('throws InflateDataError on corrupt data and works again after reset()', () => {
    const inf = new JsInflater();
    const out = new Uint8Array(100);
    expect(() => inf.write(zlib.constants.Z_BLOCK, Uint8Array.of(0xff, 0xff), 0, 2, out, 0, 100)).toThrow(InflateDataError);
    expect(() => inf.write(zlib.constants.Z_BLOCK, Uint8Array.of(0), 0, 1, out, 0, 100)).toThrow(/invalid block type/);
    inf.reset();
    const raw = zlib.deflateRawSync(Buffer.from('hello hello hello'));
    const step = inf.write(zlib.constants.Z_SYNC_FLUSH, raw, 0, raw.length, out, 0, 100);
    expect(Buffer.from(out.subarray(0, step.produced)).toString()).toBe('hello hello hello');
    expect(() => inf.write(0, raw, 0, raw.length + 1, out, 0, 1)).toThrow(RangeError);
    inf.close();
    expect(() => inf.write(0, raw, 0, 1, out, 0, 1)).toThrow(/after close/);
  });
});

describe('both engines on every gzip flavour', () => {
  const build = (engine: InflateEngine, blob: Uint8Array) => {
    setInflateEngine(engine);
    const out: Uint8Array[] = [];
    const builder = new GzipIndexBuilder({ span: 64 * 1024, onOutput: (c) => out.push(c) });
    for (let i = 0; i < blob.length; i += 50_000) builder.push(blob.subarray(i, i + 50_000));
    const index = builder.finish();
    return { index, output: Buffer.concat(out) };
  };

  for (const name of ['gzip -6', 'pigz', 'multi-member', 'pgzip-style']) {
    it(`${name}: the same checkpoints, windows and digests, and the same bytes at random offsets`, async () => {
      const blob = flavours[name]!;
      const native = build('native', blob);
      const js = build('js', blob);
      expect(js.output.equals(Buffer.from(data))).toBe(true);
      expect(native.output.equals(js.output)).toBe(true);
      expect(js.index.checkpoints.length).toBeGreaterThanOrEqual(3);
      expect(js.index).toEqual(native.index);
      const next = seededRandom(9);
      for (const engine of ['native', 'js'] as const) {
        setInflateEngine(engine);
        const reader = new GzipSpanReader(js.index, new CountingSource(blob));
        for (let r = 0; r < 8; r++) {
          const length = 1 + (next() % 100_000);
          const offset = next() % (data.length - length);
          const bytes = await reader.readAt(offset, length);
          expect(Buffer.from(bytes).equals(Buffer.from(data.subarray(offset, offset + length)))).toBe(true);
        }
      }
    });
  }

  it('a corrupt blob is DataLoss on the JS engine too', () => {
    const bad = Uint8Array.from(flavours['gzip -6']!);
    bad[5000] = (bad[5000] as number) ^ 0x55;
    expect(() => build('js', bad)).toThrow(ImageFsError);
    try {
      build('js', bad);
    } catch (error) {
      expect((error as ImageFsError).code).toBe('DataLoss');
    }
  });
});
