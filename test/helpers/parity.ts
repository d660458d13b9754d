import { createHash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import * as nodefs from 'node:fs/promises';
import type { ImageFs } from '../../src/fs/image-fs.js';
import { encodeRawName } from '../../src/tar/raw-name.js';

/**
 * The parity runner: the same `node:fs/promises` calls made on an unpacked rootfs (by node:fs) and
 * on an ImageFs, reduced to comparable outcomes (a value, or an error's `code` and `syscall`).
 * Paths are raw-name strings; both sides get them as Buffers of their exact bytes.
 */

/** What one call gave: its projected value, or its error. */
export type Outcome = string;

/** The calls both sides answer; `fs` is node:fs/promises or an ImageFs, `p` the path as a Buffer. */
type Api = Pick<typeof nodefs, 'lstat' | 'stat' | 'readlink' | 'readdir' | 'opendir' | 'readFile' | 'open' | 'access' | 'realpath'>;

/** How a call is checked: its name and a projection of its result to a string. */
interface Call {
  name: string;
  /** Skipped for paths whose resolution on the host leaves the rootfs (absolute or escaping links). */
  chrootSensitive?: boolean;
  /** What the image must answer where the host wrote (a read-only image refuses what root may do on disk). */
  readOnly?: (host: Outcome) => Outcome;
  run(fs: Api, p: Buffer, root: Buffer): Promise<string>;
}

function statLine(st: import('node:fs').BigIntStats, withTimes: boolean): string {
  const type = Number(st.mode) & fsc.S_IFMT;
  const isDir = type === fsc.S_IFDIR;
  const fields = [`mode=${st.mode.toString(8)}`, `uid=${st.uid}`, `gid=${st.gid}`, `rdev=${st.rdev}`];
  if (!isDir) fields.push(`size=${st.size}`, `nlink=${st.nlink}`);
  if (withTimes) fields.push(`mtimeNs=${st.mtimeNs}`);
  fields.push(`types=${[st.isFile(), st.isDirectory(), st.isSymbolicLink(), st.isFIFO(), st.isCharacterDevice(), st.isBlockDevice()].map(Number).join('')}`);
  return fields.join(' ');
}

const hash = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex').slice(0, 16);
const sortBytes = (a: Buffer, b: Buffer): number => Buffer.compare(a, b);

/** The calls of the parity runner. */
export const CALLS: readonly Call[] = [
  { name: 'lstat', run: async (fs, p) => statLine(await fs.lstat(p, { bigint: true }), true) },
  { name: 'stat', chrootSensitive: true, run: async (fs, p) => statLine(await fs.stat(p, { bigint: true }), true) },
  { name: 'lstat-number', run: async (fs, p) => { const s = await fs.lstat(p); return `mtimeMs=${s.mtimeMs} mtime=${s.mtime.getTime()}`; } },
  { name: 'readlink', run: async (fs, p) => hash(await fs.readlink(p, { encoding: 'buffer' })) + ':' + (await fs.readlink(p, { encoding: 'buffer' })).toString('hex') },
  { name: 'readlink-utf8', run: async (fs, p) => JSON.stringify(await fs.readlink(p)) },
  { name: 'readdir', chrootSensitive: true, run: async (fs, p) => (await fs.readdir(p, { encoding: 'buffer' })).sort(sortBytes).map((b) => b.toString('hex')).join(',') },
  { name: 'readdir-utf8', chrootSensitive: true, run: async (fs, p) => JSON.stringify((await fs.readdir(p)).sort()) },
  {
    name: 'readdir-types', chrootSensitive: true,
    run: async (fs, p) => (await fs.readdir(p, { withFileTypes: true, encoding: 'buffer' }))
      .map((d) => `${Buffer.from(d.name).toString('hex')}:${[d.isFile(), d.isDirectory(), d.isSymbolicLink(), d.isFIFO(), d.isCharacterDevice(), d.isBlockDevice()].map(Number).join('')}`)
      .sort().join(','),
  },
  {
    name: 'opendir', chrootSensitive: true,
    run: async (fs, p) => {
      const names: string[] = [];
      for await (const d of await fs.opendir(p, { encoding: 'buffer' } as never)) names.push(Buffer.from(d.name as unknown as Buffer).toString('hex'));
      return names.sort().join(',');
    },
  },
  { name: 'readFile', chrootSensitive: true, run: async (fs, p) => hash(await fs.readFile(p)) },
  {
    name: 'open-nofollow', run: async (fs, p) => {
      const fh = await fs.open(p, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
      try { return statLine(await fh.stat({ bigint: true }), false); } finally { await fh.close(); }
    },
  },
  {
    name: 'open-read-position', chrootSensitive: true,
    run: async (fs, p) => {
      const fh = await fs.open(p, 'r');
      try {
        const a = await fh.read(Buffer.alloc(5), { position: 3 });
        const b = await fh.read({ buffer: Buffer.alloc(7), position: 1 });
        const c = await fh.read(Buffer.alloc(4), 0, 4, null);
        return [a, b, c].map((r) => `${r.bytesRead}:${r.buffer.subarray(0, r.bytesRead).toString('hex')}`).join(' ');
      } finally { await fh.close(); }
    },
  },
  {
    name: 'open-write', chrootSensitive: true, readOnly: (host) => (host.startsWith('ok') ? 'error EROFS open' : host),
    run: async (fs, p) => { const fh = await fs.open(p, fsc.O_WRONLY | fsc.O_NONBLOCK); await fh.close(); return 'opened'; },
  },
  { name: 'access-x', chrootSensitive: true, run: async (fs, p) => { await fs.access(p, fsc.X_OK); return 'ok'; } },
  { name: 'access-r', chrootSensitive: true, run: async (fs, p) => { await fs.access(p, fsc.R_OK); return 'ok'; } },
  {
    name: 'realpath', chrootSensitive: true,
    run: async (fs, p, root) => {
      const r = await fs.realpath(p, { encoding: 'buffer' });
      const rel = root.length > 0 && r.subarray(0, root.length).equals(root) ? r.subarray(root.length) : r;
      return (rel.length === 0 ? Buffer.from('/') : rel).toString('hex');
    },
  },
];

/**
 * Recursive listings, for subtrees without links that loop or leave the root (node:fs follows
 * symlinks to directories in the string form, with no loop detection).
 */
export const RECURSIVE_CALLS: readonly Call[] = [
  { name: 'readdir-recursive-buffer-path', run: async (fs, p) => JSON.stringify(await fs.readdir(p, { recursive: true })) },
  { name: 'readdir-recursive', run: async (fs, p) => JSON.stringify((await fs.readdir(p.toString(), { recursive: true })).sort()) },
  {
    name: 'readdir-recursive-types',
    run: async (fs, p, root) => JSON.stringify((await fs.readdir(p.toString(), { recursive: true, withFileTypes: true }))
      .map((d) => `${d.parentPath.slice(root.length)}|${d.name}|${d.isDirectory()}|${d.isSymbolicLink()}`).sort()),
  },
  {
    name: 'opendir-recursive',
    run: async (fs, p, root) => {
      const out: string[] = [];
      for await (const d of await fs.opendir(p.toString(), { recursive: true })) out.push(`${d.parentPath.slice(root.length)}|${d.name}`);
      return JSON.stringify(out.sort());
    },
  },
];

/** Runs one call and reduces it to an outcome string. */
async function outcome(call: Call, fs: Api, p: Buffer, root: Buffer): Promise<Outcome> {
  try {
    return `ok ${await call.run(fs, p, root)}`;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return `error ${err.code ?? err.name} ${err.syscall ?? ''}`.trim();
  }
}

/** Options of {@link parityDiffs}. */
export interface ParityOptions {
  /** Paths (raw-name strings, absolute in the image) whose resolution may leave the root on the host. */
  chrootSensitive?: (path: string) => boolean;
  /** Paths left out entirely: their host resolution leaves the rootfs even without links (`/..`). */
  escapes?: (path: string) => boolean;
  /** The calls to make (default {@link CALLS}). */
  calls?: readonly Call[];
  /** Calls to skip for a path (with the reason in the test). */
  skip?: (call: string, path: string) => boolean;
}

/**
 * Every call of {@link CALLS} on every path, both sides; returns the differences, one line each
 * (`path call: host=... image=...`), and how many calls were compared.
 */
export async function parityDiffs(rootfs: string, image: ImageFs, paths: readonly string[], options: ParityOptions = {}): Promise<{ diffs: string[]; compared: number }> {
  const root = Buffer.from(rootfs);
  const diffs: string[] = [];
  let compared = 0;
  for (const path of paths) {
    if (options.escapes?.(path)) continue;
    const bytes = Buffer.from(encodeRawName(path));
    const hostPath = Buffer.concat([root, bytes[0] === 0x2f ? Buffer.alloc(0) : Buffer.from('/'), bytes]);
    for (const call of options.calls ?? CALLS) {
      if (call.chrootSensitive && options.chrootSensitive?.(path)) continue;
      if (options.skip?.(call.name, path)) continue;
      let host = await outcome(call, nodefs, hostPath, root);
      if (call.readOnly) host = call.readOnly(host);
      const img = await outcome(call, image as unknown as Api, bytes, Buffer.alloc(0));
      compared++;
      if (host !== img) diffs.push(`${JSON.stringify(path)} ${call.name}: host=${host} image=${img}`);
    }
  }
  return { diffs, compared };
}
