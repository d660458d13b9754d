import { constants, deflateRawSync, gzipSync } from 'node:zlib';
import type { LayerCompression } from '../../image/media-types.js';
import { concatBytes } from './tar-header.js';
import { runTool } from './run-tool.js';

/**
 * How a layer tar is compressed:
 * - `none`: the tar as is.
 * - `gzip`: one gzip member from node:zlib (level 1-9, default 6).
 * - `gzip-multi`: the tar cut into `members` equal parts (default 4), each its own gzip member,
 *   concatenated (what eStargz-like layers look like to a reader).
 * - `gzip-sync`: one gzip member whose deflate stream is sync-flushed every `flushEvery` bytes of
 *   input (default 64 KiB), each part compressed with the previous 32 KiB as dictionary, as Go's
 *   pgzip (umoci, containers/image) writes: byte-aligned empty stored blocks `00 00 ff ff`.
 * - `pigz`, `gnu-gzip`: the `pigz` / `gzip` command (`-n -c -LEVEL`, default 6).
 * - `zstd`: the `zstd` command (`-q -c -LEVEL`, default 3).
 */
export type Compression =
  | 'none'
  | 'gzip'
  | 'gzip-multi'
  | 'gzip-sync'
  | 'pigz'
  | 'gnu-gzip'
  | 'zstd'
  | { kind: 'none' }
  | { kind: 'gzip'; level?: number }
  | { kind: 'gzip-multi'; members?: number; level?: number }
  | { kind: 'gzip-sync'; flushEvery?: number; level?: number }
  | { kind: 'pigz'; level?: number }
  | { kind: 'gnu-gzip'; level?: number }
  | { kind: 'zstd'; level?: number };

/** The name of a {@link Compression}, without its options. */
export type CompressionKind = Exclude<Compression, { kind: string }>;

/** Options of {@link compress}. */
export interface CompressOptions {
  /** Cancels a running child process (pigz, gzip, zstd). */
  signal?: AbortSignal;
}

/** The kind of a compression spec. */
export function compressionKind(c: Compression): CompressionKind {
  return typeof c === 'string' ? c : c.kind;
}

/** Whether a compression spec produces gzip, zstd or plain tar (decides the layer media type). */
export function compressionFamily(c: Compression): LayerCompression {
  const kind = compressionKind(c);
  if (kind === 'none') return 'none';
  if (kind === 'zstd') return 'zstd';
  return 'gzip';
}

function level(c: Compression, fallback: number, max = 9): number {
  const l = typeof c === 'string' || !('level' in c) || c.level === undefined ? fallback : c.level;
  if (!Number.isInteger(l) || l < 1 || l > max) throw new TypeError(`compression level must be an integer in 1..${max}, got ${l}`);
  return l;
}

/**
 * Compresses a layer tar as `compression` says. Deterministic for every kind (gzip headers carry
 * no name and mtime 0).
 *
 * @example
 * ```ts
 * const blob = await compress(tar, { kind: 'gzip-sync', flushEvery: 32 * 1024 });
 * ```
 */
export async function compress(tar: Uint8Array, compression: Compression, options: CompressOptions = {}): Promise<Uint8Array> {
  const kind = compressionKind(compression);
  switch (kind) {
    case 'none':
      return tar;
    case 'gzip':
      return new Uint8Array(gzipSync(tar, { level: level(compression, 6) }));
    case 'gzip-multi': {
      const n = typeof compression === 'string' ? 4 : ((compression as { members?: number }).members ?? 4);
      if (!Number.isInteger(n) || n < 1) throw new TypeError(`gzip-multi: members must be a positive integer, got ${n}`);
      const part = Math.ceil(tar.length / n);
      const members: Uint8Array[] = [];
      for (let i = 0; i < n; i++) members.push(new Uint8Array(gzipSync(tar.subarray(i * part, Math.min(tar.length, (i + 1) * part)), { level: level(compression, 6) })));
      return concatBytes(members);
    }
    case 'gzip-sync': {
      const every = typeof compression === 'string' ? 64 * 1024 : ((compression as { flushEvery?: number }).flushEvery ?? 64 * 1024);
      if (!Number.isInteger(every) || every < 1) throw new TypeError(`gzip-sync: flushEvery must be a positive integer, got ${every}`);
      return syncFlushGzip(tar, every, level(compression, 6));
    }
    case 'pigz':
    case 'gnu-gzip': {
      const cmd = kind === 'pigz' ? 'pigz' : 'gzip';
      return (await runTool(cmd, ['-n', '-c', `-${level(compression, 6)}`], { input: tar, signal: options.signal })).stdout;
    }
    case 'zstd':
      return (await runTool('zstd', ['-q', '-c', `-${level(compression, 3, 19)}`], { input: tar, signal: options.signal })).stdout;
    default:
      throw new TypeError(`unknown compression '${String(kind)}'`);
  }
}

/** A gzip member made pgzip's way: sync-flushed parts, each with the previous 32 KiB as dictionary. */
function syncFlushGzip(data: Uint8Array, every: number, lvl: number): Uint8Array {
  const parts: Uint8Array[] = [new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])];
  for (let at = 0; at < data.length; at += every) {
    const chunk = data.subarray(at, Math.min(data.length, at + every));
    const dictionary = at === 0 ? undefined : data.subarray(Math.max(0, at - 32 * 1024), at);
    parts.push(new Uint8Array(deflateRawSync(chunk, { level: lvl, finishFlush: constants.Z_SYNC_FLUSH, ...(dictionary ? { dictionary } : {}) })));
  }
  parts.push(new Uint8Array([0x03, 0x00])); // final empty fixed-Huffman block
  const trailer = new Uint8Array(8);
  const view = new DataView(trailer.buffer);
  view.setUint32(0, crc32(data), true);
  view.setUint32(4, data.length >>> 0, true);
  parts.push(trailer);
  return concatBytes(parts);
}

let table: Uint32Array | undefined;

/** CRC-32 (IEEE, as gzip uses) of `data`. */
export function crc32(data: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
