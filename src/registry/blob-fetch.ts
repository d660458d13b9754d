import { createHash } from 'node:crypto';
import type { Descriptor } from '../image/types.js';
import { RegistryError } from '../errors/registry-error.js';
import { discard, drain, readAll, readSlice } from './body.js';
import { scopeFor, withPullEndpoints, type RegistryContext } from './context.js';
import { dataLossError, invalidError } from './error-map.js';
import type { ImageReference } from './reference.js';
import type { Endpoint, HttpResponse } from './transport.js';

/** Parses `bytes A-B/SIZE` (SIZE may be `*`); undefined when malformed. */
export function parseContentRange(value: string | string[] | undefined): { start: number; end: number; size: number | undefined } | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  const m = v === undefined ? null : /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(v);
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), size: m[3] === '*' ? undefined : Number(m[3]) };
}

function blobPath(ref: ImageReference, digest: string): string {
  return `/v2/${ref.repository}/blobs/${digest}`;
}

function unsatisfiable(res: HttpResponse, desc: Descriptor): RegistryError {
  // Never read a 416 body: distribution sends a wrong Content-Length with it.
  discard(res.body);
  const m = /\/(\d+)/.exec(String(res.headers['content-range'] ?? ''));
  const actual = m ? `${m[1]} bytes` : 'shorter';
  return dataLossError(`blob ${desc.digest} is ${actual} at the registry, but its descriptor says ${desc.size} bytes`, res.url);
}

/**
 * A mirror answered a range request with 200 and the whole blob: it is filling its cache from the
 * upstream (CNCF distribution in proxy mode does so until the blob is cached). An `Unavailable`
 * `RegistryError`, so that the next endpoint (the upstream) is tried.
 *
 * @example
 * ```ts
 * const fs = await openImage('docker.io/library/alpine:3.20', {
 *   mirrors: { 'docker.io': ['http://127.0.0.1:5001'] },
 *   onEvent: (e) => { if (e.type === 'mirror-fallback') console.log('mirror filling, reading upstream', e.mirror); },
 * });
 * ```
 */
export class MirrorFillingError extends RegistryError {
  /** @param mirror - the mirror's base URL; @param digest - the blob. */
  constructor(readonly mirror: string, readonly digest: string, url: string) {
    super('Unavailable', `the mirror ${mirror} answered a range request for blob ${digest} with the whole blob (it is filling its cache); reading from the next endpoint meanwhile`, {
      url,
      hint: 'nothing to do: imagefs returns to the mirror once it has cached the blob',
    });
  }
}

/**
 * Fetches bytes [start, end) of a blob from one endpoint with a `Range` request. A 206 must carry
 * exactly the Content-Range asked for; a 200 that ignored the range is read only up to `end` and
 * then abandoned (decided per response), except from a mirror, where it is closed at once
 * ({@link MirrorFillingError}); a 416 means the blob is shorter than its descriptor.
 * Never returns fewer bytes than asked.
 */
export async function fetchRangeFrom(ctx: RegistryContext, endpoint: Endpoint, ref: ImageReference, desc: Descriptor, start: number, end: number, signal?: AbortSignal): Promise<Uint8Array> {
  const length = end - start;
  return ctx.transport.call({
    method: 'GET', endpoint, path: blobPath(ref, desc.digest), scope: scopeFor(ref.repository),
    headers: { range: `bytes=${start}-${end - 1}`, 'accept-encoding': 'identity' },
    what: `reading ${length} bytes at ${start} of blob ${desc.digest}`, signal, pass: [416],
  }, async (res) => {
    if (res.status === 416) throw unsatisfiable(res, desc);
    if (res.status === 206) {
      const cr = parseContentRange(res.headers['content-range']);
      if (!cr || cr.start !== start || cr.end !== end - 1) {
        discard(res.body);
        throw dataLossError(`asked for bytes ${start}-${end - 1} of blob ${desc.digest}, the registry sent ${String(res.headers['content-range'] ?? 'no Content-Range')}`, res.url);
      }
      if (cr.size !== undefined && cr.size !== desc.size) {
        discard(res.body);
        throw dataLossError(`blob ${desc.digest} is ${cr.size} bytes at the registry, but its descriptor says ${desc.size} bytes`, res.url);
      }
      return readAll(res.body, length, () => dataLossError(`the registry sent more than the ${length} bytes asked for`, res.url), length);
    }
    if (res.status === 200) {
      if (endpoint.mirror && length < desc.size) {
        // A pull-through mirror filling its cache: every byte read from this answer costs the
        // upstream that byte again. Close it at once; the caller reads from the next endpoint.
        // No `range-ignored` here (that event means the 200 was used): the range probe would
        // take the registry for one without ranges and pull every layer whole.
        discard(res.body);
        throw new MirrorFillingError(endpoint.base, desc.digest, res.url);
      }
      ctx.transport.emit({ type: 'range-ignored', url: res.url });
      const cl = Number(res.headers['content-length']);
      if (res.headers['content-length'] !== undefined && cl !== desc.size) {
        discard(res.body);
        throw dataLossError(`blob ${desc.digest} is ${cl} bytes at the registry, but its descriptor says ${desc.size} bytes`, res.url);
      }
      return readSlice(res.body, start, length);
    }
    discard(res.body);
    throw invalidError(`the registry answered HTTP ${res.status} to a blob range request`, res.url);
  });
}

/**
 * Downloads a whole blob and returns its bytes only when their digest and size match the
 * descriptor (`DataLoss` otherwise). Tries mirrors first.
 */
export async function readBlobVerified(ctx: RegistryContext, ref: ImageReference, desc: Descriptor, signal?: AbortSignal, maxBytes = Number.MAX_SAFE_INTEGER): Promise<Uint8Array> {
  if (desc.size > maxBytes) {
    throw invalidError(`blob ${desc.digest} is ${desc.size} bytes, more than the ${maxBytes} allowed here`, `${ref.registry}/${ref.repository}`);
  }
  return withPullEndpoints(ctx, ref, (endpoint) => ctx.transport.call({
    method: 'GET', endpoint, path: blobPath(ref, desc.digest), scope: scopeFor(ref.repository),
    headers: { 'accept-encoding': 'identity' }, what: `downloading blob ${desc.digest}`, signal,
  }, async (res) => {
    const algo = desc.digest.slice(0, desc.digest.indexOf(':'));
    if (algo !== 'sha256' && algo !== 'sha384' && algo !== 'sha512') {
      discard(res.body);
      throw invalidError(`blob digest algorithm '${algo}' is not supported`, res.url);
    }
    // Hash while the bytes arrive; a retry starts a fresh hash.
    const hash = createHash(algo);
    const bytes = await readAll(res.body, desc.size,
      () => dataLossError(`blob ${desc.digest} is longer than the ${desc.size} bytes its descriptor says`, res.url), desc.size, (c) => hash.update(c));
    const actual = `${algo}:${hash.digest('hex')}`;
    if (actual !== desc.digest) throw dataLossError(`blob ${desc.digest} was served with digest ${actual}`, res.url);
    return bytes;
  }));
}

/** The size of a blob from a HEAD request (`NotFound` when absent). Tries mirrors first. */
export async function statBlob(ctx: RegistryContext, ref: ImageReference, digest: string, signal?: AbortSignal): Promise<number> {
  return withPullEndpoints(ctx, ref, (endpoint) => ctx.transport.call({
    method: 'HEAD', endpoint, path: blobPath(ref, digest), scope: scopeFor(ref.repository),
    what: `checking blob ${digest}`, signal,
  }, async (res) => {
    await drain(res.body);
    const n = Number(res.headers['content-length']);
    if (!Number.isSafeInteger(n) || n < 0) throw invalidError('the registry sent no Content-Length for a blob HEAD', res.url);
    return n;
  }));
}
