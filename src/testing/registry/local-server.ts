import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A plain HTTP server listening on 127.0.0.1 at a port the OS chose. */
export interface LocalServer {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly url: string;
  /** `127.0.0.1:PORT`. */
  readonly host: string;
  /** The port. */
  readonly port: number;
  /** The underlying node:http server. */
  readonly server: Server;
  /** Stops listening and destroys every open connection; resolves when closed. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a node:http server on 127.0.0.1 (port 0) with the given handler. Errors a handler throws
 * or rejects with become a 500 answer, so a bug in a test server never hangs a test.
 *
 * @example
 * ```ts
 * const s = await listenLocal((req, res) => res.end('ok'));
 * await s.close();
 * ```
 */
export async function listenLocal(
  handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>,
): Promise<LocalServer> {
  const server = createServer((req, res) => {
    Promise.resolve()
      .then(() => handler(req, res))
      .catch((e: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`test server error: ${e instanceof Error ? e.message : String(e)}\n`);
        } else {
          res.destroy();
        }
      });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    port,
    server,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
