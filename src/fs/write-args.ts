import { FsError } from '../errors/fs-error.js';
import { S_IFDIR, S_IFMT } from '../overlay/file-type.js';
import { encodeRawName } from '../tar/raw-name.js';
import type { FsTree, Timespec } from '../tree/types.js';
import { resolvePath } from './resolve.js';

/**
 * The longest path in bytes (Linux `PATH_MAX` less its NUL).
 *
 * @example
 * ```ts
 * Buffer.byteLength(path) <= PATH_MAX;
 * ```
 */
export const PATH_MAX = 4095;
/**
 * The longest name of one component in bytes (Linux `NAME_MAX`).
 *
 * @example
 * ```ts
 * Buffer.byteLength(name) <= NAME_MAX_BYTES;
 * ```
 */
export const NAME_MAX_BYTES = 255;

/** Where a path that names an entry to make, remove or rename leads: its directory and last name. */
export interface ParentRef {
  /** The directory that holds (or will hold) the entry. */
  dir: number;
  /** The last component: a name, or `'.'`/`'..'`/`''` (the root) for the callers to refuse. */
  name: string;
  /** The path ended in `/`. */
  trailingSlash: boolean;
}

/**
 * Splits `key` (a raw-name string) into its directory, resolved following symlinks as the kernel
 * does for every component but the last, and its last component. `ENAMETOOLONG` for a component
 * over 255 bytes or a path over 4095; `ENOENT` for an empty path or a NUL; `ENOTDIR` when the
 * directory part is not one.
 *
 * @example
 * ```ts
 * const { dir, name } = resolveParent(tree, '/etc/motd', 'unlink', '/etc/motd');
 * ```
 */
export function resolveParent(tree: FsTree, key: string, syscall: string, shown: string, dest?: string): ParentRef {
  const fail = (code: 'ENOENT' | 'ENAMETOOLONG' | 'ENOTDIR'): FsError => new FsError(code, syscall, shown, dest);
  if (key === '' || key.includes('\0')) throw fail('ENOENT');
  if (encodeRawName(key).length > PATH_MAX) throw fail('ENAMETOOLONG');
  const parts = key.split('/').filter((p) => p !== '');
  for (const p of parts) if (encodeRawName(p).length > NAME_MAX_BYTES) throw fail('ENAMETOOLONG');
  const trailingSlash = key.endsWith('/');
  const name = parts.pop() ?? '';
  const parentPath = '/' + parts.join('/');
  let dir: number;
  try {
    dir = resolvePath(tree, parentPath, { follow: true, syscall, display: shown }).ino;
  } catch (e) {
    if (e instanceof FsError) throw new FsError(e.code, syscall, shown, dest);
    throw e;
  }
  if ((tree.modeOf(dir) & S_IFMT) !== S_IFDIR) throw fail('ENOTDIR');
  return { dir, name, trailingSlash };
}

/** A time as `utimes` takes it: seconds (number or numeric string), a `Date`, or nanoseconds as a `bigint`. */
export type TimeLike = number | string | Date | bigint;

/**
 * A {@link TimeLike} as a {@link Timespec}, exactly: a `bigint` is nanoseconds since the epoch,
 * a number or string seconds (its fraction to the nanosecond), a `Date` milliseconds.
 *
 * @example
 * ```ts
 * toTimespec(1700000000123456789n); // { sec: 1700000000, nsec: 123456789 }
 * ```
 */
export function toTimespec(t: TimeLike, name = 'time'): Timespec {
  if (typeof t === 'bigint') {
    const sec = t >= 0n ? t / 1_000_000_000n : -((-t + 999_999_999n) / 1_000_000_000n);
    return { sec: Number(sec), nsec: Number(t - sec * 1_000_000_000n) };
  }
  let seconds: number;
  if (t instanceof Date) seconds = t.getTime() / 1000;
  else if (typeof t === 'number') seconds = t;
  else if (typeof t === 'string' && t.trim() !== '' && Number.isFinite(Number(t))) seconds = Number(t);
  else {
    const err = new TypeError(`The "${name}" argument must be of type number, string, bigint or an instance of Date. Received ${typeof t}`) as TypeError & { code: string };
    err.code = 'ERR_INVALID_ARG_TYPE';
    throw err;
  }
  if (!Number.isFinite(seconds)) seconds = Date.now() / 1000;
  if (t instanceof Date) {
    const ms = t.getTime();
    const sec = Math.floor(ms / 1000);
    return { sec, nsec: (ms - sec * 1000) * 1_000_000 };
  }
  const sec = Math.floor(seconds);
  let nsec = Math.round((seconds - sec) * 1e9);
  if (nsec >= 1e9) return { sec: sec + 1, nsec: 0 };
  if (nsec < 0) nsec = 0;
  return { sec, nsec };
}

/**
 * Node's `ERR_INVALID_ARG_TYPE` for a write's data.
 *
 * @example
 * ```ts
 * dataArg('hi', 'utf8'); // <Buffer 68 69>
 * ```
 */
export function dataArg(data: unknown, encoding: BufferEncoding | undefined): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, encoding ?? 'utf8');
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const err = new TypeError(`The "data" argument must be of type string or an instance of Buffer, TypedArray, or DataView. Received ${typeof data}`) as TypeError & { code: string };
  err.code = 'ERR_INVALID_ARG_TYPE';
  throw err;
}
