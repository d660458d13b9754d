/**
 * Fetch each compressed span of a lazily read layer once: from a local copy when there is one,
 * else with one range request per run of missing spans, shared by every concurrent reader.
 * @module
 */
import { createHash } from 'node:crypto';
import { aborted, dataLoss, throwIfAborted } from '../errors/image-fs-error.js';
import { MemoryCache } from '../cache/memory-cache.js';
import { storageErrno } from '../cache/storage-error.js';
import { putEntry } from '../cache/write-entry.js';
import type { BlobCache } from '../cache/types.js';
import type { ReadAtSource, ReadOptions } from '../source/read-at.js';
import type { FetchPriority } from './fetch-priority.js';
import { compressedRangeKey, type SpanBounds } from './span-keys.js';

/** Counters of a {@link CompressedSpans}. */
export interface SpanFetchStats {
  /** Range requests made on the blob. */
  fetches: number;
  /** Compressed bytes fetched from the blob. */
  bytesFetched: number;
  /** Spans served from a local copy (memory, span entries, the whole blob in the store). */
  localHits: number;
  /** Local copies that failed their digest (dropped and fetched again). */
  corrupt: number;
}

/** Options of {@link CompressedSpans}. */
export interface CompressedSpansOptions {
  /** Verified spans kept in memory (bounded by the cache). Default: none. */
  memory?: BlobCache;
  /**
   * A persistent cache (a `DiskCache`): fetched spans are kept there under
   * `blob-range/<layer digest>/<start>-<end>`, and a whole blob stored under the layer digest is
   * read instead of the network.
   */
  store?: BlobCache;
  /** Shared by the layers of one image: foreground fetches make background work wait. */
  priority?: FetchPriority;
  /** Most compressed bytes fetched ahead of a sequential reader in one request. Default 0 (none). */
  readaheadMaxBytes?: number;
  /** Called when the store cannot keep a span (full disk, read-only): reads go on from the network. */
  onStoreError?: (error: unknown) => void;
  /** Called for every span a foreground read asks for (a startup profile records them). */
  onForeground?: (layerDigest: string, span: number) => void;
  /**
   * Called once for each span a foreground read needed that was not being fetched already: where
   * it came from (`memory`, `disk`: a span entry or the whole blob in the store, `network`) and
   * its compressed size. Background work and readahead are not reported.
   */
  onCache?: (event: SpanCacheEvent) => void;
}

/** One lookup of a span for a foreground read (see {@link CompressedSpansOptions.onCache}). */
export interface SpanCacheEvent {
  layerDigest: string;
  span: number;
  /** Where the verified bytes came from: a hit (`memory`, `disk`) or a miss (`network`). */
  from: 'memory' | 'disk' | 'network';
  /** Compressed bytes of the span. */
  bytes: number;
}

/** Options of one {@link CompressedSpans.spans} call. */
export interface SpanFetchOptions extends ReadOptions {
  /** Background work: no readahead, not counted as foreground, resolves once the store holds the spans. */
  background?: boolean;
  /**
   * With `background`: fetch in pieces that let foreground fetches go first while reads are
   * recent (see {@link BACKGROUND_PIECE}). For the background download, not for readahead.
   */
  yieldToForeground?: boolean;
}

const FATAL_STORE_CODES = new Set(['ENOSPC', 'EROFS', 'EACCES', 'EPERM', 'EDQUOT']);

/**
 * While foreground reads are recent (within {@link BACKGROUND_CALM_MS}), a background fetch asks
 * for its span in pieces of this many bytes and lets any foreground fetch go before each piece:
 * a foreground read then shares the link with at most one piece, not a whole span
 * (`bench/background-latency.ts`). When reads are quiet, a span is one request.
 */
export const BACKGROUND_PIECE = 256 * 1024;
/** See {@link BACKGROUND_PIECE}. */
export const BACKGROUND_CALM_MS = 5000;

/**
 * The verified compressed spans of one layer blob. A span is looked up, in order, in the whole
 * blob kept in the store, the memory cache and the store's span entries (copies read from disk are
 * checked against the span's sha256 from the index, a corrupt copy is deleted and fetched again;
 * a `MemoryCache` holds only spans verified in this process and is not hashed again), and otherwise
 * fetched: the missing spans of one call in one range request per contiguous run. A span being
 * fetched is shared by every caller that needs it (single flight), and stays shared until it is
 * kept in memory and in the store, so no span is ever fetched twice while a copy exists.
 * Sequential callers (a read of every file) get growing readahead, bounded by `readaheadMaxBytes`.
 *
 * @example
 * ```ts
 * const spans = new CompressedSpans(blob, layer.digest, bounds, (i) => index.spanDigest(i), { memory, store });
 * const [span3] = await spans.spans(3, 3);
 * ```
 */
export class CompressedSpans {
  /** Counters. */
  readonly stats: SpanFetchStats = { fetches: 0, bytesFetched: 0, localHits: 0, corrupt: 0 };
  private readonly inflight = new Map<number, Promise<Uint8Array>>();
  /** Spans a foreground read waits for while background work fetches them (see fetchInPieces). */
  private readonly urgent = new Set<number>();
  private readonly writes = new Set<Promise<void>>();
  private local: Promise<ReadAtSource | undefined> | undefined;
  private writable: boolean;
  private seqLast = -2;
  private streak = 0;
  private closed = false;

  /**
   * @param blob - the layer blob (registry or layout), of size `bounds.at(-1).end`.
   * @param layerDigest - the blob's digest (names its cache entries).
   * @param bounds - the spans (see `spanBounds`).
   * @param spanDigest - the trusted sha256 (32 bytes) of span `i`, from a verified index.
   */
  constructor(
    private readonly blob: ReadAtSource,
    readonly layerDigest: string,
    readonly bounds: readonly SpanBounds[],
    private readonly spanDigest: (i: number) => Uint8Array,
    private readonly options: CompressedSpansOptions = {},
  ) {
    this.writable = options.store !== undefined;
  }

  /** Number of spans. */
  get count(): number {
    return this.bounds.length;
  }

  /** The store, when there is one. */
  get store(): BlobCache | undefined {
    return this.options.store;
  }

  /** The trusted sha256 (32 bytes) of span `i` from the index. */
  spanDigestOf(i: number): Uint8Array {
    return this.spanDigest(i);
  }

  /** The cache key of span `i`. */
  key(i: number): string {
    const b = this.bounds[i]!;
    return compressedRangeKey(this.layerDigest, b.start, b.end);
  }

  /** False once the store refused a write (full disk, read-only): spans then live in memory only. */
  get storeWritable(): boolean {
    return this.writable;
  }

  /** Whether the whole blob is in the store (looked up once, then remembered). */
  async hasLocalBlob(): Promise<boolean> {
    return (await this.localBlob()) !== undefined;
  }

  /** Serves every later span from `source` (the whole verified blob, e.g. just downloaded). */
  useLocalBlob(source: ReadAtSource): void {
    const previous = this.local;
    this.local = Promise.resolve(source);
    void previous?.then((s) => (s !== source ? s?.close?.() : undefined)).catch(() => {});
  }

  /** True when span `i` has a copy in the store (its own entry or the whole blob). */
  async stored(i: number): Promise<boolean> {
    if ((await this.localBlob()) !== undefined) return true;
    return (await this.options.store?.has(this.key(i)).catch(() => false)) ?? false;
  }

  /**
   * The verified compressed bytes of spans `first..last`, one array per span.
   * @throws ImageError `DataLoss` when the network's bytes do not match the index; whatever the blob throws.
   */
  async spans(first: number, last: number, options: SpanFetchOptions = {}): Promise<Uint8Array[]> {
    throwIfAborted(options.signal);
    if (!options.background) {
      this.noteSequential(first, last);
      for (let i = first; i <= last && this.options.onForeground !== undefined; i++) this.options.onForeground(this.layerDigest, i);
    }
    const mine: number[] = [];
    const resolvers = new Map<number, { resolve(b: Uint8Array): void; reject(e: unknown): void }>();
    for (let i = first; i <= last; i++) {
      if (this.inflight.has(i)) {
        if (options.background !== true) this.urgent.add(i);
        continue;
      }
      const p = new Promise<Uint8Array>((resolve, reject) => resolvers.set(i, { resolve, reject }));
      p.catch(() => {});
      this.inflight.set(i, p);
      mine.push(i);
    }
    const work = mine.length === 0 ? Promise.resolve() : this.load(mine, resolvers, options.background === true, options.background === true && options.yieldToForeground === true);
    const all = Promise.all(Array.from({ length: last - first + 1 }, (_, k) => this.inflight.get(first + k)!));
    const result = await raceSignal(all, options.signal);
    if (options.background) await work;
    else if (this.streak >= 2) void this.readahead(last);
    return result;
  }

  /** Waits for the span writes running now (to the memory cache and the store). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.writes]);
  }

  /** Waits for spans still being written to the caches, then closes the local blob source, if any. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.writes]);
    this.closed = true;
    const local = await this.local?.catch(() => undefined);
    await local?.close?.();
  }

  private noteSequential(first: number, last: number): void {
    if (last <= this.seqLast) return; // inside what was already asked for
    this.streak = first <= this.seqLast + 1 && first >= this.seqLast - 1 ? this.streak + 1 : 0;
    this.seqLast = last;
  }

  /** Fetches the spans after `last` that a sequential reader will want next. */
  private async readahead(last: number): Promise<void> {
    const max = this.options.readaheadMaxBytes ?? 0;
    if (max <= 0 || this.closed) return;
    const spans = Math.min(2 ** Math.min(this.streak - 1, 10), this.count - 1 - last);
    let end = last;
    let bytes = 0;
    while (end - last < spans && end + 1 < this.count && !this.inflight.has(end + 1)) {
      const b = this.bounds[end + 1]!;
      if (bytes + (b.end - b.start) > max && end > last) break;
      bytes += b.end - b.start;
      end++;
    }
    if (end === last) return;
    await this.spans(last + 1, end, { background: true }).catch(() => {});
  }

  private async localBlob(): Promise<ReadAtSource | undefined> {
    const store = this.options.store;
    if (store === undefined) return undefined;
    this.local ??= store.get(this.layerDigest).then(
      (s) => (s === undefined || s.size === this.bounds.at(-1)!.end ? s : (void s.close?.(), undefined)),
      () => undefined,
    );
    return this.local;
  }

  /** Resolves the spans this call owns: local copies first, the rest fetched in runs. */
  private async load(mine: number[], resolvers: Map<number, { resolve(b: Uint8Array): void; reject(e: unknown): void }>, background: boolean, yieldToForeground: boolean): Promise<void> {
    const missing: number[] = [];
    const persisted: Promise<void>[] = [];
    await Promise.all(mine.map(async (i) => {
      const found = await this.lookup(i).catch(() => undefined);
      if (found === undefined) {
        missing.push(i);
        return;
      }
      this.stats.localHits++;
      if (!background) this.options.onCache?.({ layerDigest: this.layerDigest, span: i, from: found.from === 'memory' ? 'memory' : 'disk', bytes: found.bytes.length });
      resolvers.get(i)!.resolve(found.bytes);
      if (background && found.from === 'memory') persisted.push(this.keep(i, found.bytes, false));
      else this.inflight.delete(i);
    }));
    missing.sort((a, b) => a - b);
    const runs: number[][] = [];
    for (const i of missing) {
      const run = runs.at(-1);
      if (run !== undefined && run.at(-1) === i - 1) run.push(i);
      else runs.push([i]);
    }
    await Promise.all(runs.map(async (run) => {
      try {
        const parts = await this.fetchRun(run, background, yieldToForeground);
        run.forEach((i, k) => {
          if (!background) this.options.onCache?.({ layerDigest: this.layerDigest, span: i, from: 'network', bytes: parts[k]!.length });
          resolvers.get(i)!.resolve(parts[k]!);
          persisted.push(this.keep(i, parts[k]!, true));
        });
      } catch (error) {
        for (const i of run) {
          resolvers.get(i)!.reject(error);
          if (this.inflight.get(i) !== undefined) this.inflight.delete(i);
        }
      }
    }));
    await Promise.all(persisted);
  }

  /** A verified local copy of span `i`, or undefined. Corrupt copies are deleted. */
  private async lookup(i: number): Promise<{ bytes: Uint8Array; from: 'blob' | 'memory' | 'store' } | undefined> {
    const b = this.bounds[i]!;
    const local = await this.localBlob();
    if (local !== undefined) {
      const bytes = await local.readAt(b.start, b.end - b.start);
      if (this.verify(i, bytes)) return { bytes, from: 'blob' };
      this.stats.corrupt++;
      this.local = Promise.resolve(undefined);
      await local.close?.();
      await this.options.store?.delete(this.layerDigest).catch(() => {});
    }
    for (const [cache, from] of [[this.options.memory, 'memory'], [this.options.store, 'store']] as const) {
      if (cache === undefined) continue;
      const source = await cache.get(this.key(i)).catch(() => undefined);
      if (source === undefined) continue;
      try {
        const bytes = source.size === b.end - b.start ? await source.readAt(0, source.size) : undefined;
        if (bytes !== undefined && (this.trusted(cache) || this.verify(i, bytes))) return { bytes, from };
      } finally {
        await source.close?.();
      }
      this.stats.corrupt++;
      await cache.delete(this.key(i)).catch(() => {});
    }
    // The background download may have joined the layer meanwhile (useLocalBlob, then the span
    // entries deleted): the span is in the blob now, not to be fetched (and stored) again.
    if (local === undefined && (await this.localBlob()) !== undefined) return this.lookup(i);
    return undefined;
  }

  private async fetchRun(run: number[], background: boolean, yieldToForeground: boolean): Promise<Uint8Array[]> {
    const start = this.bounds[run[0]!]!.start;
    const end = this.bounds[run.at(-1)!]!.end;
    let bytes: Uint8Array;
    if (yieldToForeground) {
      bytes = await this.fetchInPieces(start, end, run);
    } else {
      const done = background ? undefined : this.options.priority?.begin();
      try {
        bytes = await this.blob.readAt(start, end - start);
      } finally {
        done?.();
      }
      this.stats.fetches++;
    }
    this.stats.bytesFetched += end - start;
    return run.map((i) => {
      const b = this.bounds[i]!;
      const part = bytes.subarray(b.start - start, b.end - start);
      if (!this.verify(i, part)) {
        throw dataLoss(`compressed span ${i} (bytes ${b.start}-${b.end - 1}) of ${this.layerDigest} does not match its digest in the index`, {
          subject: this.layerDigest,
          hint: 'the blob or its index is corrupt: fetch the layer again or rebuild the index',
        });
      }
      return part;
    });
  }

  /**
   * Background bytes `[start, end)` of the spans `run`: one request, or pieces of
   * {@link BACKGROUND_PIECE} with the foreground served first between them while foreground reads
   * are recent. Once a foreground read waits for one of these spans (a startup profile points the
   * download at what the application reads next), the rest comes in one request.
   */
  private async fetchInPieces(start: number, end: number, run: readonly number[]): Promise<Uint8Array> {
    const priority = this.options.priority;
    if (priority === undefined || end - start <= BACKGROUND_PIECE || priority.sinceForeground() > BACKGROUND_CALM_MS) {
      this.stats.fetches++;
      return this.blob.readAt(start, end - start);
    }
    const out = new Uint8Array(end - start);
    try {
      for (let at = start; at < end;) {
        const wanted = run.some((i) => this.urgent.has(i));
        if (!wanted) await priority.idle();
        const n = wanted ? end - at : Math.min(BACKGROUND_PIECE, end - at);
        this.stats.fetches++;
        const piece = await this.blob.readAt(at, n);
        if (piece.length !== n) throw dataLoss(`a range read of ${this.layerDigest} returned ${piece.length} bytes, not ${n}`, { subject: this.layerDigest, hint: 'the registry or the network cut the answer short; try again' });
        out.set(piece, at - start);
        at += n;
      }
    } finally {
      for (const i of run) this.urgent.delete(i);
    }
    return out;
  }

  /** Keeps a fetched, verified span in memory and in the store; then forgets the flight. */
  private keep(i: number, bytes: Uint8Array, toMemory: boolean): Promise<void> {
    const write = this.write(i, bytes, toMemory);
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
    return write;
  }

  /**
   * Writes a span verified in this process. The bytes are not hashed again on the way in: a
   * `MemoryCache` keeps them as they are, and the store's copy is verified whenever it is read
   * back (by this or another process), which also catches what the disk may do to it later.
   */
  private async write(i: number, bytes: Uint8Array, toMemory: boolean): Promise<void> {
    const put = (cache: BlobCache): Promise<void> => putEntry(cache, this.key(i), bytes, { expectedSize: bytes.length });
    try {
      // Once the whole blob is local (joined), a span is not stored again: the join deletes the
      // span entries after the writes already running (settled()), and none may come after.
      const joined = (await this.local?.catch(() => undefined)) !== undefined;
      await Promise.all([
        !toMemory || this.options.memory === undefined ? undefined : put(this.options.memory).catch(() => {}),
        !this.writable || this.closed || joined ? undefined : put(this.options.store!).catch((error: unknown) => {
          if (FATAL_STORE_CODES.has(storageErrno(error) ?? '')) this.writable = false;
          this.options.onStoreError?.(error);
        }),
      ]);
    } finally {
      this.inflight.delete(i);
      this.urgent.delete(i);
    }
  }

  /** A process-private memory cache only ever holds spans verified before they were put. */
  private trusted(cache: BlobCache): boolean {
    return cache === this.options.memory && cache instanceof MemoryCache;
  }

  private verify(i: number, bytes: Uint8Array): boolean {
    return createHash('sha256').update(bytes).digest().equals(this.spanDigest(i));
  }
}

/** Waits for `promise`, rejecting with `Aborted` as soon as `signal` fires. */
async function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  throwIfAborted(signal);
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => {
      onAbort = () => reject(aborted(signal));
      signal.addEventListener('abort', onAbort, { once: true });
    })]);
  } finally {
    signal.removeEventListener('abort', onAbort!);
  }
}
