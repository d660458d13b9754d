import type { Readable } from 'node:stream';
import { TransientError } from './retry.js';

/** Stops a response body without reading it (a 416 body must never be read: distribution lies about its length). */
export function discard(body: Readable | undefined): void {
  if (!body || body.destroyed) return;
  // undici reports a destroyed unfinished body as an 'error' (RequestAbortedError): expected here.
  body.on('error', () => undefined);
  body.destroy();
}

/**
 * Reads and drops a body that should be empty or small (a 201, a HEAD, a redirect), so that its
 * connection can be reused; gives up (destroying it) after 64 KiB.
 */
export async function drain(body: Readable): Promise<void> {
  await readText(body, 64 * 1024);
}

/** Reads at most `max` bytes of a body as UTF-8 text (for error diagnostics), then stops it. */
export async function readText(body: Readable, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const chunk of body) {
      const b = chunk as Buffer;
      chunks.push(b);
      n += b.length;
      if (n >= max) break;
    }
  } catch {
    // A broken error body still leaves us the status; keep what arrived.
  } finally {
    discard(body);
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}

/**
 * Reads a whole body into one buffer, refusing more than `max` bytes (`tooBig` is called to build
 * the error). When `expected` is given, the buffer is allocated once and a body of any other length
 * is a {@link TransientError} (a short body is retried, never returned). `onChunk` sees every chunk
 * as it arrives (to hash while downloading).
 */
export async function readAll(body: Readable, max: number, tooBig: () => Error, expected?: number, onChunk?: (chunk: Buffer) => void): Promise<Uint8Array> {
  const out = expected !== undefined && expected <= max ? Buffer.allocUnsafe(expected) : undefined;
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const chunk of body) {
      const b = chunk as Buffer;
      if (n + b.length > max || (out && n + b.length > out.length)) throw tooBig();
      onChunk?.(b);
      if (out) out.set(b, n);
      else chunks.push(b);
      n += b.length;
    }
  } finally {
    discard(body);
  }
  if (expected !== undefined && n !== expected) throw new TransientError(`the body had ${n} bytes where ${expected} were expected`);
  const all = out ?? (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, n));
  return new Uint8Array(all.buffer, all.byteOffset, n);
}

/**
 * Reads bytes [skip, skip + length) of a body that holds the whole resource (a 200 answer to a
 * range request), then stops the body: the rest is never downloaded. A body that ends early is a
 * {@link TransientError}.
 */
export async function readSlice(body: Readable, skip: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let pos = 0; // bytes of the body seen
  let filled = 0;
  try {
    for await (const chunk of body) {
      const b = chunk as Buffer;
      const from = Math.max(0, skip - pos);
      const to = Math.min(b.length, skip + length - pos);
      if (to > from) {
        out.set(b.subarray(from, to), filled);
        filled += to - from;
      }
      pos += b.length;
      if (filled === length) break;
    }
  } finally {
    discard(body);
  }
  if (filled !== length) throw new TransientError(`the body ended after ${pos} bytes, before byte ${skip + length}`);
  return out;
}
