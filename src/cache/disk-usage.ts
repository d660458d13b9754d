import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CACHE_ENTRY_DIRS } from './disk-layout.js';

/**
 * What a disk cache knows about its committed files, in memory: size per path and the order of
 * last use (a `Map`'s insertion order: least recent first). Best effort: files that other
 * processes add are learnt when this process reads them.
 *
 * @example
 * ```ts
 * const usage = await DiskUsage.scan('/var/cache/imagefs');
 * usage.touch(path, 4096);
 * usage.victims(1 << 30, path); // the paths to delete to fit 1 GiB, least recent first
 * ```
 */
export class DiskUsage {
  private readonly entries = new Map<string, number>();
  private bytes = 0;

  /** Total bytes of the files known. */
  get totalBytes(): number {
    return this.bytes;
  }

  /** Number of files known. */
  get count(): number {
    return this.entries.size;
  }

  /**
   * Lists the committed files under `dir`, oldest use first by the later of atime and mtime
   * (regular files only; links and anything else are ignored).
   */
  static async scan(dir: string): Promise<DiskUsage> {
    const found: Array<{ path: string; size: number; used: number }> = [];
    for (const sub of CACHE_ENTRY_DIRS) {
      for (const name of await readdir(join(dir, sub))) {
        const path = join(dir, sub, name);
        try {
          const info = await lstat(path);
          if (info.isFile()) found.push({ path, size: info.size, used: Math.max(info.atimeMs, info.mtimeMs) });
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }
    }
    found.sort((a, b) => a.used - b.used);
    const usage = new DiskUsage();
    for (const f of found) usage.touch(f.path, f.size);
    return usage;
  }

  /** Records a use of `path` (adding it when new) and makes it the most recent. */
  touch(path: string, size: number): void {
    this.remove(path);
    this.entries.set(path, size);
    this.bytes += size;
  }

  /** Forgets `path`. */
  remove(path: string): void {
    const size = this.entries.get(path);
    if (size === undefined) return;
    this.entries.delete(path);
    this.bytes -= size;
  }

  /**
   * Picks least recently used paths to drop until the total fits `maxBytes`, never `keep`, and
   * forgets them at once (so concurrent calls do not pick the same file twice).
   */
  victims(maxBytes: number, keep: string): string[] {
    const out: string[] = [];
    let total = this.bytes;
    for (const [path, size] of this.entries) {
      if (total <= maxBytes) break;
      if (path === keep) continue;
      out.push(path);
      total -= size;
    }
    for (const path of out) this.remove(path);
    return out;
  }
}
