import { Readable } from 'node:stream';
import { aborted } from '../errors/image-fs-error.js';
import type { FileContent } from '../tree/types.js';
import { guardRead } from './fs-args.js';

/** Options of {@link ImageFs.createReadStream}, as `fs.createReadStream` takes them. */
export interface ReadStreamOptions {
  /** First byte to read (default 0). */
  start?: number;
  /** Last byte to read, inclusive (default: the end of the file). */
  end?: number;
  /** Bytes per chunk (default 64 KiB). */
  highWaterMark?: number;
  /** Emit strings in this encoding instead of Buffers. */
  encoding?: BufferEncoding;
  /** Destroys the stream with an `Aborted` `ImageError` when fired. */
  signal?: AbortSignal;
}

/**
 * A Node `Readable` over one file's bytes `[start, end]`; the file is opened (resolved) when the
 * stream starts, and errors (`ENOENT`, `EISDIR`, `EIO`...) are emitted as `'error'`, as
 * `fs.createReadStream` does.
 */
export function createFileReadStream(open: () => Promise<FileContent>, path: string, options: ReadStreamOptions = {}): Readable {
  const start = options.start ?? 0;
  const end = options.end ?? Number.POSITIVE_INFINITY;
  if (!Number.isSafeInteger(start) || start < 0) throw new RangeError(`The value of "start" is out of range. It must be >= 0. Received ${start}`);
  if (end !== Number.POSITIVE_INFINITY && (!Number.isSafeInteger(end) || end < start)) {
    throw new RangeError(`The value of "end" is out of range. It must be >= ${start}. Received ${end}`);
  }
  const signal = options.signal;
  let data: FileContent | null = null;
  let position = start;
  let stop = 0;
  const stream = new Readable({
    highWaterMark: options.highWaterMark ?? 64 * 1024,
    encoding: options.encoding,
    construct(callback) {
      open().then((d) => {
        data = d;
        stop = Math.min(d.size, end + 1);
        callback();
      }, callback);
    },
    read(size) {
      if (position >= stop) {
        this.push(null);
        return;
      }
      const len = Math.min(size, stop - position);
      guardRead('read', path, signal, () => data!.read(position, len, { signal })).then((chunk) => {
        position += chunk.length;
        this.push(chunk);
      }, (err: Error) => this.destroy(err));
    },
  });
  if (signal !== undefined) {
    const onAbort = (): void => { stream.destroy(aborted(signal)); };
    if (signal.aborted) queueMicrotask(onAbort);
    else {
      signal.addEventListener('abort', onAbort, { once: true });
      stream.once('close', () => signal.removeEventListener('abort', onAbort));
    }
  }
  return stream;
}
