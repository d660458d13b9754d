import { DiskCache } from '../../cache/disk-cache.js';
import { DEFAULT_CACHE_MAX_BYTES, listDiskCache, pruneDiskCache, removeFromDiskCache, type DiskCacheEntry } from '../../cache/disk-admin.js';
import { writeOut, type CommandContext, type CommandSpec } from '../command-spec.js';
import { UsageError } from '../usage-error.js';
import { humanBytes } from '../format.js';

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * Parses `--max BYTES`: a whole number with an optional binary suffix (`K`, `M`, `G`, `T`, also
 * `KiB`...). Throws UsageError otherwise.
 *
 * @example
 * ```ts
 * parseByteSize('5G'); // 5368709120
 * ```
 */
export function parseByteSize(text: string): number {
  const m = /^([0-9]+)\s*([kmgt]?)(i?b)?$/i.exec(text.trim());
  const n = m === null ? NaN : Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(n)) throw new UsageError(`--max '${text}' is not a size (a whole number of bytes, or with K, M, G or T)`, 'cache');
  return n;
}

/** One row of `cache ls`: everything held for one digest. */
interface Row {
  digest: string;
  bytes: number;
  entries: number;
  kinds: string[];
}

function rows(entries: readonly DiskCacheEntry[]): Row[] {
  const byDigest = new Map<string, Row>();
  for (const e of entries) {
    const digest = e.digest ?? e.key;
    const row = byDigest.get(digest) ?? { digest, bytes: 0, entries: 0, kinds: [] };
    row.bytes += e.size;
    row.entries++;
    if (!row.kinds.includes(e.kind)) row.kinds.push(e.kind);
    byDigest.set(digest, row);
  }
  return [...byDigest.values()].sort((a, b) => b.bytes - a.bytes);
}

async function cacheDir(ctx: CommandContext): Promise<string> {
  const dir = ctx.global.cacheDir;
  if (dir === undefined) throw new UsageError('cache works on the cache directory: drop --no-cache (or pass --cache DIR)', 'cache');
  await (await DiskCache.open(dir)).close(); // refuses a directory that is not an imagefs cache
  return dir;
}

/** `imagefs cache ls` / `cache prune [--max BYTES]` / `cache rm DIGEST`. */
export const cacheCommand: CommandSpec = {
  name: 'cache',
  args: ['ls|prune|rm', 'DIGEST?'],
  summary: 'list, trim or clear the disk cache',
  details: `ls: what the cache holds, per digest (blob, layer-tar, layer-index, span entries) with sizes, largest first, then the total. prune [--max BYTES]: deletes least recently used entries until the cache holds at most BYTES (default ${DEFAULT_CACHE_MAX_BYTES} bytes = 10 GiB; K, M, G, T suffixes allowed), never an entry used in the last 10 minutes (a running imagefs may be reading it). rm DIGEST: deletes everything held for that digest. With --json: ls prints {dir, bytes, entries: [{digest, bytes, entries, kinds}]}, prune and rm {dir, removed: [{key, size}], bytes}.`,
  options: [{ name: 'max', value: 'BYTES', description: `prune: the size to trim to (default ${DEFAULT_CACHE_MAX_BYTES}, 10 GiB)` }],
  async run(ctx) {
    const [sub, arg] = ctx.args;
    const out = (text: string): Promise<void> => writeOut(ctx.io.stdout, text);
    if (sub === 'ls') {
      if (arg !== undefined) throw new UsageError('cache ls takes no argument', 'cache');
      const dir = await cacheDir(ctx);
      const list = rows(await listDiskCache(dir));
      const total = list.reduce((s, r) => s + r.bytes, 0);
      if (ctx.global.json) await out(`${JSON.stringify({ dir, bytes: total, entries: list })}\n`);
      else {
        for (const r of list) await out(`${r.digest}  ${humanBytes(r.bytes)}  ${r.kinds.join(',')}${r.entries > 1 ? ` (${r.entries} entries)` : ''}\n`);
        await out(`total ${humanBytes(total)} (${total} bytes) in ${dir}\n`);
      }
      return 0;
    }
    if (sub === 'prune') {
      if (arg !== undefined) throw new UsageError('cache prune takes no argument (use --max BYTES)', 'cache');
      const max = ctx.flags['max'];
      const maxBytes = typeof max === 'string' ? parseByteSize(max) : DEFAULT_CACHE_MAX_BYTES;
      const dir = await cacheDir(ctx);
      const { removed, remainingBytes } = await pruneDiskCache(dir, { maxBytes });
      await report(ctx, dir, removed, remainingBytes);
      return 0;
    }
    if (sub === 'rm') {
      if (arg === undefined) throw new UsageError('cache rm needs a DIGEST (as cache ls prints it)', 'cache');
      const dir = await cacheDir(ctx);
      const removed = await removeFromDiskCache(dir, arg);
      const remaining = (await listDiskCache(dir)).reduce((s, e) => s + e.size, 0);
      await report(ctx, dir, removed, remaining);
      return 0;
    }
    throw new UsageError(`cache needs ls, prune or rm (got '${sub ?? ''}')`, 'cache');
  },
};

async function report(ctx: CommandContext, dir: string, removed: readonly DiskCacheEntry[], remaining: number): Promise<void> {
  const freed = removed.reduce((s, e) => s + e.size, 0);
  if (ctx.global.json) await writeOut(ctx.io.stdout, `${JSON.stringify({ dir, removed: removed.map((e) => ({ key: e.key, size: e.size })), bytes: remaining })}\n`);
  else if (!ctx.global.quiet) await writeOut(ctx.io.stdout, `removed ${removed.length} entries (${humanBytes(freed)}); the cache holds ${humanBytes(remaining)} (${remaining} bytes)\n`);
}
