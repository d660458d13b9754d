import { FsError } from '../errors/fs-error.js';
import { ImageError } from '../errors/image-fs-error.js';
import type { ImageSource, ResolvedImage } from '../image/types.js';
import { openWholeLayer } from '../layer/whole-layer.js';
import type { LayerContent } from '../layer/types.js';
import type { ReadOptions } from '../source/read-at.js';
import { buildLayerTree, type LayerNode } from './single-layer-tree.js';
import type { CliFs, CliStats } from './types.js';

const MAX_SYMLINKS = 40;
const CHUNK = 1024 * 1024;

/**
 * The single-layer adapter: a {@link CliFs} over one whole layer, used until the merged
 * ImageFs is wired into the CLI. It serves images with exactly one layer; paths resolve like a
 * chroot into the layer (absolute symlinks start at the image root, `..` stops there).
 */
export class SingleLayerFs implements CliFs {
  private readonly root: LayerNode;

  /** @param layer - the layer, already opened and verified. */
  constructor(private readonly layer: LayerContent, entries: Parameters<typeof buildLayerTree>[0]) {
    this.root = buildLayerTree(entries);
  }

  async lstat(path: string, _options?: ReadOptions): Promise<CliStats> {
    return toStats(this.resolve(path, false, 'lstat'));
  }

  async stat(path: string, _options?: ReadOptions): Promise<CliStats> {
    return toStats(this.resolve(path, true, 'stat'));
  }

  async readdir(path: string, _options?: ReadOptions): Promise<string[]> {
    const node = this.resolve(path, true, 'scandir');
    if (node.children === undefined) throw new FsError('ENOTDIR', 'scandir', path);
    return [...node.children.keys()];
  }

  async *createReadStream(path: string, options?: ReadOptions): AsyncIterable<Uint8Array> {
    const node = this.resolve(path, true, 'open');
    if (node.children !== undefined) throw new FsError('EISDIR', 'read', path);
    if (node.type !== 'file') return;
    for (let at = 0; at < node.size; at += CHUNK) {
      yield await this.layer.data.readAt(node.dataOffset + at, Math.min(CHUNK, node.size - at), options);
    }
  }

  /** Releases the layer. */
  async close(): Promise<void> {
    await this.layer.close();
  }

  private resolve(path: string, followLast: boolean, syscall: string): LayerNode {
    const pending = path.split('/').filter((p) => p !== '' && p !== '.');
    const stack: LayerNode[] = [this.root];
    let hops = 0;
    while (pending.length > 0) {
      const name = pending.shift()!;
      const dir = stack[stack.length - 1]!;
      if (name === '..') {
        if (stack.length > 1) stack.pop();
        continue;
      }
      if (dir.children === undefined) throw new FsError('ENOTDIR', syscall, path);
      const node = dir.children.get(name);
      if (node === undefined) throw new FsError('ENOENT', syscall, path);
      if (node.type === 'symlink' && (pending.length > 0 || followLast)) {
        if (++hops > MAX_SYMLINKS) throw new FsError('ELOOP', syscall, path);
        const target = node.linkTarget ?? '';
        if (target.startsWith('/')) stack.splice(1);
        pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
        continue;
      }
      stack.push(node);
    }
    return stack[stack.length - 1]!;
  }
}

function toStats(node: LayerNode): CliStats {
  const stats: CliStats = {
    type: node.type === 'hardlink' ? 'file' : node.type,
    mode: node.mode & 0o7777, uid: node.uid, gid: node.gid, size: node.size, mtime: node.mtime, nlink: node.links,
    xattrs: node.xattrs,
  };
  if (node.type === 'symlink') {
    stats.linkTarget = node.linkTarget ?? '';
    stats.size = Buffer.byteLength(stats.linkTarget);
  }
  if (node.devMajor !== undefined && (node.type === 'char' || node.type === 'block')) {
    stats.devMajor = node.devMajor;
    stats.devMinor = node.devMinor ?? 0;
  }
  return stats;
}

/**
 * Opens the single-layer adapter for a resolved image: reads its one layer whole (verified
 * against its digest and diff_id).
 *
 * @throws ImageError `FailedPrecondition` when the image does not have exactly one layer.
 */
export async function openSingleLayerFs(source: ImageSource, image: ResolvedImage, options: ReadOptions = {}): Promise<SingleLayerFs> {
  if (image.layers.length !== 1) {
    throw new ImageError('FailedPrecondition', `${image.reference} has ${image.layers.length} layers; this version of the CLI reads single-layer images only`, {
      subject: image.reference,
      hint: 'the merged filesystem of several layers is not wired into the CLI yet; inspect works on any image',
    });
  }
  const descriptor = image.layers[0]!;
  const diffId = image.config.rootfs.diff_ids[0];
  const layer = await openWholeLayer(source, descriptor, diffId === undefined ? options : { ...options, diffId });
  return new SingleLayerFs(layer, await layer.entries(options));
}
