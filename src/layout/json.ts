import { invalidArgument } from '../errors/image-fs-error.js';

/**
 * Parses JSON bytes that must hold an object. The error names `what` (a file, a descriptor) and
 * keeps the parser's error as `cause`.
 *
 * @throws ImageError `InvalidArgument` when the bytes are not a JSON object.
 */
export function parseJsonObject(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (error) {
    throw invalidArgument(`${what} is not valid JSON: ${(error as Error).message}`, {
      subject: what,
      cause: error,
      hint: 'the layout is corrupt or was not written by an OCI tool; copy the image again',
    });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgument(`${what} is JSON but not an object`, { subject: what, hint: 'the layout is corrupt; copy the image again' });
  }
  return value as Record<string, unknown>;
}
