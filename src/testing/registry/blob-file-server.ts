import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseRange } from './http-range.js';
import { listenLocal, type LocalServer } from './local-server.js';

/** One request the blob file server saw. */
export interface BlobFileRequest {
  /** `GET` or `HEAD` (anything else is answered 405). */
  method: string;
  /** The request path. */
  path: string;
  /** The `Range` header, if any. */
  range: string | undefined;
  /** Whether an `Authorization` header came along (it must not, after a cross-origin redirect). */
  hadAuthorization: boolean;
  /** The status answered. */
  status: number;
}

/** The storage server behind the registry's `redirect` middleware. */
export interface BlobFileServer {
  /** `http://127.0.0.1:PORT`: the middleware's `baseurl`. */
  readonly url: string;
  /** Every request seen, oldest first. */
  readonly requests: BlobFileRequest[];
  /** Stops the server. Idempotent. */
  stop(): Promise<void>;
}

const BLOB_PATH = /^\/docker\/registry\/v2\/blobs\/sha256\/([0-9a-f]{2})\/([0-9a-f]{64})\/data$/;

/**
 * Where CNCF distribution keeps a blob's bytes under its storage root
 * (`docker/registry/v2/blobs/sha256/XX/HEX/data`): tests corrupt blobs there to prove verification.
 */
export function storedBlobPath(storageDir: string, digest: string): string {
  const hex = digest.slice(digest.indexOf(':') + 1);
  return join(storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
}

/**
 * Serves `/docker/registry/v2/blobs/sha256/XX/HEX/data` from a registry's storage directory, like
 * an object store would: GET and HEAD, single `Range` requests answered 206 with `Content-Range`
 * (suffix and open ranges included), 416 with `Content-Range: bytes * /SIZE` past the end, and 200
 * with the whole blob for anything else (multi-range included). Any other path is 404.
 *
 * @example
 * ```ts
 * const files = await startBlobFileServer('/tmp/reg-storage');
 * // registry config: middleware.storage: [{ name: redirect, options: { baseurl: files.url } }]
 * ```
 */
export async function startBlobFileServer(storageDir: string): Promise<BlobFileServer> {
  const requests: BlobFileRequest[] = [];
  const server: LocalServer = await listenLocal(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const record: BlobFileRequest = {
      method: req.method ?? 'GET',
      path,
      range: req.headers.range,
      hadAuthorization: req.headers.authorization !== undefined,
      status: 0,
    };
    requests.push(record);
    const answer = (status: number, headers: Record<string, string | number> = {}, body = ''): void => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), ...headers });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(405, { allow: 'GET, HEAD' }, 'method not allowed\n');
    const m = BLOB_PATH.exec(path);
    if (m === null || m[1] !== m[2]?.slice(0, 2)) return answer(404, {}, 'not found\n');
    const file = storedBlobPath(storageDir, `sha256:${m[2] ?? ''}`);
    const size = await stat(file).then((s) => s.size, () => -1);
    if (size < 0) return answer(404, {}, 'blob not found\n');
    const range = parseRange(req.headers.range, size);
    if (range === 'unsatisfiable') return answer(416, { 'content-range': `bytes */${size}` });
    const start = range?.start ?? 0;
    const end = range?.end ?? size - 1;
    record.status = range === undefined ? 200 : 206;
    res.writeHead(record.status, {
      'content-type': 'application/octet-stream',
      'content-length': end - start + 1,
      'accept-ranges': 'bytes',
      ...(range === undefined ? {} : { 'content-range': `bytes ${start}-${end}/${size}` }),
    });
    if (req.method === 'HEAD' || size === 0) {
      res.end();
      return;
    }
    await pipeline(createReadStream(file, { start, end }), res);
  });
  return { url: server.url, requests, stop: () => server.close() };
}
