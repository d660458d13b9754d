import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import pLimit, { type LimitFunction } from 'p-limit';
import { Agent, type Dispatcher } from 'undici';
import { aborted, ImageFsError, throwIfAborted } from '../errors/image-fs-error.js';
import { RegistryError } from '../errors/registry-error.js';
import type { Authenticator, AuthTarget } from './authenticator.js';
import { discard, drain, readText } from './body.js';
import { errorFromNetwork, errorFromResponse, isRetryableStatus, MAX_ERROR_BODY } from './error-map.js';
import type { RegistryEvent, ResolvedClientOptions } from './options.js';
import { redactUrl } from './redact.js';
import { backoffDelay, isRetryableNetworkError, parseRetryAfter, sleep, type RetryPolicy } from './retry.js';

/** A place requests go to: a registry or one of its mirrors. */
export interface Endpoint extends AuthTarget {
  /** The base URL (`http(s)://HOST[:PORT][/PREFIX]`), no trailing slash. */
  base: string;
}

/** A response handed to a handler. The handler must consume or discard `body`. */
export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Readable;
  /** The final URL (after redirects), redacted. */
  url: string;
}

/** One logical call: retried, authenticated and redirected as a whole. */
export interface CallOptions {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  endpoint: Endpoint;
  /** `/v2/...` under the endpoint, or an absolute URL on the endpoint's origin (an upload location). */
  path: string;
  /** The token scope, for instance `repository:library/alpine:pull`. */
  scope: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** For messages: `fetching manifest X`. */
  what: string;
  signal?: AbortSignal | undefined;
  /** Statuses given to the handler instead of becoming errors (2xx always are). */
  pass?: number[];
}

/** Counters of what the transport sent, for measurements and tests. */
export interface TransportStats {
  /** HTTP requests sent (every attempt, redirect hop and token request). */
  requests: number;
  /** Attempts repeated after a retryable failure. */
  retries: number;
  /** Redirects followed. */
  redirects: number;
}

type Attempt<T> =
  | { kind: 'done'; value: T }
  | { kind: 'unauthorized'; challenge: string | string[] | undefined; text: string; status: number; url: string }
  | { kind: 'retry'; status: number; retryAfterMs: number | undefined; text: string; url: string };

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

/**
 * The HTTP layer of the registry client: keep-alive pools (one undici Agent), a concurrency bound
 * per host, manual redirects (Range kept, Authorization dropped across origins), authentication
 * with one re-challenge after a 401, and retries with exponential backoff and jitter for
 * connection errors, 5xx and 429 (honouring Retry-After), bounded in count and total time.
 */
export class Transport {
  /** What was sent so far. */
  readonly stats: TransportStats = { requests: 0, retries: 0, redirects: 0 };
  private readonly dispatcher: Dispatcher;
  private readonly ownDispatcher: boolean;
  private readonly limits = new Map<string, LimitFunction>();
  private readonly policy: RetryPolicy;

  constructor(private readonly options: ResolvedClientOptions, private readonly auth: Authenticator) {
    this.ownDispatcher = options.dispatcher === undefined;
    this.dispatcher = options.dispatcher ?? new Agent({
      connections: options.connectionsPerOrigin,
      connect: { timeout: options.connectTimeoutMs },
      headersTimeout: options.idleTimeoutMs,
      bodyTimeout: options.idleTimeoutMs,
      keepAliveTimeout: 30_000,
    });
    this.policy = {
      retries: options.retries, baseDelayMs: options.retryBaseDelayMs, maxDelayMs: options.retryMaxDelayMs, budgetMs: options.retryBudgetMs,
    };
  }

  /** Emits an event to the user's listener; a throwing listener is ignored. */
  emit(event: RegistryEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // a listener must not break a pull
    }
  }

  private limit(host: string): LimitFunction {
    let l = this.limits.get(host);
    if (!l) {
      l = pLimit(this.options.maxConcurrentPerHost);
      this.limits.set(host, l);
    }
    return l;
  }

  /** Sends one request without auth or retries and returns status and text (token realms). */
  async simple(req: { method: 'GET' | 'POST'; url: string; headers: Record<string, string>; body?: string; signal?: AbortSignal }): Promise<{ status: number; text: string }> {
    const what = 'requesting a token';
    const url = new URL(req.url);
    const outcome = await this.retrying<{ status: number; text: string }>(what, redactUrl(url), req.signal, async () => {
      const res = await this.send(req.method, url, { 'user-agent': this.options.userAgent, ...req.headers }, req.body, req.signal);
      const text = await readText(res.body, MAX_ERROR_BODY);
      if (isRetryableStatus(res.statusCode)) return { kind: 'retry', status: res.statusCode, retryAfterMs: parseRetryAfter(res.headers['retry-after']), text, url: redactUrl(url) };
      return { kind: 'done', value: { status: res.statusCode, text } };
    });
    if (outcome.kind !== 'done') throw new RegistryError('Unavailable', `${what} failed`, { url: redactUrl(url) });
    return outcome.value;
  }

  /** Runs one logical call; `handle` receives the final successful (or passed) response. */
  async call<T>(opts: CallOptions, handle: (res: HttpResponse) => Promise<T>): Promise<T> {
    const url = new URL(opts.path.startsWith('http') ? opts.path : `${opts.endpoint.base}${opts.path}`);
    const shown = redactUrl(url);
    // Credentials go only to the endpoint's own origin (an upload Location could name another).
    const sameOrigin = url.origin === new URL(opts.endpoint.base).origin;
    let authorization = sameOrigin ? await this.auth.authorize(opts.endpoint, opts.scope, opts.signal) : undefined;
    let reauthorized = false;
    for (;;) {
      const outcome = await this.retrying(opts.what, shown, opts.signal, () => this.limit(url.host)(() => this.attempt(opts, url, shown, authorization, handle)));
      if (outcome.kind === 'done') return outcome.value;
      // 401: challenge once, then give up.
      const next = reauthorized || !sameOrigin ? undefined : await this.auth.challenge(opts.endpoint, opts.scope, outcome.challenge, authorization, opts.signal);
      if (next === undefined) throw errorFromResponse(outcome.status, outcome.text, { what: opts.what, url: outcome.url });
      authorization = next;
      reauthorized = true;
    }
  }

  /** Repeats `once` while it asks for a retry or fails with a retryable network error. */
  private async retrying<T>(what: string, shown: string, signal: AbortSignal | undefined, once: () => Promise<Attempt<T>>): Promise<Exclude<Attempt<T>, { kind: 'retry' }>> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      throwIfAborted(signal);
      let delay: number;
      let reason: string;
      let final: () => Error;
      try {
        const outcome = await once();
        if (outcome.kind !== 'retry') return outcome;
        delay = backoffDelay(this.policy, attempt, outcome.retryAfterMs);
        reason = `HTTP ${outcome.status}`;
        final = () => errorFromResponse(outcome.status, outcome.text, { what, url: outcome.url });
      } catch (e) {
        if (signal?.aborted) throw aborted(signal);
        if (ImageFsError.is(e) || !isRetryableNetworkError(e)) throw e instanceof Error && !ImageFsError.is(e) ? errorFromNetwork(e, { what, url: shown }, attempt) : e;
        delay = backoffDelay(this.policy, attempt);
        reason = (e as { code?: string }).code ?? (e as Error).message;
        final = () => errorFromNetwork(e, { what, url: shown }, attempt);
      }
      if (attempt > this.policy.retries || Date.now() - started + delay > this.policy.budgetMs) throw final();
      this.stats.retries++;
      this.emit({ type: 'retry', what, url: shown, attempt, delayMs: delay, reason });
      await sleep(delay, signal);
    }
  }

  private async send(method: string, url: URL, headers: Record<string, string>, body: Uint8Array | string | undefined, signal: AbortSignal | undefined): Promise<Dispatcher.ResponseData> {
    this.stats.requests++;
    const t0 = Date.now();
    const res = await this.dispatcher.request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: method as Dispatcher.HttpMethod,
      headers,
      body: body ?? null,
      signal: signal ?? null,
    });
    if (this.options.onEvent) this.emit({ type: 'request', method, url: redactUrl(url), status: res.statusCode, ms: Date.now() - t0 });
    return res;
  }

  /** One attempt: sends, follows redirects by hand, and classifies the answer. */
  private async attempt<T>(opts: CallOptions, start: URL, startShown: string, authorization: string | undefined, handle: (res: HttpResponse) => Promise<T>): Promise<Attempt<T>> {
    throwIfAborted(opts.signal);
    let url = start;
    let method: string = opts.method;
    let body = opts.body;
    const headers: Record<string, string> = { 'user-agent': this.options.userAgent, ...opts.headers };
    if (authorization !== undefined) headers.authorization = authorization;
    for (let hop = 0; ; hop++) {
      const res = await this.send(method, url, headers, body, opts.signal);
      const status = res.statusCode;
      const shown = url === start ? startShown : redactUrl(url);
      if (REDIRECTS.has(status) && res.headers.location !== undefined && hop < MAX_REDIRECTS) {
        await drain(res.body);
        const next = new URL(String(res.headers.location), url);
        const crossOrigin = next.origin !== url.origin;
        // Credentials are for the registry: never forward them to another origin (storage, CDN).
        if (crossOrigin) delete headers.authorization;
        if (status === 303 && method !== 'HEAD') {
          method = 'GET';
          body = undefined;
        }
        this.stats.redirects++;
        this.emit({ type: 'redirect', from: shown, to: redactUrl(next), crossOrigin });
        url = next;
        continue;
      }
      if ((status >= 200 && status < 300) || opts.pass?.includes(status)) {
        try {
          return { kind: 'done', value: await handle({ status, headers: res.headers, body: res.body, url: shown }) };
        } finally {
          discard(res.body);
        }
      }
      if (status === 416) {
        discard(res.body);
        throw new RegistryError('InvalidArgument', `${opts.what} failed: the registry answered 416 (range not satisfiable, ${String(res.headers['content-range'] ?? 'no Content-Range')})`, { status, url: shown });
      }
      const text = await readText(res.body, MAX_ERROR_BODY);
      if (status === 401 && url.origin === start.origin) {
        return { kind: 'unauthorized', challenge: res.headers['www-authenticate'], text, status, url: shown };
      }
      if (isRetryableStatus(status)) {
        return { kind: 'retry', status, retryAfterMs: parseRetryAfter(res.headers['retry-after']), text, url: shown };
      }
      throw errorFromResponse(status, text, { what: opts.what, url: shown });
    }
  }

  /** Closes the keep-alive pools (only the client's own Agent). */
  async close(): Promise<void> {
    if (this.ownDispatcher) await this.dispatcher.close();
  }
}

