/** Shared fixtures of the gzip tests: deterministic layers in every gzip flavour, chunkers, a counting source. */
import { once } from 'node:events';
import zlib from 'node:zlib';
import { compress, compressibleBytes, concatBytes, crc32, randomBytes, seededRandom } from '../src/testing/builder/index.js';
import { BufferSource, type ReadAtSource, type ReadOptions } from '../src/source/read-at.js';

/** A tar-like stream: runs of text and of random bytes (1-96 KiB each), deterministic for a seed. */
export function tarLike(seed: number, size: number): Uint8Array {
  const next = seededRandom(seed);
  const parts: Uint8Array[] = [];
  let total = 0;
  for (let i = 0; total < size; i++) {
    const n = Math.min(size - total, 1024 + (next() % (95 * 1024)));
    parts.push(next() % 4 === 0 ? randomBytes(seed * 1000 + i, n) : compressibleBytes(seed * 1000 + i, n));
    total += n;
  }
  return concatBytes(parts);
}

/** One continuous deflate stream sync-flushed every `every` input bytes, in a gzip member (Go's gzip.Writer.Flush). */
export async function streamSyncFlushGzip(data: Uint8Array, every = 64 * 1024): Promise<Uint8Array> {
  const deflate = zlib.createDeflateRaw({ level: 6 });
  const out: Uint8Array[] = [];
  deflate.on('data', (chunk: Buffer) => out.push(chunk));
  for (let at = 0; at < data.length; at += every) {
    deflate.write(data.subarray(at, at + every));
    await new Promise<void>((resolve) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
  }
  deflate.end();
  await once(deflate, 'end');
  return wrapMember(concatBytes(out), data, new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]));
}

/** A gzip member whose header has FEXTRA, FNAME, FCOMMENT and FHCRC. */
export function gzipWithAllHeaderFields(data: Uint8Array): Uint8Array {
  const extra = new Uint8Array([0x41, 0x42, 3, 0, 1, 2, 3]);
  const head = concatBytes([
    new Uint8Array([0x1f, 0x8b, 8, 4 | 8 | 16 | 2, 0, 0, 0, 0, 0, 3, extra.length, 0]),
    extra,
    new TextEncoder().encode('layer.tar\0a comment\0'),
  ]);
  const hcrc = crc32(head) & 0xffff;
  return wrapMember(zlib.deflateRawSync(data), data, concatBytes([head, new Uint8Array([hcrc & 0xff, hcrc >> 8])]));
}

function wrapMember(raw: Uint8Array, data: Uint8Array, header: Uint8Array): Uint8Array {
  const trailer = new Uint8Array(8);
  new DataView(trailer.buffer).setUint32(0, crc32(data), true);
  new DataView(trailer.buffer).setUint32(4, data.length >>> 0, true);
  return concatBytes([header, raw, trailer]);
}

/** The gzip flavours the index must handle, by name. */
export async function gzipFlavours(data: Uint8Array): Promise<Record<string, Uint8Array>> {
  const third = Math.floor(data.length / 3);
  return {
    'gzip -1': await compress(data, { kind: 'gnu-gzip', level: 1 }),
    'gzip -6': await compress(data, { kind: 'gnu-gzip', level: 6 }),
    'gzip -9': await compress(data, { kind: 'gnu-gzip', level: 9 }),
    pigz: await compress(data, { kind: 'pigz', level: 6 }),
    'multi-member': concatBytes([
      await compress(data.subarray(0, third), { kind: 'gnu-gzip', level: 6 }),
      zlib.gzipSync(new Uint8Array(0)),
      zlib.gzipSync(data.subarray(third, 2 * third)),
      gzipWithAllHeaderFields(data.subarray(2 * third)),
    ]),
    'sync-flush stream': await streamSyncFlushGzip(data),
    'pgzip-style': await compress(data, { kind: 'gzip-sync', flushEvery: 64 * 1024 }),
  };
}

/** Cuts `bytes` into chunks of `size` bytes, or of seeded random sizes (1 B - 100 KiB) for 'random'. */
export function* chunks(bytes: Uint8Array, size: number | 'random', seed = 7): Generator<Uint8Array> {
  const next = seededRandom(seed);
  for (let at = 0; at < bytes.length;) {
    const n = size === 'random' ? 1 + (next() % (100 * 1024)) : size;
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

/** A {@link BufferSource} that counts its reads. */
export class CountingSource implements ReadAtSource {
  readonly size: number;
  reads = 0;
  bytes = 0;
  private readonly inner: BufferSource;
  constructor(data: Uint8Array) {
    this.inner = new BufferSource(data);
    this.size = data.length;
  }
  async readAt(offset: number, length: number, options?: ReadOptions): Promise<Uint8Array> {
    this.reads++;
    this.bytes += length;
    return this.inner.readAt(offset, length, options);
  }
}
