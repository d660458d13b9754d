import { Readable } from 'node:stream';
import type { FileData } from './file-data.js';

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
  /** Destroys the stream with an `AbortError` when fired. */
  signal?: AbortSignal;
}

/**
 * A Node `Readable` over one file's bytes; the file is opened (resolved) when the stream starts,
 * and errors (`ENOENT`, `EISDIR`...) are emitted as `'error'`, as `fs.createReadStream` does.
 */
export function createFileReadStream(open: () => Promise<FileData>, options: ReadStreamOptions = {}): Readable {
  const start = options.start ?? 0;
  const end = options.end ?? Number.POSITIVE_INFINITY;
  if (!Number.isInteger(start) || start < 0) throw new RangeError(`start must be a non-negative integer, got ${start}`);
  if (end !== Number.POSITIVE_INFINITY && (!Number.isInteger(end) || end < start)) throw new RangeError(`end must be an integer >= start, got ${end}`);
  let data: FileData | null = null;
  let position = start;
  let stop = 0;
  return new Readable({
    highWaterMark: options.highWaterMark ?? 64 * 1024,
    encoding: options.encoding,
    signal: options.signal,
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
      data!.read(position, len, { signal: options.signal }).then((chunk) => {
        position += chunk.length;
        this.push(chunk);
      }, (err: Error) => this.destroy(err));
    },
  });
}
