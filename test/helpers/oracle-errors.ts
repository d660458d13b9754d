// Compares the errors of ImageFs calls with the errors of the same node:fs/promises calls on an
// exported copy of the image: Node's error shape (code, errno, syscall, path) is the oracle.
import * as nodeFs from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageFs } from '../../src/fs/image-fs.js';

/** A call both sides understand: ImageFs gets the image path, node:fs the exported path. */
export type Call = (fs: Pick<ImageFs, 'stat' | 'lstat' | 'readFile' | 'readdir' | 'readlink' | 'realpath' | 'access' | 'open'>, path: string) => Promise<unknown>;

/** The calls compared by {@link errorShapes}, by name. */
export const CALLS: Record<string, Call> = {
  stat: (fs, p) => fs.stat(p),
  lstat: (fs, p) => fs.lstat(p),
  readFile: (fs, p) => fs.readFile(p),
  readdir: (fs, p) => fs.readdir(p),
  readlink: (fs, p) => fs.readlink(p),
  realpath: (fs, p) => fs.realpath(p),
  access: (fs, p) => fs.access(p),
  open: async (fs, p) => { const h = await fs.open(p); await h.close(); },
};

/** The outcome of one call: `ok`, or the error's code, errno, syscall and path (relative to the root). */
export async function outcome(call: Call, fs: Parameters<Call>[0], path: string, root: string): Promise<string> {
  try {
    await call(fs, path);
    return 'ok';
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const rel = typeof err.path === 'string' && err.path.startsWith(root) ? err.path.slice(root.length) : err.path;
    return `${err.code} errno=${err.errno} syscall=${err.syscall} path=${rel}`;
  }
}

/**
 * For every call of {@link CALLS} and every path (absolute image paths), the outcome through
 * ImageFs and through node:fs on `exported` (an export of the same image), one line each:
 * `call path: imagefs-outcome | node-outcome`. Lines where both agree are left out.
 */
export async function errorShapes(fs: ImageFs, exported: string, paths: readonly string[]): Promise<string[]> {
  const diffs: string[] = [];
  for (const path of paths) {
    for (const [name, call] of Object.entries(CALLS)) {
      const mine = await outcome(call, fs, path, '');
      const theirs = await outcome(call, nodeFs as unknown as Parameters<Call>[0], join(exported, path), exported);
      if (mine !== theirs) diffs.push(`${name} ${path}: ${mine} | ${theirs}`);
    }
  }
  return diffs;
}
