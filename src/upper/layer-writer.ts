import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT } from '../overlay/file-type.js';
import { ImageError, throwIfAborted } from '../errors/image-fs-error.js';
import type { ReadOptions } from '../source/read-at.js';
import { diffUpper } from './layer-diff.js';
import { padding, TAR_END, tarHeader, type LayerTarEntry } from './tar-writer.js';
import type { UpperTree } from './upper-tree.js';

/** What {@link writeUpperLayer} wrote. */
export interface WrittenLayer {
  /** `sha256:` of the gzip blob. */
  digest: string;
  /** Bytes of the gzip blob. */
  size: number;
  /** `sha256:` of the uncompressed tar (the config's `diff_id`). */
  diffId: string;
  /** Tar entries written (whiteouts and markers included). */
  entries: number;
}

const CHUNK = 1 << 20;

/**
 * Writes the changes of `upper` as one gzip-compressed OCI layer tar into the file `path` (see
 * {@link diffUpper} for what goes in), hashing the blob and the tar as they stream. Whiteouts are
 * `.wh.NAME` files and opaque directories `.wh..wh..opq`, both empty, mode 0, owned by root.
 *
 * @example
 * ```ts
 * const { digest, diffId } = await writeUpperLayer(upper, '/tmp/layer.tar.gz');
 * ```
 */
export async function writeUpperLayer(upper: UpperTree, path: string, options: ReadOptions = {}): Promise<WrittenLayer> {
  const tarHash = createHash('sha256');
  const blobHash = createHash('sha256');
  const gzip = createGzip({ level: 6 });
  const file = createWriteStream(path, { mode: 0o644 });
  let size = 0;
  gzip.on('data', (chunk: Buffer) => { blobHash.update(chunk); size += chunk.length; });
  gzip.pipe(file);
  const failed = new Promise<never>((_, reject) => { gzip.once('error', reject); file.once('error', reject); });
  failed.catch(() => {});
  const put = async (bytes: Uint8Array): Promise<void> => {
    if (bytes.length === 0) return;
    tarHash.update(bytes);
    if (!gzip.write(bytes)) await Promise.race([once(gzip, 'drain'), failed]);
  };
  let entries = 0;
  const zero = { sec: 0, nsec: 0 };
  const diff = diffUpper(upper);
  if (diff.length === 0) {
    gzip.destroy();
    file.destroy();
    throw new ImageError('FailedPrecondition', 'nothing to commit: the upper holds no changes to the image', {
      hint: 'an empty layer would only add a history entry (and the empty layer makes an image ineligible for streaming)',
    });
  }
  for (const e of diff) {
    throwIfAborted(options.signal);
    entries++;
    if (e.kind !== 'node') {
      const p = e.kind === 'whiteout' ? whiteoutPath(e.path) : `${e.dir}/.wh..wh..opq`;
      await put(tarHeader({ path: p, type: '0', mode: 0, uid: 0, gid: 0, size: 0, mtime: zero }));
      continue;
    }
    const a = upper.attrs(e.ino);
    const type = a.mode & S_IFMT;
    const base = { path: e.path, mode: a.mode & 0o7777, uid: a.uid, gid: a.gid, mtime: a.mtime, atime: a.atime, xattrs: upper.xattrs(e.ino) };
    let entry: LayerTarEntry;
    if (e.hardlinkTo !== undefined) entry = { ...base, type: '1', size: 0, linkTarget: e.hardlinkTo, xattrs: [] };
    else if (type === S_IFDIR) entry = { ...base, type: '5', size: 0 };
    else if (type === S_IFLNK) entry = { ...base, type: '2', size: 0, linkTarget: upper.readlink(e.ino) };
    else if (type === S_IFCHR || type === S_IFBLK) entry = { ...base, type: type === S_IFCHR ? '3' : '4', size: 0, devMajor: a.rdevMajor, devMinor: a.rdevMinor };
    else if (type === S_IFIFO) entry = { ...base, type: '6', size: 0 };
    else entry = { ...base, type: '0', size: a.size };
    await put(tarHeader(entry));
    if (entry.type === '0' && entry.size > 0) {
      const content = upper.content(e.ino);
      for (let pos = 0; pos < entry.size; pos += CHUNK) await put(await content.read(pos, Math.min(CHUNK, entry.size - pos), options));
      await put(new Uint8Array(padding(entry.size)));
    }
  }
  await put(TAR_END);
  gzip.end();
  await Promise.race([once(file, 'close'), failed]);
  return { digest: `sha256:${blobHash.digest('hex')}`, size, diffId: `sha256:${tarHash.digest('hex')}`, entries };
}

/** `dir/.wh.name` for `dir/name`. */
function whiteoutPath(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? `.wh.${path}` : `${path.slice(0, slash)}/.wh.${path.slice(slash + 1)}`;
}
