import type { CliStats } from './types.js';

/** The contract's `stat` JSON object (`imagefs stat --json`, one element of `ls -R --json`). */
export interface StatJson {
  path: string;
  type: CliStats['type'];
  /** Permission and special bits. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** Nanoseconds since the epoch, exact, as a decimal string. */
  mtimeNs: string;
  nlink: number;
  linkTarget?: string;
  /** Extended attribute values, base64. */
  xattrs: Record<string, string>;
}

/** Builds the contract's `stat` JSON object for `path`. */
export function statJson(path: string, s: CliStats): StatJson {
  const out: StatJson = { path, type: s.type, mode: s.mode, uid: s.uid, gid: s.gid, size: s.size, mtime: s.mtime, mtimeNs: s.mtimeNs.toString(), nlink: s.nlink, xattrs: {} };
  if (s.linkTarget !== undefined) out.linkTarget = s.linkTarget;
  for (const name of Object.keys(s.xattrs).sort()) out.xattrs[name] = Buffer.from(s.xattrs[name]!).toString('base64');
  return out;
}

const TYPE_CHAR: Record<CliStats['type'], string> = {
  file: '-', hardlink: '-', dir: 'd', symlink: 'l', char: 'c', block: 'b', fifo: 'p', socket: 's',
};

/** `ls -l`'s ten-character mode, for instance `drwxr-xr-x` or `-rwsr-xr-x`. */
export function modeString(type: CliStats['type'], mode: number): string {
  const bit = (mask: number, ch: string): string => (mode & mask ? ch : '-');
  const special = (exec: number, flag: number, on: string): string =>
    mode & flag ? (mode & exec ? on : on.toUpperCase()) : mode & exec ? 'x' : '-';
  return TYPE_CHAR[type]
    + bit(0o400, 'r') + bit(0o200, 'w') + special(0o100, 0o4000, 's')
    + bit(0o040, 'r') + bit(0o020, 'w') + special(0o010, 0o2000, 's')
    + bit(0o004, 'r') + bit(0o002, 'w') + special(0o001, 0o1000, 't');
}

/** Formats seconds since the epoch as `YYYY-MM-DD HH:MM` in UTC (stable across machines). */
export function formatTime(seconds: number): string {
  const d = new Date(Math.floor(seconds) * 1000);
  return Number.isNaN(d.getTime()) ? '????-??-?? ??:??' : d.toISOString().slice(0, 16).replace('T', ' ');
}

/**
 * Formats `ls -l`-like lines, columns aligned across the listing:
 * `MODE NLINK UID GID SIZE YYYY-MM-DD HH:MM NAME[ -> TARGET]`. Devices show `MAJOR, MINOR`
 * instead of a size. Times are UTC.
 */
export function longLines(rows: ReadonlyArray<{ name: string; stats: CliStats }>): string[] {
  const cells = rows.map(({ name, stats: s }) => [
    modeString(s.type, s.mode),
    String(s.nlink),
    String(s.uid),
    String(s.gid),
    s.type === 'char' || s.type === 'block' ? `${s.devMajor ?? 0}, ${s.devMinor ?? 0}` : String(s.size),
    formatTime(s.mtime),
    s.linkTarget !== undefined ? `${name} -> ${s.linkTarget}` : name,
  ]);
  const widths = [0, 1, 2, 3, 4].map((i) => Math.max(0, ...cells.map((c) => c[i]!.length)));
  return cells.map((c) => [
    c[0],
    c[1]!.padStart(widths[1]!),
    c[2]!.padEnd(widths[2]!),
    c[3]!.padEnd(widths[3]!),
    c[4]!.padStart(widths[4]!),
    c[5],
    c[6],
  ].join(' '));
}

/** Byte-wise comparison of names (what `LC_ALL=C ls` does). */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Joins an absolute image path and a child name. */
export function childPath(dir: string, name: string): string {
  return dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`;
}

/** Normalises a path given on the command line to an absolute image path (`etc/` → `/etc`). */
export function imagePath(text: string): string {
  const parts = text.split('/').filter((p) => p !== '' && p !== '.');
  return `/${parts.join('/')}`;
}

/**
 * Formats a byte count for people (decimal units).
 *
 * @example
 * ```ts
 * humanBytes(1_500_000); // '1.5 MB'
 * ```
 */
export function humanBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/**
 * A progress bar for a terminal line: `[=====     ] 12.3 MB / 40.0 MB`.
 *
 * @example
 * ```ts
 * process.stderr.write(`\r${progressBar(12_300_000, 40_000_000)}`);
 * ```
 */
export function progressBar(done: number, total: number): string {
  const width = 30;
  const filled = total === 0 ? width : Math.min(width, Math.round((done / total) * width));
  return `[${'='.repeat(filled)}${' '.repeat(width - filled)}] ${humanBytes(done)} / ${humanBytes(total)}`;
}
