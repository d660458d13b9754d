import type { ImageDirent } from './stats.js';

/**
 * An open directory of an {@link ImageFs}, shaped like `node:fs` `Dir`: `read()` gives the next
 * entry or null, `close()`, async iteration (which closes the directory at the end), and
 * `[Symbol.asyncDispose]`. Entries come sorted by the bytes of their names; with `recursive`, the
 * entries of subdirectories follow as `opendir(path, { recursive: true })` gives them.
 *
 * @example
 * ```ts
 * for await (const dirent of await fs.opendir('/etc')) console.log(dirent.name, dirent.isDirectory());
 * ```
 */
export class ImageDir<Name extends string | Buffer = string> implements AsyncIterable<ImageDirent<Name>> {
  private closed = false;

  constructor(
    /** The path the directory was opened by. */
    readonly path: string,
    private readonly entries: Iterator<ImageDirent<Name>>,
  ) {}

  /** The next entry, or null at the end. */
  async read(): Promise<ImageDirent<Name> | null> {
    return this.readSync();
  }

  /** The next entry, or null at the end (synchronously: the listing is in memory). */
  readSync(): ImageDirent<Name> | null {
    if (this.closed) throw dirClosed();
    const next = this.entries.next();
    return next.done === true ? null : next.value;
  }

  /** Closes the directory; later reads and a second close fail with `ERR_DIR_CLOSED`. */
  async close(): Promise<void> {
    this.closeSync();
  }

  /** Same as {@link ImageDir.close}, synchronously. */
  closeSync(): void {
    if (this.closed) throw dirClosed();
    this.closed = true;
  }

  /** Closes the directory if it is still open, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.closed) this.closed = true;
  }

  /** Yields every remaining entry, then closes the directory. */
  async *[Symbol.asyncIterator](): AsyncGenerator<ImageDirent<Name>> {
    try {
      for (let e = this.readSync(); e !== null; e = this.readSync()) yield e;
    } finally {
      if (!this.closed) this.closed = true;
    }
  }
}

function dirClosed(): Error {
  const err = new Error('Directory handle was closed') as Error & { code: string };
  err.code = 'ERR_DIR_CLOSED';
  return err;
}
