import { aborted, throwIfAborted } from '../errors/image-fs-error.js';

/** Fetches bytes [start, end) of a resource; must resolve to exactly `end - start` bytes. */
export type RangeFetch = (start: number, end: number, signal: AbortSignal) => Promise<Uint8Array>;

/** Options of a {@link RangeCoalescer}. */
export interface CoalescerOptions {
  /** Pending reads closer than this many bytes share one request (0: only adjacent ones). */
  mergeGapBytes: number;
  /** The largest merged request, in bytes (a single larger read is still one request). */
  maxMergedBytes: number;
}

interface Group {
  start: number;
  end: number;
  waiters: number;
  controller: AbortController;
  spans: Span[];
  done: boolean;
}

interface Span {
  start: number;
  end: number;
  waiters: number;
  promise: Promise<Uint8Array>;
  resolve(bytes: Uint8Array): void;
  reject(error: unknown): void;
  group: Group | undefined;
}

/**
 * Turns concurrent `read` calls into few range requests. Reads of the same or overlapping bytes
 * share one request (single flight): a read asks only for the bytes no other pending or running
 * request already covers. Reads queued in the same turn of the event loop that are adjacent (or
 * closer than `mergeGapBytes`) are merged into one request up to `maxMergedBytes`. A request whose
 * every reader has aborted is aborted too.
 */
export class RangeCoalescer {
  private spans: Span[] = [];
  private pending: Span[] = [];
  private scheduled = false;

  constructor(private readonly fetch: RangeFetch, private readonly options: CoalescerOptions) {}

  /** Reads bytes [offset, offset + length) (the caller has checked the range). */
  async read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    throwIfAborted(signal);
    if (length === 0) return new Uint8Array(0);
    const end = offset + length;
    const pieces = this.cover(offset, end);
    for (const p of pieces) this.join(p.span, 1);
    let onAbort: (() => void) | undefined;
    try {
      const all = Promise.all(pieces.map((p) => p.span.promise));
      const parts = signal
        ? await new Promise<Uint8Array[]>((resolve, reject) => {
          onAbort = () => reject(aborted(signal));
          signal.addEventListener('abort', onAbort, { once: true });
          all.then(resolve, reject);
        })
        : await all;
      if (parts.length === 1) {
        const s = pieces[0]!.span;
        return parts[0]!.subarray(offset - s.start, end - s.start);
      }
      const out = new Uint8Array(length);
      pieces.forEach((p, i) => {
        const from = Math.max(offset, p.span.start);
        const to = Math.min(end, p.span.end);
        out.set(parts[i]!.subarray(from - p.span.start, to - p.span.start), from - offset);
      });
      return out;
    } finally {
      if (onAbort) signal!.removeEventListener('abort', onAbort);
      for (const p of pieces) this.join(p.span, -1);
    }
  }

  /** The spans that cover [start, end): existing ones where they overlap, new ones in the gaps. */
  private cover(start: number, end: number): Array<{ span: Span }> {
    const overlapping = this.spans.filter((s) => s.start < end && s.end > start).sort((a, b) => a.start - b.start);
    const out: Array<{ span: Span }> = [];
    let pos = start;
    for (const s of overlapping) {
      if (s.start > pos) out.push({ span: this.add(pos, s.start) });
      out.push({ span: s });
      pos = s.end;
    }
    if (pos < end) out.push({ span: this.add(pos, end) });
    return out;
  }

  private add(start: number, end: number): Span {
    let resolve!: (b: Uint8Array) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<Uint8Array>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => { /* readers handle it; an abandoned span must not be unhandled */ });
    const span: Span = { start, end, waiters: 0, promise, resolve, reject, group: undefined };
    this.spans.push(span);
    this.pending.push(span);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return span;
  }

  private join(span: Span, delta: number): void {
    span.waiters += delta;
    const g = span.group;
    if (g) {
      g.waiters += delta;
      if (g.waiters === 0 && delta < 0 && !g.done) {
        // Nobody waits for this request any more: stop it and forget its spans.
        this.forget(g.spans);
        g.done = true;
        g.controller.abort();
      }
    } else if (span.waiters === 0 && delta < 0) {
      this.forget([span]);
      this.pending = this.pending.filter((s) => s !== span);
      span.reject(new Error('abandoned'));
    }
  }

  private forget(spans: Span[]): void {
    this.spans = this.spans.filter((s) => !spans.includes(s));
  }

  private flush(): void {
    this.scheduled = false;
    const queue = this.pending.sort((a, b) => a.start - b.start);
    this.pending = [];
    let group: Group | undefined;
    const groups: Group[] = [];
    for (const span of queue) {
      if (group && span.start - group.end <= this.options.mergeGapBytes && span.start >= group.end && span.end - group.start <= this.options.maxMergedBytes) {
        group.end = span.end;
        group.spans.push(span);
        group.waiters += span.waiters;
      } else {
        group = { start: span.start, end: span.end, waiters: span.waiters, controller: new AbortController(), spans: [span], done: false };
        groups.push(group);
      }
      span.group = group;
    }
    for (const g of groups) this.run(g);
  }

  private run(g: Group): void {
    this.fetch(g.start, g.end, g.controller.signal).then(
      (bytes) => {
        g.done = true;
        this.forget(g.spans);
        if (bytes.length !== g.end - g.start) {
          const e = new Error(`range fetch returned ${bytes.length} bytes for ${g.end - g.start}`);
          for (const s of g.spans) s.reject(e);
          return;
        }
        for (const s of g.spans) s.resolve(bytes.subarray(s.start - g.start, s.end - g.start));
      },
      (error: unknown) => {
        g.done = true;
        this.forget(g.spans);
        for (const s of g.spans) s.reject(error);
      },
    );
  }
}
