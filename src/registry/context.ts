import { ImageFsError } from '../errors/image-fs-error.js';
import { endpointsFor } from './endpoints.js';
import type { ResolvedClientOptions } from './options.js';
import type { ImageReference } from './reference.js';
import type { Endpoint, Transport } from './transport.js';

/** What the registry operations share: the transport, the options and endpoint selection. @internal */
export interface RegistryContext {
  transport: Transport;
  options: ResolvedClientOptions;
}

/** The token scope for pulling (or pushing to) a repository. */
export function scopeFor(repository: string, push = false): string {
  return `repository:${repository}:${push ? 'pull,push' : 'pull'}`;
}

/**
 * Runs `fn` against each pull endpoint of `ref`'s registry in order (mirrors first), returning the
 * first success. A failing mirror falls through to the next endpoint; the registry's own error is
 * the one reported. Aborts are never swallowed. `start` picks the first endpoint to try.
 */
export async function withPullEndpoints<T>(
  ctx: RegistryContext,
  ref: ImageReference,
  fn: (endpoint: Endpoint, index: number) => Promise<T>,
  start = 0,
): Promise<T> {
  const endpoints = endpointsFor(ref.registry, ctx.options, true);
  for (let i = Math.min(start, endpoints.length - 1); ; i++) {
    const endpoint = endpoints[i]!;
    try {
      return await fn(endpoint, i);
    } catch (e) {
      const last = i === endpoints.length - 1;
      if (last || (ImageFsError.is(e) && e.code === 'Aborted')) throw e;
      ctx.transport.emit({ type: 'mirror-fallback', mirror: endpoint.base, reason: ImageFsError.is(e) ? e.code : 'error' });
    }
  }
}

/** The registry endpoint for pushes (never a mirror). */
export function pushEndpoint(ctx: RegistryContext, ref: ImageReference): Endpoint {
  return endpointsFor(ref.registry, ctx.options, false)[0]!;
}
