import { resolve } from 'node:path';
import type { ImageFs } from '../../fs/image-fs.js';
import type { UpperOptions } from '../../upper/upper-tree.js';
import type { CommandContext } from '../command-spec.js';
import { UsageError } from '../usage-error.js';

/**
 * The upper that `--writable [--upper DIR]` asks for: the directory (absolute), an in-memory upper
 * (`{}`) without `--upper`, or undefined without `--writable` (read-only). `--upper` alone is a
 * usage error.
 *
 * @example
 * ```ts
 * const upper = writableUpper(ctx, 'mount'); // '/var/lib/app/upper' for --writable --upper /var/lib/app/upper
 * ```
 */
export function writableUpper(ctx: CommandContext, command: string): string | UpperOptions | undefined {
  const upper = ctx.flags['upper'];
  if (ctx.flags['writable'] !== true) {
    if (upper !== undefined) throw new UsageError('--upper DIR needs --writable', command);
    return undefined;
  }
  if (upper === undefined) return {};
  if (typeof upper !== 'string' || upper === '') throw new UsageError('--upper needs a directory', command);
  return resolve(upper);
}

/**
 * After a writable mount has ended: rewrites an on-disk upper's journal as one snapshot
 * (`compact`), so that the next mount replays one record instead of every change. A failure
 * (a full disk) leaves the journal as it was and is returned as a message, not thrown.
 *
 * @example
 * ```ts
 * const problem = compactUpper(await image.openImageFs());
 * if (problem !== undefined) console.error(problem);
 * ```
 */
export function compactUpper(fs: ImageFs): string | undefined {
  const tree = fs.tree as Partial<{ compact(): void }>;
  if (typeof tree.compact !== 'function') return undefined;
  try {
    tree.compact();
    return undefined;
  } catch (error) {
    return `imagefs: compacting the upper journal failed (it stays as it was): ${(error as Error).message}\n`;
  }
}
