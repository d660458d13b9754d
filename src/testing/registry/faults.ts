/** The kind of registry request, from its path: what a fault's `match` can name. */
export type RequestKind = 'base' | 'manifest' | 'blob' | 'upload' | 'tags' | 'other';

/** A request as fault matchers see it. */
export interface ProxiedRequest {
  /** The HTTP method. */
  method: string;
  /** The path with the query. */
  path: string;
  /** The kind, from the path. */
  kind: RequestKind;
  /** The request headers (lower-case names). */
  headers: Record<string, string | string[] | undefined>;
}

/**
 * Which requests a fault applies to: `any` (the default), a {@link RequestKind}, a method and/or a
 * path (substring or RegExp, tested against path + query), or a predicate.
 */
export type RequestMatcher =
  | 'any'
  | RequestKind
  | {
      /** The method, e.g. `GET` (case-insensitive). */
      method?: string;
      /** A substring of, or a RegExp tested against, the path with its query. */
      path?: string | RegExp;
    }
  | ((request: ProxiedRequest) => boolean);

/** Bounds shared by every fault: which requests, how many, for how long. */
export interface FaultScope {
  /** The requests it applies to. Default `any`. */
  match?: RequestMatcher;
  /** Applies to the next N matching requests only. Default: unlimited. */
  count?: number;
  /** Applies only during this many ms after `setFaults`. Default: unlimited. */
  forMs?: number;
}

/**
 * The faults a {@link FaultProxy} injects; each is optional, independently bounded, and any
 * combination can be active. Body faults (`bandwidth`, `resetAfter`, `shortBody`, `wrongBytes`) only
 * apply to, and only count, 2xx answers with a body; `ignoreRange` only counts requests with a
 * `Range` header. A status fault answers without contacting the registry; `tooManyRequests` wins
 * over `serverError` when both match.
 */
export interface Faults {
  /** Waits `ms` before forwarding the request. */
  latency?: FaultScope & {
    /** The delay, ms. */
    ms: number;
  };
  /** Sends the response body at most `bytesPerSecond` (and never faster on average). */
  bandwidth?: FaultScope & {
    /** The cap, bytes per second. */
    bytesPerSecond: number;
  };
  /** Answers 429 `TOOMANYREQUESTS` with `Retry-After` (seconds or an HTTP date; default `1`). */
  tooManyRequests?: FaultScope & {
    /** The `Retry-After` value: seconds or an HTTP date. Default `1`. */
    retryAfter?: number | string;
  };
  /** Answers `status` (default 503) with a registry error body. */
  serverError?: FaultScope & {
    /** The status. Default 503. */
    status?: number;
  };
  /** Sends `bytes` bytes of the body, then resets the connection (TCP RST). */
  resetAfter?: FaultScope & {
    /** Body bytes sent before the reset. */
    bytes: number;
  };
  /** Sends `bytes` bytes of the body, then closes the connection normally: shorter than its Content-Length. */
  shortBody?: FaultScope & {
    /** Body bytes sent before the close. */
    bytes: number;
  };
  /** Drops `Range` / `If-Range` from the request, so the registry answers 200 with the whole blob. */
  ignoreRange?: FaultScope;
  /** Flips (XOR 0xff) the body bytes at these offsets of the response body. Default `[0]`. */
  wrongBytes?: FaultScope & {
    /** Offsets in the response body. Default `[0]`. */
    offsets?: number[];
  };
}

/** The name of one fault. */
export type FaultName = keyof Faults;

/** Every fault name, in the order the proxy considers them. */
export const FAULT_NAMES: readonly FaultName[] = [
  'latency', 'tooManyRequests', 'serverError', 'ignoreRange', 'bandwidth', 'resetAfter', 'shortBody', 'wrongBytes',
];

/**
 * The kind of a registry request path.
 *
 * @example
 * ```ts
 * requestKind('/v2/a/b/blobs/sha256:00'); // 'blob'
 * ```
 */
export function requestKind(path: string): RequestKind {
  const p = path.split('?')[0] ?? '';
  if (p === '/v2/' || p === '/v2') return 'base';
  if (/^\/v2\/.+\/blobs\/uploads(\/|$)/.test(p)) return 'upload';
  if (/^\/v2\/.+\/blobs\/[^/]+$/.test(p)) return 'blob';
  if (/^\/v2\/.+\/manifests\/[^/]+$/.test(p)) return 'manifest';
  if (/^\/v2\/.+\/tags\/list$/.test(p)) return 'tags';
  return 'other';
}

/**
 * True when `request` is one `matcher` names.
 *
 * @example
 * ```ts
 * matches({ method: 'GET' }, req);
 * ```
 */
export function matches(matcher: RequestMatcher | undefined, request: ProxiedRequest): boolean {
  if (matcher === undefined || matcher === 'any') return true;
  if (typeof matcher === 'string') return request.kind === matcher;
  if (typeof matcher === 'function') return matcher(request);
  if (matcher.method !== undefined && matcher.method.toUpperCase() !== request.method) return false;
  if (matcher.path === undefined) return true;
  return typeof matcher.path === 'string' ? request.path.includes(matcher.path) : matcher.path.test(request.path);
}

/**
 * The active faults and their remaining budgets. `take` consumes one use of a fault for a request
 * when it applies and counts it in `injected`.
 */
export class FaultState {
  private faults: Faults = {};
  private remaining = new Map<FaultName, number>();
  private setAt = 0;
  /** How many times each fault was injected since the last reset. */
  readonly injected: Record<FaultName, number> = emptyCounts();

  /** Replaces every fault (budgets and time windows restart now). */
  set(faults: Faults): void {
    this.faults = { ...faults };
    this.remaining = new Map(FAULT_NAMES.map((n) => [n, faults[n]?.count ?? Number.POSITIVE_INFINITY]));
    this.setAt = Date.now();
  }

  /** Clears faults and the `injected` counts. */
  reset(): void {
    this.set({});
    for (const n of FAULT_NAMES) this.injected[n] = 0;
  }

  /** The fault `name` if it applies to `request` now, consuming one use; else undefined. */
  take<N extends FaultName>(name: N, request: ProxiedRequest): Faults[N] | undefined {
    const fault = this.faults[name];
    if (fault === undefined) return undefined;
    if ((this.remaining.get(name) ?? 0) <= 0) return undefined;
    if (fault.forMs !== undefined && Date.now() - this.setAt > fault.forMs) return undefined;
    if (!matches(fault.match, request)) return undefined;
    this.remaining.set(name, (this.remaining.get(name) ?? 0) - 1);
    this.injected[name]++;
    return fault;
  }
}

/** A zeroed per-fault counter record. */
export function emptyCounts(): Record<FaultName, number> {
  return Object.fromEntries(FAULT_NAMES.map((n) => [n, 0])) as Record<FaultName, number>;
}
