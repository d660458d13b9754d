// A pass-through HTTP proxy whose response bodies share ONE bandwidth cap, for benches that
// compare clients opening several connections at once (skopeo pulls layers in parallel, imagefs
// fetches spans in parallel). The fault proxy's `bandwidth` fault caps each response on its own,
// so N parallel responses would get N times the cap; this one caps their sum.
import { Agent, createServer, request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

/** A running {@link startSharedRateProxy}. */
export interface SharedRateProxy {
  /** `127.0.0.1:PORT`, to use as the registry host in references. */
  readonly host: string;
  /** Body bytes sent to clients since the start. */
  readonly bytesOut: () => number;
  stop(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer', 'transfer-encoding']);

/**
 * Forwards every request to `target` (`http://HOST:PORT`) unchanged and sends the answers back,
 * their bodies together at most `bytesPerSecond` (a token bucket with a 50 ms burst).
 */
export async function startSharedRateProxy(target: string, bytesPerSecond: number): Promise<SharedRateProxy> {
  const url = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let nextFree = performance.now(); // when the bucket has room again, ms
  let sent = 0;
  /** Waits until `n` more bytes fit under the cap. */
  const take = async (n: number): Promise<void> => {
    const now = performance.now();
    nextFree = Math.max(nextFree, now - 50) + (n * 1000) / bytesPerSecond;
    if (nextFree > now) await delay(nextFree - now);
  };
  const server = createServer((req, res) => {
    const headers: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
    const up = httpRequest({ host: url.hostname, port: url.port, method: req.method, path: req.url, headers, agent }, (answer) => {
      const out: OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(answer.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
      res.writeHead(answer.statusCode ?? 502, out);
      void (async () => {
        try {
          for await (const chunk of answer as AsyncIterable<Buffer>) {
            for (let at = 0; at < chunk.length; at += 16384) {
              const piece = chunk.subarray(at, at + 16384);
              await take(piece.length);
              sent += piece.length;
              if (!res.write(piece)) await new Promise((r) => res.once('drain', r));
            }
          }
          res.end();
        } catch {
          res.destroy();
        }
      })();
    });
    up.on('error', () => { if (!res.headersSent) res.writeHead(502); res.end(); });
    res.on('close', () => { if (!res.writableFinished) up.destroy(); });
    req.pipe(up);
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    bytesOut: () => sent,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
      agent.destroy();
    },
  };
}
