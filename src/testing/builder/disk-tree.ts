import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { EntryType } from '../../tar/entry.js';
import { runTool } from './run-tool.js';

/** One path of a directory tree on disk, as {@link readDiskTree} saw it. */
export interface DiskNode {
  path: string;
  type: Exclude<EntryType, 'hardlink'> | 'socket';
  mode: number;
  uid: number;
  gid: number;
  /** Seconds, with the fraction the file system keeps. */
  mtime: number;
  size: number;
  /** `sha256:HEX` of a file's content. */
  sha256?: string;
  linkTarget?: string;
  devMajor?: number;
  devMinor?: number;
  /** Extended attributes as `getfattr -d -m - -e hex` reports them. */
  xattrs: Record<string, Uint8Array>;
  ino: number;
  nlink: number;
}

function typeOf(st: import('node:fs').Stats): DiskNode['type'] {
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

/** Splits a Linux `dev_t` into major and minor (glibc's encoding). */
export function splitDev(rdev: number): { major: number; minor: number } {
  const r = BigInt(rdev);
  const major = Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn));
  const minor = Number((r & 0xffn) | ((r >> 12n) & ~0xffn));
  return { major, minor };
}

/**
 * Reads every xattr under `root` with one `getfattr -R -P -h -d -m - -e hex --absolute-names` run.
 * Keys of the result are paths relative to `root`.
 */
export async function readXattrs(root: string, options: { signal?: AbortSignal } = {}): Promise<Map<string, Record<string, Uint8Array>>> {
  const { stdout } = await runTool('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', root], options);
  const result = new Map<string, Record<string, Uint8Array>>();
  let current: Record<string, Uint8Array> | undefined;
  for (const line of new TextDecoder().decode(stdout).split('\n')) {
    if (line.startsWith('# file: ')) {
      const abs = line.slice('# file: '.length);
      const rel = abs === root ? '' : abs.slice(root.length + 1);
      current = {};
      result.set(rel, current);
    } else if (current && line.includes('=')) {
      const eq = line.indexOf('=');
      const value = line.slice(eq + 1);
      current[line.slice(0, eq)] = value.startsWith('0x') ? new Uint8Array(Buffer.from(value.slice(2), 'hex')) : new TextEncoder().encode(value.replace(/^"|"$/g, ''));
    }
  }
  return result;
}

/**
 * Walks a directory tree on disk (without following symlinks) and returns every path under
 * `root` (not `root` itself) with its metadata, content digest and xattrs. Used to compare an
 * unpacked image (umoci's rootfs, imagefs export, a FUSE mount) with {@link expectedTree}.
 *
 * @example
 * ```ts
 * const actual = await readDiskTree(join(bundle, 'rootfs'));
 * ```
 */
export async function readDiskTree(root: string, options: { signal?: AbortSignal; xattrs?: boolean } = {}): Promise<Map<string, DiskNode>> {
  const xattrs = options.xattrs === false ? new Map<string, Record<string, Uint8Array>>() : await readXattrs(root, options);
  const out = new Map<string, DiskNode>();
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const abs = join(root, path);
      const st = await lstat(abs);
      const node: DiskNode = {
        path,
        type: typeOf(st),
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        mtime: Number(st.mtimeMs) / 1000,
        size: st.size,
        xattrs: xattrs.get(path) ?? {},
        ino: st.ino,
        nlink: st.nlink,
      };
      if (node.type === 'file') node.sha256 = `sha256:${createHash('sha256').update(await readFile(abs)).digest('hex')}`;
      if (node.type === 'symlink') node.linkTarget = await readlink(abs);
      if (node.type === 'char' || node.type === 'block') {
        const { major, minor } = splitDev(st.rdev);
        node.devMajor = major;
        node.devMinor = minor;
      }
      out.set(path, node);
      if (node.type === 'dir') await walk(path);
    }
  };
  await walk('');
  return out;
}
