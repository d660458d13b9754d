/**
 * What `imagefs cache ls|prune|rm` do to a disk cache directory: list its entries, trim it to a
 * size, remove everything about one digest.
 * @module
 */
import { lstat, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidArgument } from '../errors/image-fs-error.js';
import { tryParseDigest } from '../image/digest.js';
import { CACHE_ENTRY_DIRS } from './disk-layout.js';

/** The default size bound of the CLI's disk cache: 10 GiB (`imagefs cache prune` without `--max`). */
export const DEFAULT_CACHE_MAX_BYTES = 10 * 1024 * 1024 * 1024;

/** Entries used this recently (ms) count as in use: `pruneDiskCache` never evicts them. 10 minutes. */
export const DEFAULT_IN_USE_MS = 10 * 60 * 1000;

/** One committed entry of a disk cache. */
export interface DiskCacheEntry {
  /** The key (`sha256:<hex>`, `blob-range/<digest>/<a>-<b>`...); `~<hash>` for long derived keys. */
  key: string;
  /** What it holds: `blob`, `layer-tar`, `layer-index`, `span` (compressed range), or `other`. */
  kind: 'blob' | 'layer-tar' | 'layer-index' | 'span' | 'other';
  /** The digest it belongs to (a blob's own, a span's layer), when the key names one. */
  digest?: string;
  /** Bytes. */
  size: number;
  /** Last use: the later of atime and mtime, ms since the epoch. */
  usedMs: number;
  /** The file (absolute). */
  path: string;
}

/**
 * Every committed entry of the cache directory `dir` (regular files only; temp files, links and
 * foreign names are skipped), least recently used first.
 *
 * @example
 * ```ts
 * const total = (await listDiskCache(dir)).reduce((s, e) => s + e.size, 0);
 * ```
 */
export async function listDiskCache(dir: string): Promise<DiskCacheEntry[]> {
  const out: DiskCacheEntry[] = [];
  for (const sub of CACHE_ENTRY_DIRS) {
    let names: string[];
    try {
      names = await readdir(join(dir, sub));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    for (const name of names) {
      const path = join(dir, sub, name);
      const info = await lstat(path).catch(() => undefined);
      if (info === undefined || !info.isFile()) continue;
      const key = sub === 'other' ? decodeName(name) : `${sub.slice('blobs/'.length)}:${name}`;
      if (key === undefined) continue;
      out.push({ key, ...classify(key), size: info.size, usedMs: Math.max(info.atimeMs, info.mtimeMs), path });
    }
  }
  return out.sort((a, b) => a.usedMs - b.usedMs);
}

/** Options of {@link pruneDiskCache}. */
export interface PruneOptions {
  /** Trim to this many bytes. Default {@link DEFAULT_CACHE_MAX_BYTES}. */
  maxBytes?: number;
  /** Entries used within this many ms are in use and kept. Default {@link DEFAULT_IN_USE_MS}. */
  inUseMs?: number;
  /** Now, in ms since the epoch (for tests). Default `Date.now()`. */
  now?: number;
}

/**
 * Deletes least recently used entries until the cache holds at most `maxBytes`, never an entry
 * used within `inUseMs` (a running imagefs reads or writes it; readers that hold a file open keep
 * reading it after it is deleted anyway). Returns what was deleted and what remains.
 *
 * @example
 * ```ts
 * const { removed, remainingBytes } = await pruneDiskCache(dir, { maxBytes: 5 * 2 ** 30 });
 * ```
 */
export async function pruneDiskCache(dir: string, options: PruneOptions = {}): Promise<{ removed: DiskCacheEntry[]; remainingBytes: number }> {
  const maxBytes = options.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw invalidArgument(`the cache size bound must be a non-negative number of bytes, got ${String(maxBytes)}`, { hint: 'pass --max BYTES, e.g. --max 5G' });
  const cutoff = (options.now ?? Date.now()) - (options.inUseMs ?? DEFAULT_IN_USE_MS);
  const entries = await listDiskCache(dir);
  let total = entries.reduce((s, e) => s + e.size, 0);
  const removed: DiskCacheEntry[] = [];
  for (const entry of entries) {
    if (total <= maxBytes) break;
    if (entry.usedMs >= cutoff) continue;
    await unlink(entry.path).catch(() => {});
    total -= entry.size;
    removed.push(entry);
  }
  return { removed, remainingBytes: total };
}

/**
 * Removes everything the cache holds about `digest`: the blob, its uncompressed tar, its layer
 * index and its stored spans. Returns the entries removed.
 *
 * @throws ImageError `InvalidArgument` when `digest` is not `sha256:<hex>` or `sha512:<hex>`.
 * @example
 * ```ts
 * await removeFromDiskCache(dir, 'sha256:' + 'a'.repeat(64));
 * ```
 */
export async function removeFromDiskCache(dir: string, digest: string): Promise<DiskCacheEntry[]> {
  if (tryParseDigest(digest) === undefined) throw invalidArgument(`'${digest}' is not a digest`, { hint: 'pass sha256:<64 hex> as imagefs cache ls prints it' });
  const gone = (await listDiskCache(dir)).filter((e) => e.digest === digest);
  for (const e of gone) await unlink(e.path).catch(() => {});
  return gone;
}

/** The key a derived entry's file name stands for (see `derivedKeyFileName`). */
function decodeName(name: string): string | undefined {
  if (name.startsWith('~')) return name;
  try {
    return decodeURIComponent(name);
  } catch {
    return undefined;
  }
}

function classify(key: string): Pick<DiskCacheEntry, 'kind' | 'digest'> {
  if (tryParseDigest(key) !== undefined) return { kind: 'blob', digest: key };
  const [ns, digest] = key.split('/');
  const known = digest !== undefined && tryParseDigest(digest) !== undefined ? { digest } : {};
  if (ns === 'layer-tar') return { kind: 'layer-tar', ...known };
  if (ns === 'layer-index') return { kind: 'layer-index', ...known };
  if (ns === 'blob-range') return { kind: 'span', ...known };
  return { kind: 'other', ...known };
}
