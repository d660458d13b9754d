import { spawn } from 'node:child_process';
import { lutimes } from 'node:fs/promises';
import type { Timespec } from '../tree/types.js';

/** How {@link TimeRestore.restore} set the times. */
export type TimeRestoreMethod = 'nanoseconds' | 'microseconds';

/**
 * The Python program that sets the times: `os.utime(path, ns=(atime, mtime), follow_symlinks=False)`
 * is `utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW)` with exact nanoseconds. Records on
 * stdin: `path \0 atime_ns \0 mtime_ns \0`, paths as bytes relative to the working directory.
 */
const SCRIPT = [
  'import os, sys',
  'f = sys.stdin.buffer.read().split(b"\\0")',
  'for i in range(0, len(f) - 2, 3):',
  '    os.utime(f[i], ns=(int(f[i + 1]), int(f[i + 2])), follow_symlinks=False)',
].join('\n');

/**
 * Sets access and modification times to the nanosecond, in one process for a whole tree.
 *
 * Node cannot: `fs.utimes` takes seconds as a double and libuv keeps only microseconds of it. So
 * the times are collected while a tree is written and set at the end (children before their
 * directories, since creating an entry changes its directory's mtime) by one `python3` run calling
 * `utimensat` through `os.utime(..., ns=...)`. Without `python3`, they are set with `lutimes`
 * (microseconds), and {@link TimeRestore.restore} says so.
 *
 * @example
 * ```ts
 * const times = new TimeRestore();
 * times.add(Buffer.from('etc/passwd'), attrs.atime, attrs.mtime);
 * await times.restore('/tmp/rootfs'); // 'nanoseconds'
 * ```
 */
export class TimeRestore {
  private readonly parts: Buffer[] = [];
  private readonly fallback: [Buffer, Timespec, Timespec][] = [];
  /** Number of paths added. */
  count = 0;

  /** Adds one path (bytes, relative to the directory the restore runs in). */
  add(relPath: Buffer, atime: Timespec, mtime: Timespec): void {
    this.parts.push(relPath, Buffer.from(`\0${ns(atime)}\0${ns(mtime)}\0`));
    this.fallback.push([relPath, atime, mtime]);
    this.count++;
  }

  /** Sets every time added, in the order added; resolves to the precision achieved. */
  async restore(cwd: string, signal?: AbortSignal): Promise<TimeRestoreMethod> {
    if (this.count === 0) return 'nanoseconds';
    const ok = await runPython(cwd, Buffer.concat(this.parts), signal);
    if (ok) return 'nanoseconds';
    const base = Buffer.from(cwd + '/');
    for (const [rel, a, m] of this.fallback) {
      signal?.throwIfAborted();
      await lutimes(Buffer.concat([base, rel]), seconds(a), seconds(m));
    }
    return 'microseconds';
  }
}

function ns(t: Timespec): string {
  return (BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec)).toString();
}

function seconds(t: Timespec): number {
  return t.sec + t.nsec / 1e9;
}

/** Runs the script; false when python3 is not installed, an error when it fails. */
function runPython(cwd: string, input: Buffer, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', SCRIPT], { cwd, stdio: ['pipe', 'ignore', 'pipe'], signal });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < 4096) stderr += d; });
    child.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? resolve(false) : reject(e)));
    child.on('close', (code) => {
      if (code === 0) resolve(true);
      else if (code !== null) reject(new Error(`setting nanosecond times failed (python3 exited ${code}): ${stderr.trim().split('\n').pop() ?? ''}`));
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

