import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageError } from '../errors/image-fs-error.js';
import { derivedKeyFileName, type CacheKey } from './keys.js';

/** The file that marks a directory as an imagefs cache. */
export const CACHE_MARKER_FILE = 'imagefs-cache.json';
/** The on-disk layout version this code writes and reads. */
export const CACHE_LAYOUT_VERSION = 1;
/** The directories of the layout, relative to the cache directory, parents first. */
export const CACHE_SUBDIRS = ['tmp', 'other', 'blobs', 'blobs/sha256', 'blobs/sha512'] as const;
/** The directories that hold committed entries. */
export const CACHE_ENTRY_DIRS = ['blobs/sha256', 'blobs/sha512', 'other'] as const;

const INIT_PREFIX = '.imagefs-init-';

/**
 * Where the entry `key` lives under the cache directory `dir`: `blobs/<algo>/<hex>` for a digest
 * key, `other/<derivedKeyFileName(key)>` for a derived key. Never outside `dir`.
 *
 * @example
 * ```ts
 * entryPath('/c', validateCacheKey('sha256:' + 'a'.repeat(64))); // '/c/blobs/sha256/aaa...'
 * ```
 */
export function entryPath(dir: string, key: CacheKey): string {
  return key.kind === 'digest'
    ? join(dir, 'blobs', key.digest.algorithm, key.digest.hex)
    : join(dir, 'other', derivedKeyFileName(key.key));
}

/** A unique temp file name: several processes may share the directory. */
export function uniqueTempName(suffix: string): string {
  return `${process.pid}-${randomBytes(8).toString('hex')}${suffix}`;
}

/**
 * Makes `dir` ready to serve as a cache: creates it when missing, adopts an empty directory
 * (writes the marker atomically), reuses a directory that holds an imagefs marker of a known
 * version, and refuses anything else with `FailedPrecondition`. Then creates the layout's
 * directories, refusing any that is a symbolic link, and removes temp files older than
 * `staleTempMs` (writes that a crashed process left behind).
 */
export async function prepareCacheDir(dir: string, staleTempMs: number): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw refuse(dir, `cannot create the cache directory ${dir}: ${(error as Error).message}`, 'pass a directory you can write to', error);
  }
  const top = await stat(dir);
  if (!top.isDirectory()) throw refuse(dir, `${dir} is not a directory`, 'pass a directory for the cache');
  if (!(await readMarker(dir))) await adopt(dir);
  for (const sub of CACHE_SUBDIRS) {
    const path = join(dir, sub);
    await mkdir(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    const info = await lstat(path);
    if (!info.isDirectory()) {
      throw refuse(dir, `${path} is ${info.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}; imagefs never follows links inside its cache`, `remove ${path} (or the whole cache directory) and retry`);
    }
  }
  await removeStale(join(dir, 'tmp'), () => true, staleTempMs);
  await removeStale(dir, (name) => name.startsWith(INIT_PREFIX), staleTempMs);
}

/** True when `dir` holds a valid marker; throws `FailedPrecondition` for a foreign or newer one. */
async function readMarker(dir: string): Promise<boolean> {
  const path = join(dir, CACHE_MARKER_FILE);
  let text: string;
  try {
    const info = await lstat(path);
    if (!info.isFile()) throw refuse(dir, `${path} is not a regular file`, `remove ${dir} or pass another directory`);
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  let marker: unknown;
  try {
    marker = JSON.parse(text);
  } catch (error) {
    throw refuse(dir, `${path} is not valid JSON, so ${dir} is not a usable imagefs cache`, `remove ${dir} and retry`, error);
  }
  const { format, version } = (marker ?? {}) as { format?: unknown; version?: unknown };
  if (format !== 'imagefs-cache' || typeof version !== 'number') {
    throw refuse(dir, `${path} does not describe an imagefs cache`, `remove ${dir} or pass another directory`);
  }
  if (version > CACHE_LAYOUT_VERSION) {
    throw refuse(dir, `${dir} is an imagefs cache of layout version ${version}; this imagefs reads version ${CACHE_LAYOUT_VERSION}`, 'upgrade imagefs or pass another cache directory');
  }
  return true;
}

/** Writes the marker into an empty directory; refuses a non-empty one that is not a cache. */
async function adopt(dir: string): Promise<void> {
  const names = (await readdir(dir)).filter((name) => !name.startsWith(INIT_PREFIX));
  // Another process may have adopted the directory since we looked for the marker.
  if (names.includes(CACHE_MARKER_FILE) && (await readMarker(dir))) return;
  if (names.length > 0) {
    const shown = names.slice(0, 3).join(', ') + (names.length > 3 ? ', ...' : '');
    throw refuse(
      dir,
      `${dir} is not empty (${shown}) and is not an imagefs cache (no ${CACHE_MARKER_FILE})`,
      'pass an empty or new directory with --cache, or remove this one',
    );
  }
  // Write then rename: a concurrent opener sees no marker or a whole one, never a partial file.
  const temp = join(dir, INIT_PREFIX + uniqueTempName('.json'));
  await writeFile(temp, `${JSON.stringify({ format: 'imagefs-cache', version: CACHE_LAYOUT_VERSION })}\n`, { flag: 'wx', mode: 0o644 });
  await rename(temp, join(dir, CACHE_MARKER_FILE));
}

async function removeStale(dir: string, pick: (name: string) => boolean, staleTempMs: number): Promise<void> {
  const cutoff = Date.now() - staleTempMs;
  for (const name of await readdir(dir)) {
    if (!pick(name)) continue;
    const path = join(dir, name);
    try {
      const info = await lstat(path);
      if (!info.isDirectory() && info.mtimeMs < cutoff) await unlink(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

function refuse(dir: string, message: string, hint: string, cause?: unknown): ImageError {
  return new ImageError('FailedPrecondition', message, { subject: dir, hint, cause });
}
