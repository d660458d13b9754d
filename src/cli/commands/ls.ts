import type { ReadOptions } from '../../source/read-at.js';
import { childPath, compareNames, imagePath, longLines, statJson } from '../format.js';
import { withImage, writeOut, type CommandSpec } from '../command-spec.js';
import type { CliFs, CliStats } from '../types.js';

interface Row {
  /** Absolute path in the image. */
  path: string;
  /** What the text listing shows (the name, or the path with -R). */
  name: string;
  stats: CliStats;
}

async function isDirectory(fs: CliFs, path: string, stats: CliStats, followSymlink: boolean, options: ReadOptions): Promise<boolean> {
  if (stats.type === 'dir') return true;
  if (stats.type !== 'symlink' || !followSymlink) return false;
  try {
    return (await fs.stat(path, options)).type === 'dir';
  } catch {
    return false;
  }
}

async function children(fs: CliFs, dir: string, options: ReadOptions): Promise<Array<{ path: string; name: string; stats: CliStats }>> {
  const names = (await fs.readdir(dir, options)).sort(compareNames);
  const out: Array<{ path: string; name: string; stats: CliStats }> = [];
  for (const name of names) {
    const path = childPath(dir, name);
    out.push({ path, name, stats: await fs.lstat(path, options) });
  }
  return out;
}

/** Every path under `dir`, depth first, names in byte order; symlinks are not followed. */
async function walk(fs: CliFs, dir: string, options: ReadOptions, rows: Row[]): Promise<void> {
  for (const child of await children(fs, dir, options)) {
    rows.push({ path: child.path, name: child.path, stats: child.stats });
    if (child.stats.type === 'dir') await walk(fs, child.path, options, rows);
  }
}

/** `imagefs ls REF [PATH] [-l] [-R]`. */
export const lsCommand: CommandSpec = {
  name: 'ls',
  args: ['REF', 'PATH?'],
  summary: 'list a directory of the merged filesystem (default /)',
  details: 'Lists the names in PATH (default /), in byte order. A symlink to a directory given as PATH is followed unless -l is given, as ls does. -l prints ls -l-like lines (MODE NLINK UID GID SIZE DATE TIME NAME[ -> TARGET], times in UTC). -R lists every path under PATH, depth first, as full paths, without following symlinks. With --json: an array of the stat objects (see imagefs help stat) of the listed paths; with -R, of every path under PATH.',
  options: [
    { name: 'long', short: 'l', description: 'long listing: mode, links, owner, size, time' },
    { name: 'recursive', short: 'R', description: 'list every path under PATH' },
  ],
  async run(ctx) {
    const path = imagePath(ctx.args[1] ?? '/');
    const long = ctx.flags['long'] === true;
    const recursive = ctx.flags['recursive'] === true;
    const options = ctx.signal === undefined ? {} : { signal: ctx.signal };
    const rows = await withImage(ctx, ctx.args[0]!, async (image) => {
      const fs = await image.openFs(options);
      const stats = await fs.lstat(path, options);
      if (!(await isDirectory(fs, path, stats, !long || recursive, options))) return [{ path, name: path, stats }];
      const rows: Row[] = [];
      if (recursive) await walk(fs, path, options, rows);
      else rows.push(...(await children(fs, path, options)));
      return rows;
    });
    let text: string;
    if (ctx.global.json) text = `${JSON.stringify(rows.map((r) => statJson(r.path, r.stats)), null, 2)}\n`;
    else if (long) text = longLines(rows).map((l) => `${l}\n`).join('');
    else text = rows.map((r) => `${r.name}\n`).join('');
    await writeOut(ctx.io.stdout, text);
    return 0;
  },
};
