import { Agent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { sendBody, type BodyPlan } from './fault-body.js';
import { FaultState, requestKind, type FaultName, type Faults, type ProxiedRequest, type RequestKind } from './faults.js';
import { listenLocal } from './local-server.js';

/** Options of {@link startFaultProxy}. */
export interface FaultProxyOptions {
  /** The registry to forward to, e.g. `reg.url`. */
  target: string;
  /** Faults active from the start. Default none. */
  faults?: Faults;
}

/** One request the proxy handled. */
export interface ProxiedRequestRecord {
  /** The method. */
  method: string;
  /** The path with the query. */
  path: string;
  /** The request kind. */
  kind: RequestKind;
  /** The `Range` header the client sent. */
  range: string | undefined;
  /** The status sent to the client (0 if none was sent). */
  status: number;
  /** Body bytes sent to the client. */
  bytesOut: number;
  /** The faults injected into this request. */
  faults: FaultName[];
}

/** What the proxy counted since it started or since the last `reset()`. */
export interface ProxyCounters {
  /** Requests received. */
  requests: number;
  /** Response body bytes sent to clients. */
  bytesOut: number;
  /** Requests by `METHOD /path` (query dropped). */
  byPath: Record<string, number>;
  /** Requests by kind. */
  byKind: Record<RequestKind, number>;
  /** Faults injected, by name. */
  injected: Record<FaultName, number>;
}

/** A running fault-injecting proxy in front of a registry. */
export interface FaultProxy {
  /** `http://127.0.0.1:PORT`: use it as the registry URL. */
  readonly url: string;
  /** `127.0.0.1:PORT`: use it as the registry host in references. */
  readonly host: string;
  /** Live counters (the same object across `reset()`, which zeroes it). */
  readonly counters: ProxyCounters;
  /** Every request, oldest first. */
  readonly log: ProxiedRequestRecord[];
  /** Replaces the active faults; their counts and time windows start now. `setFaults({})` clears. */
  setFaults(faults: Faults): void;
  /** Clears the faults, the counters and the log. */
  reset(): void;
  /** Stops the proxy and closes every connection. Idempotent. */
  stop(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer']);

/**
 * Starts an HTTP proxy on 127.0.0.1 that forwards every request to `target` unchanged (method,
 * path, headers including Authorization and Host, body) and every answer back unchanged (status,
 * headers, redirects with their Location), except for the {@link Faults} currently set. Since the
 * Host header is kept, the registry's upload Locations point back at the proxy.
 *
 * @example
 * ```ts
 * const proxy = await startFaultProxy({ target: reg.url });
 * proxy.setFaults({ tooManyRequests: { count: 2, retryAfter: 1 }, resetAfter: { match: 'blob', bytes: 1000, count: 1 } });
 * // ... point the client at proxy.url; then check proxy.counters.injected
 * await proxy.stop();
 * ```
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const state = new FaultState();
  state.set(options.faults ?? {});
  const counters: ProxyCounters = { requests: 0, bytesOut: 0, byPath: {}, byKind: emptyKinds(), injected: state.injected };
  const log: ProxiedRequestRecord[] = [];

  const server = await listenLocal(async (req, res) => {
    const path = req.url ?? '/';
    const method = req.method ?? 'GET';
    const info: ProxiedRequest = { method, path, kind: requestKind(path), headers: req.headers };
    const record: ProxiedRequestRecord = { method, path, kind: info.kind, range: req.headers.range, status: 0, bytesOut: 0, faults: [] };
    counters.requests++;
    const key = `${method} ${path.split('?')[0] ?? ''}`;
    counters.byPath[key] = (counters.byPath[key] ?? 0) + 1;
    counters.byKind[info.kind]++;
    log.push(record);
    const take = <N extends FaultName>(name: N): Faults[N] | undefined => {
      const f = state.take(name, info);
      if (f !== undefined) record.faults.push(name);
      return f;
    };
    const count = (n: number): void => {
      counters.bytesOut += n;
      record.bytesOut += n;
    };

    const latency = take('latency');
    if (latency !== undefined) await delay(latency.ms);
    const tooMany = take('tooManyRequests');
    const failure = tooMany === undefined ? take('serverError') : undefined;
    if (tooMany !== undefined || failure !== undefined) {
      req.resume();
      const status = tooMany !== undefined ? 429 : (failure?.status ?? 503);
      const body = JSON.stringify({
        errors: [{ code: tooMany !== undefined ? 'TOOMANYREQUESTS' : 'UNAVAILABLE', message: `injected by the fault proxy (${status})`, detail: null }],
      });
      record.status = status;
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        ...(tooMany !== undefined ? { 'retry-after': String(tooMany.retryAfter ?? 1) } : {}),
      });
      res.end(method === 'HEAD' ? undefined : body);
      if (method !== 'HEAD') count(Buffer.byteLength(body));
      return;
    }

    const headers: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
    if (req.headers.range !== undefined && take('ignoreRange') !== undefined) {
      delete headers['range'];
      delete headers['if-range'];
    }
    const upstream = await new Promise<IncomingMessage>((resolve, reject) => {
      const up = httpRequest({ host: target.hostname, port: target.port, method, path, headers, agent }, resolve);
      up.once('error', reject);
      res.once('close', () => {
        if (!res.writableFinished) up.destroy();
      });
      req.pipe(up);
    }).catch((e: unknown) => e as Error);
    if (upstream instanceof Error) {
      record.status = 502;
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`fault proxy: upstream failed: ${upstream.message}\n`);
      return;
    }
    const status = upstream.statusCode ?? 502;
    record.status = status;
    res.writeHead(status, upstream.statusMessage, passHeaders(upstream.headers));
    const hasBody = method !== 'HEAD' && status >= 200 && status < 300 && status !== 204 && upstream.headers['content-length'] !== '0';
    const plan: BodyPlan = {};
    if (hasBody) {
      const bandwidth = take('bandwidth');
      const reset = take('resetAfter');
      const short = take('shortBody');
      const wrong = take('wrongBytes');
      if (bandwidth !== undefined) plan.bytesPerSecond = bandwidth.bytesPerSecond;
      if (reset !== undefined) plan.resetAfter = reset.bytes;
      if (short !== undefined) plan.shortAfter = short.bytes;
      if (wrong !== undefined) plan.flipOffsets = wrong.offsets ?? [0];
    }
    await sendBody(upstream, res, plan, count);
  });

  return {
    url: server.url,
    host: server.host,
    counters,
    log,
    setFaults: (faults) => state.set(faults),
    reset() {
      state.reset();
      counters.requests = 0;
      counters.bytesOut = 0;
      counters.byPath = {};
      counters.byKind = emptyKinds();
      log.length = 0;
    },
    async stop() {
      await server.close();
      agent.destroy();
    },
  };
}

function passHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
  return out;
}

function emptyKinds(): Record<RequestKind, number> {
  return { base: 0, manifest: 0, blob: 0, upload: 0, tags: 0, other: 0 };
}
