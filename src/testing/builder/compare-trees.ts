import { createHash } from 'node:crypto';
import type { DiskNode } from './disk-tree.js';
import { linkCounts, type ExpectedNode } from './expected-tree.js';

/** Options of {@link compareTrees}. */
export interface CompareOptions {
  /** Compare mtimes of non-directories (to the microsecond). Default true. */
  mtime?: boolean;
  /** Compare mtimes of directories too (extractors often touch them). Default false. */
  dirMtime?: boolean;
  /** Compare hardlink groups (same inode, nlink). Default true. */
  hardlinks?: boolean;
  /** Xattr names to ignore on the actual side (e.g. ones the file system adds). */
  ignoreXattrs?: readonly string[];
}

function hex(bytes: Uint8Array | undefined): string {
  return bytes === undefined ? '(none)' : Buffer.from(bytes).toString('hex');
}

/**
 * Compares the tree the builder intended ({@link expectedTree}) with one read from disk
 * ({@link readDiskTree}) and returns every difference as a line `PATH: what differs` (empty when
 * they match): missing or extra paths, type, mode (not for symlinks), uid, gid, size, content,
 * link target, device numbers, xattrs, mtimes and hardlink groups.
 *
 * @example
 * ```ts
 * expect(compareTrees(expectedTree(layers), await readDiskTree(rootfs))).toEqual([]);
 * ```
 */
export function compareTrees(expected: Map<string, ExpectedNode>, actual: Map<string, DiskNode>, options: CompareOptions = {}): string[] {
  const diffs: string[] = [];
  const ignore = new Set(options.ignoreXattrs ?? []);
  for (const path of actual.keys()) if (!expected.has(path)) diffs.push(`${path}: unexpected path (${actual.get(path)!.type})`);
  const inodeOf = new Map<number, number>();
  const counts = linkCounts(expected);
  for (const [path, e] of expected) {
    const a = actual.get(path);
    if (!a) {
      diffs.push(`${path}: missing`);
      continue;
    }
    const d = (what: string, want: unknown, got: unknown): void => {
      if (want !== got) diffs.push(`${path}: ${what} want ${String(want)} got ${String(got)}`);
    };
    d('type', e.type, a.type);
    if (e.type !== a.type) continue;
    if (e.type !== 'symlink') d('mode', e.mode.toString(8), a.mode.toString(8));
    d('uid', e.uid, a.uid);
    d('gid', e.gid, a.gid);
    if (e.type === 'file') {
      const data = e.data ?? new Uint8Array(0);
      d('size', data.length, a.size);
      d('sha256', `sha256:${createHash('sha256').update(data).digest('hex')}`, a.sha256);
    }
    if (e.type === 'symlink') d('link target', e.linkTarget, a.linkTarget);
    if (e.type === 'char' || e.type === 'block') {
      d('major', e.devMajor, a.devMajor);
      d('minor', e.devMinor, a.devMinor);
    }
    const names = new Set([...Object.keys(e.xattrs), ...Object.keys(a.xattrs).filter((n) => !ignore.has(n))]);
    for (const n of [...names].sort()) d(`xattr ${n}`, hex(e.xattrs[n]), hex(a.xattrs[n]));
    if ((options.mtime ?? true) && (e.type !== 'dir' || options.dirMtime)) {
      if (Math.abs(e.mtime - a.mtime) > 1e-6) d('mtime', e.mtime, a.mtime);
    }
    if (options.hardlinks ?? true) {
      if (e.type !== 'dir') d('nlink', counts.get(e.inode), a.nlink);
      const seen = inodeOf.get(e.inode);
      if (seen === undefined) inodeOf.set(e.inode, a.ino);
      else if (seen !== a.ino) diffs.push(`${path}: should share an inode with its hardlinks but does not`);
    }
  }
  return diffs;
}
