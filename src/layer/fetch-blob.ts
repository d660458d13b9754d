import { createHash } from 'node:crypto';
import { aborted, dataLoss, ImageError, throwIfAborted } from '../errors/image-fs-error.js';
import { parseDigest, verifyDigest } from '../image/digest.js';
import type { Descriptor, ImageSource } from '../image/types.js';
import { RegistrySource } from '../registry/registry-source.js';
import type { ReadOptions } from '../source/read-at.js';
import { readChunks } from './decompress-stream.js';

/** A source that can download a whole blob and verify it (a `RegistrySource`). */
interface VerifiedReader {
  readBlobVerified(descriptor: Descriptor, options?: ReadOptions): Promise<Uint8Array>;
}

/** A source that can stream a whole blob (a `RegistrySource`). */
interface BlobStreamer {
  streamBlob(descriptor: Descriptor, options?: ReadOptions): AsyncIterable<Uint8Array>;
}

function canStream(source: ImageSource): source is ImageSource & BlobStreamer {
  return typeof (source as Partial<BlobStreamer>).streamBlob === 'function';
}

function canReadVerified(source: ImageSource): source is ImageSource & VerifiedReader {
  return typeof (source as Partial<VerifiedReader>).readBlobVerified === 'function';
}

/**
 * Downloads a non-distributable (foreign) layer from its `urls`, in order, over http(s): the first
 * URL that answers 200 with bytes of the right size and digest wins. Redirects are followed.
 *
 * @param descriptor - a layer descriptor with `urls`.
 * @param options - an AbortSignal.
 * @returns the verified bytes.
 * @throws ImageError `DataLoss` when a URL serves other bytes (wrong digest or size);
 *   `Unavailable` when no URL could be read (every failure is named).
 * @example
 * ```ts
 * const bytes = await fetchForeignBlob({ ...layer, urls: ['https://example.com/layer.tar.gz'] });
 * ```
 */
export async function fetchForeignBlob(descriptor: Descriptor, options: ReadOptions = {}): Promise<Uint8Array> {
  const { algorithm } = parseDigest(descriptor.digest, `layer ${descriptor.digest}`);
  const failures: string[] = [];
  for (const url of descriptor.urls ?? []) {
    throwIfAborted(options.signal);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      failures.push(`${url}: not a URL`);
      continue;
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      failures.push(`${parsed.protocol}//${parsed.host}: only http and https URLs are fetched`);
      continue;
    }
    const shown = `${parsed.origin}${parsed.pathname}`;
    let res: Response;
    try {
      res = await fetch(parsed, { signal: options.signal ?? null, redirect: 'follow' });
    } catch (error) {
      if (options.signal?.aborted) throw aborted(options.signal);
      failures.push(`${shown}: ${(error as Error).message}`);
      continue;
    }
    if (res.status !== 200 || res.body === null) {
      await res.body?.cancel().catch(() => {});
      failures.push(`${shown}: HTTP ${res.status}`);
      continue;
    }
    // The descriptor's size drives the allocation below: check it against what the answer says it holds first.
    const length = res.headers.get('content-length');
    if (length !== null && Number(length) !== descriptor.size) {
      await res.body.cancel().catch(() => {});
      failures.push(`${shown}: serves ${length} bytes, the descriptor says ${descriptor.size}`);
      continue;
    }
    const hash = createHash(algorithm);
    const out = new Uint8Array(descriptor.size);
    let got = 0;
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        if (got + chunk.length > descriptor.size) {
          throw dataLoss(`layer ${descriptor.digest} at ${shown} is longer than the ${descriptor.size} bytes its descriptor says`, { subject: descriptor.digest, hint: 'the URL serves another file; fix the image or the server' });
        }
        out.set(chunk, got);
        got += chunk.length;
        hash.update(chunk);
      }
    } catch (error) {
      if (options.signal?.aborted) throw aborted(options.signal);
      if (error instanceof ImageError) throw error;
      failures.push(`${shown}: ${(error as Error).message}`);
      continue;
    }
    const actual = `${algorithm}:${hash.digest('hex')}`;
    if (got !== descriptor.size || actual !== descriptor.digest) {
      throw dataLoss(`layer ${descriptor.digest} at ${shown} has ${got} bytes and digest ${actual}; its descriptor says ${descriptor.size} bytes`, {
        subject: descriptor.digest,
        hint: 'the URL serves another file; fix the image or the server',
      });
    }
    return out;
  }
  throw new ImageError('Unavailable', `layer ${descriptor.digest} is non-distributable and none of its URLs could be read (${failures.join('; ') || 'no URLs'})`, {
    subject: descriptor.digest,
    hint: 'make the URL reachable from this machine, or push the layer to the registry as an ordinary layer',
  });
}

/**
 * Downloads a whole blob and returns it only once it matches its descriptor's digest and size:
 * from the registry in one request (`readBlobVerified`), from a layout file, or, for foreign
 * layers with `urls`, from those URLs first (the source is the fallback when they fail).
 *
 * @param source - where the blob is.
 * @param descriptor - its descriptor.
 * @param options - an AbortSignal.
 * @throws ImageError `DataLoss` for a digest or size mismatch, whatever the source throws.
 * @example
 * ```ts
 * const bytes = await fetchVerifiedBlob(source, image.layers[0]!);
 * ```
 */
export async function fetchVerifiedBlob(source: ImageSource, descriptor: Descriptor, options: ReadOptions = {}): Promise<Uint8Array> {
  if ((descriptor.urls?.length ?? 0) > 0) {
    try {
      return await fetchForeignBlob(descriptor, options);
    } catch (error) {
      if (!(error instanceof ImageError) || error.code !== 'Unavailable') throw error;
      try {
        return await fetchFromSource(source, descriptor, options);
      } catch {
        throw error; // the URLs' failure says more than "not in the registry"
      }
    }
  }
  return fetchFromSource(source, descriptor, options);
}

async function fetchFromSource(source: ImageSource, descriptor: Descriptor, options: ReadOptions): Promise<Uint8Array> {
  if (canReadVerified(source)) {
    try {
      return await source.readBlobVerified(descriptor, options);
    } catch (error) {
      throw await diagnoseSize(source, descriptor, error);
    }
  }
  const blob = await source.openBlob(descriptor, options);
  let bytes: Uint8Array;
  try {
    if (blob.size !== descriptor.size) {
      throw dataLoss(`blob ${descriptor.digest} has ${blob.size} bytes, its descriptor says ${descriptor.size}`, { subject: descriptor.digest, hint: 'the source holds another blob; copy the image again' });
    }
    bytes = await blob.readAt(0, blob.size, options);
  } finally {
    await blob.close?.();
  }
  verifyDigest(bytes, descriptor.digest, `layer ${descriptor.digest}`);
  return bytes;
}

/**
 * A registry body shorter than the descriptor looks like a dropped connection (retried, then
 * `Unavailable`); when the registry's own size (HEAD) differs from the descriptor's, say what it
 * really is: the descriptor lies (`DataLoss`).
 */
async function diagnoseSize(source: ImageSource, descriptor: Descriptor, error: unknown): Promise<unknown> {
  if (!(source instanceof RegistrySource) || !(error instanceof ImageError) || error.code !== 'Unavailable') return error;
  const actual = await source.client.blobSize(source.parsed, descriptor.digest).catch(() => undefined);
  if (actual === undefined || actual === descriptor.size) return error;
  return dataLoss(`blob ${descriptor.digest} is ${actual} bytes at the registry, but its descriptor says ${descriptor.size} bytes`, {
    subject: descriptor.digest,
    cause: error,
    hint: 'the manifest is wrong about the layer size; push the image again',
  });
}

/** Options of {@link verifiedBlobChunks}. */
export interface VerifiedChunksOptions extends ReadOptions {
  /**
   * Hash the bytes and check the digest at the end. Default true. Pass false only when every byte
   * also goes to something that verifies the digest before anything is published (a cache
   * writer keyed by the digest): the size is still checked, the digest is then the caller's.
   */
  hash?: boolean;
}

/** Bytes read at a time from a layout file by {@link verifiedBlobChunks}. */
const FILE_CHUNK = 4 << 20;

/**
 * Streams a whole blob, in order, hashing it as it goes: from the registry in one request
 * (`streamBlob`; a broken body is fetched again and resumed without repeating bytes), from a
 * layout file in 4 MiB reads, or, for foreign layers with `urls`, downloaded whole first (then one
 * chunk). The iteration ends normally only when the bytes match the descriptor's size and digest;
 * otherwise the last step throws `DataLoss` naming the digest. Consumers must therefore not
 * publish anything derived from the chunks before the loop has ended.
 *
 * @param source - where the blob is.
 * @param descriptor - its descriptor.
 * @param options - an AbortSignal; `hash: false` when the consumer verifies the digest itself.
 * @throws ImageError `DataLoss` for a digest or size mismatch (after the last chunk), whatever the
 *   source throws.
 * @example
 * ```ts
 * for await (const chunk of verifiedBlobChunks(source, layer, { signal })) await writer.write(chunk);
 * await writer.commit(); // reached only when the digest matched
 * ```
 */
export async function* verifiedBlobChunks(source: ImageSource, descriptor: Descriptor, options: VerifiedChunksOptions = {}): AsyncGenerator<Uint8Array> {
  const subject = `layer ${descriptor.digest}`;
  const { algorithm } = parseDigest(descriptor.digest, subject);
  const hashing = options.hash ?? true;
  const signal = options.signal === undefined ? {} : { signal: options.signal };
  if ((descriptor.urls?.length ?? 0) > 0 || (!canStream(source) && canReadVerified(source))) {
    yield await fetchVerifiedBlob(source, descriptor, signal);
    return;
  }
  const hash = createHash(algorithm);
  let got = 0;
  if (canStream(source)) {
    try {
      for await (const chunk of source.streamBlob(descriptor, signal)) {
        if (hashing) hash.update(chunk);
        got += chunk.length;
        yield chunk;
      }
    } catch (error) {
      throw await diagnoseSize(source, descriptor, error);
    }
  } else {
    const blob = await source.openBlob(descriptor, signal);
    try {
      if (blob.size !== descriptor.size) {
        throw dataLoss(`blob ${descriptor.digest} has ${blob.size} bytes, its descriptor says ${descriptor.size}`, { subject: descriptor.digest, hint: 'the source holds another blob; copy the image again' });
      }
      for await (const chunk of readChunks(blob, FILE_CHUNK, options.signal)) {
        if (hashing) hash.update(chunk);
        got += chunk.length;
        yield chunk;
      }
    } finally {
      await blob.close?.();
    }
  }
  const actual = hashing ? `${algorithm}:${hash.digest('hex')}` : descriptor.digest;
  if (got !== descriptor.size || actual !== descriptor.digest) {
    const sizes = got === descriptor.size ? '' : ` (${got} bytes where its descriptor says ${descriptor.size})`;
    throw dataLoss(`${subject} does not match its digest: expected ${descriptor.digest}, got ${actual}${sizes}`, {
      subject: descriptor.digest,
      hint: 'the content is corrupt or was altered; fetch or copy the image again',
    });
  }
}
