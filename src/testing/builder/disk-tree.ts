import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { EntryType } from '../../tar/entry.js';
import { decodeRawName, encodeRawName } from '../../tar/raw-name.js';
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
  /** Nanoseconds since the epoch, exact. */
  mtimeNs: bigint;
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

function typeOf(st: import('node:fs').BigIntStats): DiskNode['type'] {
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

/** Splits a Linux `dev_t` into major and minor (glibc's encoding). */
export function splitDev(rdev: number | bigint): { major: number; minor: number } {
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
      const abs = unquoteDumpName(line.slice('# file: '.length));
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
  // Names are read as bytes and kept as raw-name strings, so names that are not UTF-8 survive.
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(bytesOf(join(root, rel)), { encoding: 'buffer' })).map((b) => decodeRawName(b)).sort();
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const abs = bytesOf(join(root, path));
      const st = await lstat(abs, { bigint: true });
      const node: DiskNode = {
        path,
        type: typeOf(st),
        mode: Number(st.mode) & 0o7777,
        uid: Number(st.uid),
        gid: Number(st.gid),
        mtime: Number(st.mtimeNs) / 1e9,
        mtimeNs: st.mtimeNs,
        size: Number(st.size),
        xattrs: xattrs.get(path) ?? {},
        ino: Number(st.ino),
        nlink: Number(st.nlink),
      };
      if (node.type === 'file') node.sha256 = `sha256:${createHash('sha256').update(await readFile(abs)).digest('hex')}`;
      if (node.type === 'symlink') node.linkTarget = decodeRawName(await readlink(abs, { encoding: 'buffer' }));
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

/** A raw-name path as the Buffer of its bytes. */
function bytesOf(path: string): Buffer {
  return Buffer.from(encodeRawName(path));
}

/** Undoes getfattr's `\ooo` escapes of a file name, keeping the bytes as a raw-name string. */
function unquoteDumpName(quoted: string): string {
  const bytes: number[] = [];
  const raw = Buffer.from(quoted, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x5c && i + 3 < raw.length && /^[0-7]{3}$/.test(raw.subarray(i + 1, i + 4).toString('latin1'))) {
      bytes.push(Number.parseInt(raw.subarray(i + 1, i + 4).toString('latin1'), 8));
      i += 3;
    } else bytes.push(raw[i]!);
  }
  return decodeRawName(Uint8Array.from(bytes));
}
