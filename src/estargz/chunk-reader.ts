/**
 * Random access to an eStargz layer's virtual uncompressed stream: each read becomes the chunks
 * it overlaps, fetched as few coalesced compressed ranges, inflated, verified, sliced.
 * @module
 */
import { createHash } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import { LRUCache } from 'lru-cache';
import { dataLoss, throwIfAborted } from '../errors/image-fs-error.js';
import { checkRange, type ReadAtSource, type ReadOptions } from '../source/read-at.js';
import type { EstargzChunk } from './toc-entries.js';


/** Counters of an {@link EstargzChunkReader}. */
export interface EstargzReaderStats {
  /** Range reads made on the blob. */
  fetches: number;
  /** Compressed bytes fetched. */
  bytesFetched: number;
  /** Chunks inflated and verified. */
  chunksVerified: number;
}

/** Options of {@link EstargzChunkReader}. */
export interface EstargzChunkReaderOptions {
  /** Names the layer in errors. */
  subject: string;
  /** Bytes of verified chunks kept in memory for the next reads. Default 8 MiB; 0 keeps none. */
  cacheBytes?: number;
  /**
   * Decompresses one chunk's compressed bytes. Only the first `size` bytes of the output are used
   * (the chunk): an implementation must not produce much more (a member from the registry is
   * unverified until its output is, and may be a decompression bomb). Default: gunzip (node:zlib)
   * stopped once `size` bytes are out, for eStargz members.
   */
  inflate?: (compressed: Uint8Array, size: number) => Promise<Uint8Array>;
  /** Names the format in errors. Default `eStargz`. */
  format?: string;
}

/**
 * A {@link ReadAtSource} over the virtual stream of an eStargz layer (regular files' contents end
 * to end, in TOC order). A read fetches the compressed members of the chunks it overlaps, adjacent
 * members coalesced into one range read, inflates each member with node:zlib and checks the
 * chunk's sha256 against the TOC before any byte is returned (`DataLoss` otherwise).
 */
export class EstargzChunkReader implements ReadAtSource {
  readonly size: number;
  /** Fetches and bytes so far. */
  readonly stats: EstargzReaderStats = { fetches: 0, bytesFetched: 0, chunksVerified: 0 };
  private readonly cache: LRUCache<number, Uint8Array> | undefined;
  private readonly subject: string;
  private readonly inflate: (compressed: Uint8Array, size: number) => Promise<Uint8Array>;
  private readonly format: string;

  /**
   * @param chunks - the chunk table, ordered by virtual offset, contiguous from 0.
   * @param size - the virtual stream's size.
   * @param blob - the compressed blob (owned: `close()` closes it).
   */
  constructor(private readonly chunks: readonly EstargzChunk[], size: number, private readonly blob: ReadAtSource, options: EstargzChunkReaderOptions) {
    this.size = size;
    this.subject = options.subject;
    this.inflate = options.inflate ?? gunzipPrefix;
    this.format = options.format ?? 'eStargz';
    const cacheBytes = options.cacheBytes ?? 8 * 1024 * 1024;
    this.cache = cacheBytes > 0 ? new LRUCache<number, Uint8Array>({ maxSize: cacheBytes, sizeCalculation: (v) => Math.max(1, v.length) }) : undefined;
  }

  /** Index of the chunk holding virtual offset `at`. */
  private chunkAt(at: number): number {
    let lo = 0;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.chunks[mid]!.virtualOffset <= at) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Reads virtual bytes [offset, offset + length): the overlapping chunks, fetched, inflated and verified. */
  async readAt(offset: number, length: number, options: ReadOptions = {}): Promise<Uint8Array> {
    throwIfAborted(options.signal);
    checkRange(this.size, offset, length);
    const out = new Uint8Array(length);
    if (length === 0) return out;
    const first = this.chunkAt(offset);
    const last = this.chunkAt(offset + length - 1);
    const wanted: number[] = [];
    const ready = new Map<number, Uint8Array>();
    for (let i = first; i <= last; i++) {
      const hit = this.cache?.get(i);
      if (hit !== undefined) ready.set(i, hit);
      else wanted.push(i);
    }
    // Coalesce chunks whose members are adjacent in the blob into one range read.
    const groups: number[][] = [];
    for (const i of [...wanted].sort((a, b) => this.chunks[a]!.memberStart - this.chunks[b]!.memberStart)) {
      const group = groups[groups.length - 1];
      const prev = group === undefined ? undefined : this.chunks[group[group.length - 1]!]!;
      if (group !== undefined && prev !== undefined && prev.memberEnd === this.chunks[i]!.memberStart) group.push(i);
      else groups.push([i]);
    }
    await Promise.all(groups.map(async (group) => {
      const start = this.chunks[group[0]!]!.memberStart;
      const end = this.chunks[group[group.length - 1]!]!.memberEnd;
      const bytes = await this.blob.readAt(start, end - start, options);
      this.stats.fetches++;
      this.stats.bytesFetched += bytes.length;
      await Promise.all(group.map(async (i) => {
        const c = this.chunks[i]!;
        ready.set(i, await this.verify(i, bytes.subarray(c.memberStart - start, c.memberEnd - start)));
      }));
    }));
    for (let i = first; i <= last; i++) {
      const c = this.chunks[i]!;
      const data = ready.get(i)!;
      const from = Math.max(offset, c.virtualOffset);
      const to = Math.min(offset + length, c.virtualOffset + c.size);
      out.set(data.subarray(from - c.virtualOffset, to - c.virtualOffset), from - offset);
    }
    return out;
  }

  /** Inflates one chunk's member(s) and checks the chunk digest; caches the verified bytes. */
  private async verify(index: number, compressed: Uint8Array): Promise<Uint8Array> {
    const c = this.chunks[index]!;
    const where = `chunk ${index} (compressed bytes ${c.memberStart}-${c.memberEnd})`;
    const hint = 'the blob in the registry is corrupt; push the image again';
    let inflated: Uint8Array;
    try {
      inflated = await this.inflate(compressed, c.size);
    } catch (cause) {
      throw dataLoss(`${this.format} ${where} does not inflate: ${(cause as Error).message}`, { subject: this.subject, cause, hint });
    }
    if (inflated.length < c.size) throw dataLoss(`${this.format} ${where} inflates to ${inflated.length} bytes, fewer than its ${c.size}`, { subject: this.subject, hint });
    const data = inflated.subarray(0, c.size);
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    if (digest !== c.digest) throw dataLoss(`${this.format} ${where} has digest ${digest}, but the TOC says ${c.digest}`, { subject: this.subject, hint });
    this.stats.chunksVerified++;
    const copy = data.length === inflated.length ? data : data.slice();
    this.cache?.set(index, copy);
    return copy;
  }

  /** Drops the cached chunks and closes the blob. */
  async close(): Promise<void> {
    this.cache?.clear();
    await this.blob.close?.();
  }
}

/**
 * The first `size` bytes (or fewer, when the stream ends first) of gzip members `compressed`:
 * inflation stops once they are out, so a member that inflates to far more (a bomb, or a member
 * that goes on with the next entries' headers) costs at most one output chunk more.
 */
export function gunzipPrefix(compressed: Uint8Array, size: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const gunzip = createGunzip();
    const chunks: Buffer[] = [];
    let n = 0;
    let settled = false;
    const done = (): void => {
      if (settled) return;
      settled = true;
      const all = Buffer.concat(chunks, n);
      resolve(new Uint8Array(all.buffer, all.byteOffset, all.length));
    };
    gunzip.on('data', (chunk: Buffer) => {
      if (settled) return;
      chunks.push(chunk);
      n += chunk.length;
      if (n >= size) {
        done();
        gunzip.destroy();
      }
    });
    gunzip.on('end', done);
    gunzip.on('error', (error) => {
      if (settled) return;
      settled = true;
      reject(error);
    });
    gunzip.end(compressed);
  });
}
