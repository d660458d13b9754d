import { apiHost, isLoopbackHost } from './reference.js';
import type { Endpoint } from './transport.js';

/**
 * The scheme used for `registry`: plain HTTP for loopback hosts and for hosts listed in (or all
 * hosts when) `insecure`; HTTPS otherwise.
 */
export function schemeFor(registry: string, insecure: boolean | string[]): 'http' | 'https' {
  if (isLoopbackHost(registry)) return 'http';
  if (insecure === true) return 'http';
  if (Array.isArray(insecure) && insecure.some((h) => h.toLowerCase() === registry.toLowerCase())) return 'http';
  return 'https';
}

/** The endpoint of the registry itself (Docker Hub's API host for `docker.io`). */
export function registryEndpoint(registry: string, insecure: boolean | string[]): Endpoint {
  const base = `${schemeFor(registry, insecure)}://${apiHost(registry)}`;
  return { base, origin: base, credentialKey: registry, mirror: false };
}

/**
 * Where to pull from, in order: the mirrors configured for `registry`, those configured for every
 * registry (key `'*'`), then the registry itself.
 * Pushes use only the registry (`pull` false).
 */
export function endpointsFor(registry: string, options: { insecure: boolean | string[]; mirrors: Record<string, string[]> }, pull: boolean): Endpoint[] {
  const upstream = registryEndpoint(registry, options.insecure);
  if (!pull) return [upstream];
  // Mirrors of this registry, then those given for every registry (`'*'`, the CLI's --mirror).
  const mirrors = [...(options.mirrors[registry] ?? []), ...(options.mirrors['*'] ?? [])];
  return [
    ...mirrors.map((m): Endpoint => {
      const u = new URL(m);
      const base = `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
      return { base, origin: base, credentialKey: u.host, mirror: true };
    }),
    upstream,
  ];
}
