/** A byte range resolved against a resource size: `start` and `end` are inclusive. */
export interface ResolvedRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

/**
 * Resolves a `Range` header against a resource of `size` bytes, the way distribution does for a
 * single range: `bytes=A-B` (B clamped to the end), `bytes=A-` (open) and `bytes=-N` (suffix).
 *
 * Returns `undefined` when there is no usable single range (no header, another unit, several
 * ranges, a malformed value): the caller then answers 200 with the whole resource. Returns
 * `'unsatisfiable'` when the range starts beyond the end (answer 416 with `bytes * /SIZE`).
 *
 * @example
 * ```ts
 * parseRange('bytes=-10', 100); // { start: 90, end: 99 }
 * parseRange('bytes=100-', 100); // 'unsatisfiable'
 * ```
 */
export function parseRange(header: string | undefined, size: number): ResolvedRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (m === null) return undefined;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (b !== '' && Number(b) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}
