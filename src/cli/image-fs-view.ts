import type { ImageFs } from '../fs/image-fs.js';
import type { ImageBigIntStats } from '../fs/stats.js';
import type { ReadOptions } from '../source/read-at.js';
import { decodeRawName, encodeRawName } from '../tar/raw-name.js';
import type { CliFileType, CliFs, CliStats } from './types.js';

function typeOf(s: ImageBigIntStats): CliFileType {
  if (s.isDirectory()) return 'dir';
  if (s.isSymbolicLink()) return 'symlink';
  if (s.isCharacterDevice()) return 'char';
  if (s.isBlockDevice()) return 'block';
  if (s.isFIFO()) return 'fifo';
  if (s.isSocket()) return 'socket';
  return 'file';
}

/**
 * The CLI's view of an {@link ImageFs}: stats in the contract's units (mode without type bits,
 * mtime in seconds and nanoseconds) with the link target and every xattr filled in. Paths and names
 * are raw-name strings (names that are not UTF-8 keep their bytes); they reach the ImageFs as
 * Buffers.
 */
export class ImageFsView implements CliFs {
  constructor(private readonly fs: ImageFs) {}

  lstat(path: string): Promise<CliStats> {
    return this.describe(path, false);
  }

  stat(path: string): Promise<CliStats> {
    return this.describe(path, true);
  }

  async readdir(path: string): Promise<string[]> {
    return (await this.fs.readdir(bytes(path), 'buffer')).map((b) => decodeRawName(b));
  }

  createReadStream(path: string, options: ReadOptions = {}): AsyncIterable<Uint8Array> {
    return this.fs.createReadStream(bytes(path), { signal: options.signal });
  }

  private async describe(rawPath: string, follow: boolean): Promise<CliStats> {
    const path = bytes(rawPath);
    const s = follow ? await this.fs.stat(path, { bigint: true }) : await this.fs.lstat(path, { bigint: true });
    const out: CliStats = {
      type: typeOf(s), mode: Number(s.mode) & 0o7777, uid: Number(s.uid), gid: Number(s.gid), size: Number(s.size),
      mtime: Number(s.mtimeNs) / 1e9, mtimeNs: s.mtimeNs, nlink: Number(s.nlink), xattrs: {},
    };
    if (out.type === 'symlink') out.linkTarget = decodeRawName(await this.fs.readlink(path, 'buffer'));
    if (out.type === 'char' || out.type === 'block') {
      const { ino } = this.fs.resolve(path, false, 'lstat');
      const a = this.fs.tree.attrs(ino);
      out.devMajor = a.rdevMajor;
      out.devMinor = a.rdevMinor;
    }
    const xattrOptions = { nofollow: !follow };
    for (const name of await this.fs.listxattr(path, xattrOptions)) {
      out.xattrs[name] = new Uint8Array(await this.fs.getxattr(path, name, xattrOptions));
    }
    return out;
  }
}

/** A raw-name path as the Buffer of its bytes. */
function bytes(path: string): Buffer {
  return Buffer.from(encodeRawName(path));
}
