import { createServer } from 'node:net';
import { ImageError } from '../../errors/index.js';

/**
 * Finds a TCP port on 127.0.0.1 that is free right now, for a process that cannot listen on port 0
 * itself (the registry reads its address from a config file).
 *
 * The port is released before this resolves, so another process could take it in between; on a
 * test machine that race is rare, and {@link startRegistry} retries on a bind failure.
 *
 * @example
 * ```ts
 * const port = await freePort(); // e.g. 40123
 * ```
 */
export async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (e) => reject(new ImageError('Unavailable', 'cannot find a free port on 127.0.0.1', { cause: e })));
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
