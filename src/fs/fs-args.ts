import { constants as fsc } from 'node:fs';
import { FsError } from '../errors/fs-error.js';
import { aborted, ImageFsError } from '../errors/image-fs-error.js';
import { displayName, encodeRawName, fromPathLike, hasLoneSurrogate } from '../tar/raw-name.js';

/** A path as `node:fs` takes one: a string, a Buffer (exact name bytes) or a `file:` URL. */
export type PathLike = string | Buffer | URL;

/** The encodings a name or path can be returned in: Node's text encodings, or `'buffer'`. */
export type NameEncoding = BufferEncoding | 'buffer';

/** A path argument turned into what imagefs resolves (`key`) and what errors show (`shown`). */
export interface PathArg {
  /** The raw-name string to resolve. */
  key: string;
  /** The path as errors name it. */
  shown: string;
}

/** Validates and converts a {@link PathLike}. A `TypeError` for anything else, as Node throws. */
export function pathArg(path: PathLike): PathArg {
  if (typeof path === 'string') return { key: fromPathLike(path), shown: path };
  if (path instanceof Uint8Array || path instanceof URL) {
    const key = fromPathLike(path);
    return { key, shown: displayName(key) };
  }
  throw new TypeError(`The "path" argument must be of type string or an instance of Buffer or URL. Received ${typeof path}`);
}

/** A name (raw-name string) in the encoding asked for, as Node returns names. */
export function encodeName(name: string, encoding: NameEncoding | null | undefined): string | Buffer {
  if (encoding === 'buffer') return Buffer.from(encodeRawName(name));
  if ((encoding === undefined || encoding === null || encoding === 'utf8' || encoding === 'utf-8') && !hasLoneSurrogate(name)) return name;
  return Buffer.from(encodeRawName(name)).toString(encoding ?? 'utf8');
}

/** The `encoding` of an options argument given as a string or `{ encoding }`. */
export function encodingOf(options: unknown): NameEncoding | undefined {
  if (typeof options === 'string') return options as NameEncoding;
  if (options !== null && typeof options === 'object' && 'encoding' in options) {
    const e = (options as { encoding?: unknown }).encoding;
    return e === null || e === undefined ? undefined : (e as NameEncoding);
  }
  return undefined;
}

/** What {@link parseOpenFlags} makes of `open`'s flags. */
export interface OpenFlags {
  /** The numeric flags. */
  flags: number;
  /** True when the flags ask to write, create or truncate. */
  writes: boolean;
}

const STRING_FLAGS: Record<string, number> = {
  r: fsc.O_RDONLY, rs: fsc.O_RDONLY | fsc.O_SYNC, sr: fsc.O_RDONLY | fsc.O_SYNC,
  'r+': fsc.O_RDWR, 'rs+': fsc.O_RDWR | fsc.O_SYNC, 'sr+': fsc.O_RDWR | fsc.O_SYNC,
  w: fsc.O_TRUNC | fsc.O_CREAT | fsc.O_WRONLY, wx: fsc.O_TRUNC | fsc.O_CREAT | fsc.O_WRONLY | fsc.O_EXCL,
  xw: fsc.O_TRUNC | fsc.O_CREAT | fsc.O_WRONLY | fsc.O_EXCL,
  'w+': fsc.O_TRUNC | fsc.O_CREAT | fsc.O_RDWR, 'wx+': fsc.O_TRUNC | fsc.O_CREAT | fsc.O_RDWR | fsc.O_EXCL,
  'xw+': fsc.O_TRUNC | fsc.O_CREAT | fsc.O_RDWR | fsc.O_EXCL,
  a: fsc.O_APPEND | fsc.O_CREAT | fsc.O_WRONLY, ax: fsc.O_APPEND | fsc.O_CREAT | fsc.O_WRONLY | fsc.O_EXCL,
  xa: fsc.O_APPEND | fsc.O_CREAT | fsc.O_WRONLY | fsc.O_EXCL, as: fsc.O_APPEND | fsc.O_CREAT | fsc.O_WRONLY | fsc.O_SYNC,
  sa: fsc.O_APPEND | fsc.O_CREAT | fsc.O_WRONLY | fsc.O_SYNC, 'a+': fsc.O_APPEND | fsc.O_CREAT | fsc.O_RDWR,
  'ax+': fsc.O_APPEND | fsc.O_CREAT | fsc.O_RDWR | fsc.O_EXCL, 'xa+': fsc.O_APPEND | fsc.O_CREAT | fsc.O_RDWR | fsc.O_EXCL,
  'as+': fsc.O_APPEND | fsc.O_CREAT | fsc.O_RDWR | fsc.O_SYNC, 'sa+': fsc.O_APPEND | fsc.O_CREAT | fsc.O_RDWR | fsc.O_SYNC,
};

/** `open`'s flags, string (`'r'`, `'w+'`, ...) or numeric (`O_RDONLY | O_NOFOLLOW`), as Node takes them. */
export function parseOpenFlags(flags: string | number | undefined): OpenFlags {
  let n: number;
  if (flags === undefined || flags === null) n = fsc.O_RDONLY;
  else if (typeof flags === 'number') {
    if (!Number.isInteger(flags)) throw new TypeError(`The "flags" argument must be an integer, got ${flags}`);
    n = flags;
  } else {
    const known = STRING_FLAGS[flags];
    if (known === undefined) {
      const err = new TypeError(`The value "${flags}" is invalid for option "flags"`) as TypeError & { code: string };
      err.code = 'ERR_INVALID_ARG_VALUE';
      throw err;
    }
    n = known;
  }
  const writes = (n & 3) !== fsc.O_RDONLY || (n & (fsc.O_CREAT | fsc.O_TRUNC)) !== 0;
  return { flags: n, writes };
}

/**
 * Runs a read of file data for an fs call: an abort is the one `Aborted` `ImageError`; an
 * `FsError` passes; anything else (a layer that cannot be fetched or verified) becomes `EIO`
 * with the original error as `cause`, as a failing disk reaches `node:fs` callers.
 */
export async function guardRead<T>(syscall: string, path: string, signal: AbortSignal | undefined, read: () => Promise<T>): Promise<T> {
  if (signal?.aborted) throw aborted(signal);
  try {
    return await read();
  } catch (e) {
    if (signal?.aborted) throw aborted(signal);
    if (e instanceof FsError || (e instanceof ImageFsError && e.code === 'Aborted')) throw e;
    throw new FsError('EIO', syscall, path, undefined, e);
  }
}
