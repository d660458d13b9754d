import type { Descriptor } from '../image/types.js';
import { aborted, throwIfAborted } from '../errors/image-fs-error.js';
import { scopeFor, withPullEndpoints, type RegistryContext } from './context.js';
import { dataLossError } from './error-map.js';
import type { ImageReference } from './reference.js';
import { TransientError } from './retry.js';

/** Chunks buffered between the HTTP body and a slow consumer before the body is paused. */
const QUEUE_CHUNKS = 8;

/**
 * Hands every byte of a blob to `onChunk`, in order and exactly once, awaiting each call (so a
 * slow consumer slows the download). One GET through the transport (auth, redirects, retries,
 * mirrors first). A body that fails or ends early is retried by the transport as a whole request
 * (bounded by the retry policy); the bytes already handed over are skipped, never repeated.
 * The bytes are NOT verified against the digest here: the caller hashes them.
 */
export async function forEachBlobChunk(
  ctx: RegistryContext, ref: ImageReference, desc: Descriptor, onChunk: (chunk: Uint8Array) => Promise<void>, signal?: AbortSignal,
): Promise<void> {
  let delivered = 0;
  await withPullEndpoints(ctx, ref, (endpoint) => ctx.transport.call({
    method: 'GET', endpoint, path: `/v2/${ref.repository}/blobs/${desc.digest}`, scope: scopeFor(ref.repository),
    headers: { 'accept-encoding': 'identity' }, what: `downloading blob ${desc.digest}`, signal,
  }, async (res) => {
    let pos = 0; // bytes of this body seen
    for await (const chunk of res.body) {
      const b = chunk as Buffer;
      if (pos + b.length > desc.size) throw dataLossError(`blob ${desc.digest} is longer than the ${desc.size} bytes its descriptor says`, res.url);
      const skip = Math.max(0, delivered - pos);
      pos += b.length;
      if (skip >= b.length) continue;
      const part = new Uint8Array(b.buffer, b.byteOffset + skip, b.length - skip);
      delivered += part.length;
      await onChunk(part);
    }
    if (pos !== desc.size) throw new TransientError(`the body had ${pos} bytes where ${desc.size} were expected`);
  }));
}

/**
 * The bytes of a blob as an async iterable of chunks (see {@link forEachBlobChunk}: same request,
 * retries and skipping of repeated bytes). A small queue decouples the socket from the consumer;
 * leaving the loop early cancels the request.
 */
export async function* streamBlobChunks(ctx: RegistryContext, ref: ImageReference, desc: Descriptor, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  throwIfAborted(signal);
  const inner = new AbortController();
  const onAbort = (): void => inner.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const queue: Uint8Array[] = [];
  let finished = false;
  let failure: unknown;
  let wakeConsumer: (() => void) | undefined;
  let wakeProducer: (() => void) | undefined;
  const producer = forEachBlobChunk(ctx, ref, desc, async (chunk) => {
    queue.push(chunk);
    wakeConsumer?.();
    while (queue.length >= QUEUE_CHUNKS && !inner.signal.aborted) await new Promise<void>((r) => { wakeProducer = r; });
    throwIfAborted(inner.signal);
  }, inner.signal).then(
    () => { finished = true; },
    (error: unknown) => { finished = true; failure = error; },
  ).finally(() => wakeConsumer?.());
  try {
    for (;;) {
      const next = queue.shift();
      if (next !== undefined) {
        wakeProducer?.();
        wakeProducer = undefined;
        yield next;
        continue;
      }
      if (finished) {
        if (failure !== undefined) throw signal?.aborted ? aborted(signal) : failure;
        return;
      }
      await new Promise<void>((r) => { wakeConsumer = r; });
      wakeConsumer = undefined;
    }
  } finally {
    if (!finished) inner.abort(new Error('the blob stream was closed by its reader'));
    wakeProducer?.();
    await producer;
    signal?.removeEventListener('abort', onAbort);
  }
}
