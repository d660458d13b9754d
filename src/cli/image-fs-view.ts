import type { ImageFs } from '../fs/image-fs.js';
import type { ImageStats } from '../fs/stats.js';
import { major, minor } from '../overlay/file-type.js';
import type { ReadOptions } from '../source/read-at.js';
import type { CliFileType, CliFs, CliStats } from './types.js';

function typeOf(s: ImageStats): CliFileType {
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
 * mtime in seconds) with the link target and every xattr filled in.
 */
export class ImageFsView implements CliFs {
  constructor(private readonly fs: ImageFs) {}

  lstat(path: string): Promise<CliStats> {
    return this.describe(path, false);
  }

  stat(path: string): Promise<CliStats> {
    return this.describe(path, true);
  }

  readdir(path: string): Promise<string[]> {
    return this.fs.readdir(path);
  }

  createReadStream(path: string, options: ReadOptions = {}): AsyncIterable<Uint8Array> {
    return this.fs.createReadStream(path, { signal: options.signal });
  }

  private async describe(path: string, follow: boolean): Promise<CliStats> {
    const s = follow ? await this.fs.stat(path) : await this.fs.lstat(path);
    const out: CliStats = {
      type: typeOf(s), mode: s.mode & 0o7777, uid: s.uid, gid: s.gid, size: s.size,
      mtime: s.mtimeMs / 1000, nlink: s.nlink, xattrs: {},
    };
    if (out.type === 'symlink') out.linkTarget = await this.fs.readlink(path);
    if (out.type === 'char' || out.type === 'block') {
      out.devMajor = major(s.rdev);
      out.devMinor = minor(s.rdev);
    }
    const xattrOptions = { nofollow: !follow };
    for (const name of await this.fs.listxattr(path, xattrOptions)) {
      out.xattrs[name] = new Uint8Array(await this.fs.getxattr(path, name, xattrOptions));
    }
    return out;
  }
}
