import { invalidArgument } from '../errors/image-fs-error.js';
import type { SparseMap, TarEntry } from '../tar/entry.js';
import { encodeRawName } from '../tar/raw-name.js';
import { classifyWhiteout, splitEntryPath } from './entry-path.js';
import { S_IFDIR, typeBits } from './file-type.js';
import { BytePool, InodeTable, NO_LAYER } from './inode-table.js';
import { MergedTree, type ExtraTimes, type Xattr } from './merged-tree.js';
import { MAX_KEPT_WARNINGS, type MergeWarning, type MergeWarningCode } from './warnings.js';

/** A directory entry while the merge runs. Dropped (compacted into a {@link MergedTree}) at the end. */
interface BuildNode {
  name: string;
  ino: number;
  /** Children by name for directories; `null` for everything else. */
  kids: Map<string, BuildNode> | null;
}

/** Options of {@link MergeBuilder}. */
export interface MergeBuilderOptions {
  /** Throw an `InvalidArgument` `ImageError` instead of skipping an unsafe or broken entry. */
  strict?: boolean;
  /** Called for every warning as it happens (also kept on the tree, up to a bound). */
  onWarning?: (warning: MergeWarning) => void;
}

const MAX_NAME_BYTES = 0xffff;

/**
 * Applies layers one after another to a merged tree, the way containerd applies them to a
 * snapshot, and compacts the result into a {@link MergedTree}. Feed it each layer's entries in
 * tar order, base first, then call {@link MergeBuilder.finish}; it keeps no reference to the
 * entries it was given.
 *
 * Per layer, whiteouts (`.wh.NAME` and `.wh..wh..opq`) are applied first, against the tree the
 * lower layers made, so they never hide what the same layer adds, wherever they stand in the tar.
 * Then every other entry is applied in tar order: a directory over a directory merges (the upper
 * attributes and xattrs win), anything else replaces (a file replacing a directory drops the
 * subtree), the last of two entries with one path wins, and hardlinks share their target's inode.
 * Paths are walked lexically and never through a symlink: a non-directory in the middle of a path
 * is replaced by a directory (as overlayfs shows the layer), so no entry or whiteout can reach
 * through a symlink.
 */
export class MergeBuilder {
  private readonly inodes = new InodeTable();
  private readonly targets = new BytePool();
  private readonly xattrs = new Map<number, Xattr[]>();
  private readonly times = new Map<number, ExtraTimes>();
  private readonly sparse = new Map<number, SparseMap>();
  private readonly root: BuildNode;
  private readonly warnings: MergeWarning[] = [];
  private warningCount = 0;
  private layers = 0;

  constructor(private readonly options: MergeBuilderOptions = {}) {
    this.root = { name: '', ino: this.implicitDirInode(), kids: new Map() };
  }

  /** Applies one layer's entries (tar order). `layer` is its index, base = 0. */
  applyLayer(layer: number, entries: readonly TarEntry[]): void {
    if (layer >= NO_LAYER) throw invalidArgument(`an image may have at most ${NO_LAYER - 1} layers`);
    this.layers = Math.max(this.layers, layer + 1);
    // Pass 1: whiteouts hide what the lower layers made, before this layer adds anything.
    for (const e of entries) {
      if (!e.path.includes('.wh.')) continue;
      const parts = splitEntryPath(e.path);
      if (parts === null || parts.length === 0) continue;
      const wh = classifyWhiteout(parts[parts.length - 1]!);
      if (wh.kind !== 'opaque' && wh.kind !== 'whiteout') continue;
      const dir = this.lookup(parts.slice(0, -1));
      if (dir === null || dir.kids === null) continue;
      if (wh.kind === 'opaque') dir.kids.clear();
      else dir.kids.delete(wh.name);
    }
    // Pass 2: everything else, in tar order.
    for (const e of entries) this.applyEntry(layer, e);
  }

  private applyEntry(layer: number, e: TarEntry): void {
    const parts = splitEntryPath(e.path);
    if (parts === null) return this.warn('UNSAFE_PATH', layer, e.path, 'the path has a ".." component or a NUL byte; entry skipped');
    if (parts.length === 0) {
      if (e.type !== 'dir') return this.warn('ROOT_NOT_DIRECTORY', layer, e.path, `the root entry is a ${e.type}; entry skipped`);
      this.updateDir(this.root.ino, e);
      return;
    }
    const name = parts[parts.length - 1]!;
    const wh = classifyWhiteout(name);
    if (wh.kind !== 'none') {
      if (wh.kind === 'meta') this.warn('UNSUPPORTED_WHITEOUT', layer, e.path, 'meta whiteouts other than ".wh..wh..opq" are not supported; entry skipped');
      // A whiteout's directory exists after the layer is applied, as with containerd and overlayfs.
      this.ensureDir(parts.slice(0, -1), layer, e.path);
      return;
    }
    if (name.length * 3 > MAX_NAME_BYTES && Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return this.warn('NAME_TOO_LONG', layer, e.path, 'a path component is longer than 65,535 bytes; entry skipped');
    const parent = this.ensureDir(parts.slice(0, -1), layer, e.path);
    const kids = parent.kids!;
    const existing = kids.get(name);
    if (e.type === 'hardlink') {
      const target = this.resolveHardlink(layer, e);
      if (target === null || target === existing) return;
      kids.set(name, { name, ino: target.ino, kids: null });
      return;
    }
    if (e.type === 'dir' && existing !== undefined && existing.kids !== null) {
      this.updateDir(existing.ino, e);
      return;
    }
    kids.set(name, { name, ino: this.newInode(layer, e), kids: e.type === 'dir' ? new Map() : null });
  }

  private resolveHardlink(layer: number, e: TarEntry): BuildNode | null {
    const parts = splitEntryPath(e.linkTarget ?? '');
    if (parts === null) {
      this.warn('UNSAFE_LINK_TARGET', layer, e.path, `the hardlink target "${e.linkTarget}" has a ".." component or a NUL byte; hardlink skipped`);
      return null;
    }
    const target = this.lookup(parts);
    if (target === null) {
      this.warn('HARDLINK_TARGET_MISSING', layer, e.path, `the hardlink target "${e.linkTarget}" is not in this layer (before it) or below; hardlink skipped`);
      return null;
    }
    if (target.kids !== null) {
      this.warn('HARDLINK_TO_DIRECTORY', layer, e.path, `the hardlink target "${e.linkTarget}" is a directory; hardlink skipped`);
      return null;
    }
    return target;
  }

  /** Walks `parts` lexically; null when something is missing or a non-directory is in the way. */
  private lookup(parts: readonly string[]): BuildNode | null {
    let node = this.root;
    for (const part of parts) {
      const next = node.kids?.get(part);
      if (next === undefined) return null;
      node = next;
    }
    return node;
  }

  /** Walks `parts`, creating missing directories (0755, root) and replacing non-directories. */
  private ensureDir(parts: readonly string[], layer: number, path: string): BuildNode {
    let node = this.root;
    for (const part of parts) {
      let next = node.kids!.get(part);
      if (next === undefined || next.kids === null) {
        if (next !== undefined) {
          this.warn('PARENT_NOT_DIRECTORY', layer, path, `"${part}" on the way to the entry is not a directory; replaced by a directory (never followed)`);
        }
        next = { name: part, ino: this.implicitDirInode(), kids: new Map() };
        node.kids!.set(part, next);
      }
      node = next;
    }
    return node;
  }

  private implicitDirInode(): number {
    return this.inodes.add({ mode: S_IFDIR | 0o755, uid: 0, gid: 0, size: 0, mtimeSec: 0, mtimeNsec: 0, layer: NO_LAYER, aux: 0 });
  }

  private updateDir(ino: number, e: TarEntry): void {
    const t = this.inodes;
    t.mode[ino] = S_IFDIR | (e.mode & 0o7777);
    t.uid[ino] = e.uid;
    t.gid[ino] = e.gid;
    t.mtimeSec[ino] = e.mtime;
    t.mtimeNsec[ino] = e.mtimeNsec;
    this.setTimes(ino, e);
    this.setXattrs(ino, e);
  }

  private newInode(layer: number, e: TarEntry): number {
    let size = 0;
    let aux = 0;
    let dataLayer = NO_LAYER;
    if (e.type === 'file') {
      size = e.size;
      aux = e.dataOffset;
      dataLayer = layer;
    } else if (e.type === 'symlink') {
      [aux, size] = this.targets.appendString(e.linkTarget ?? '');
    } else if (e.type === 'char' || e.type === 'block') {
      // Devices keep major and minor apart, exactly (rdev is made from them when asked).
      size = e.devMajor ?? 0;
      aux = e.devMinor ?? 0;
    }
    const ino = this.inodes.add({ mode: typeBits(e.type) | (e.mode & 0o7777), uid: e.uid, gid: e.gid, size, mtimeSec: e.mtime, mtimeNsec: e.mtimeNsec, layer: dataLayer, aux });
    if (e.type === 'file' && e.sparse !== undefined) this.sparse.set(ino, e.sparse.slice());
    this.setTimes(ino, e);
    this.setXattrs(ino, e);
    return ino;
  }

  /** Keeps atime and ctime where the archive has them (else both read as the mtime). */
  private setTimes(ino: number, e: TarEntry): void {
    if (e.atime === undefined && e.ctime === undefined) {
      this.times.delete(ino);
      return;
    }
    this.times.set(ino, [e.atime ?? e.mtime, e.atime === undefined ? e.mtimeNsec : e.atimeNsec ?? 0,
      e.ctime ?? e.mtime, e.ctime === undefined ? e.mtimeNsec : e.ctimeNsec ?? 0]);
  }

  private setXattrs(ino: number, e: TarEntry): void {
    const names = e.xattrs === undefined ? [] : Object.keys(e.xattrs);
    if (names.length === 0) {
      this.xattrs.delete(ino);
      return;
    }
    // Copies: the values may be views of a whole layer's bytes, which must not stay alive.
    this.xattrs.set(ino, names.sort().map((n) => [n, e.xattrs![n]!.slice()] as Xattr));
  }

  private warn(code: MergeWarningCode, layer: number, path: string, message: string): void {
    const w: MergeWarning = { code, layer, path, message };
    if (this.options.strict) throw invalidArgument(`layer ${layer}, "${path}": ${message}`, { hint: 'fix the layer, or merge without strict to skip such entries' });
    this.warningCount++;
    if (this.warnings.length < MAX_KEPT_WARNINGS) this.warnings.push(w);
    this.options.onWarning?.(w);
  }

  /** Compacts the tree into a {@link MergedTree}. The builder must not be used afterwards. */
  finish(): MergedTree {
    return compact(this.root, this.inodes, this.targets, { xattrs: this.xattrs, times: this.times, sparse: this.sparse }, this.warnings, this.warningCount, this.layers);
  }
}

/** The per-inode side tables, keyed by inode index (only inodes that have an entry). */
interface SideTables {
  xattrs: Map<number, Xattr[]>;
  times: Map<number, ExtraTimes>;
  sparse: Map<number, SparseMap>;
}

function compact(root: BuildNode, src: InodeTable, srcTargets: BytePool, side: SideTables,
  warnings: MergeWarning[], warningCount: number, layers: number): MergedTree {
  // Breadth-first with sorted children: a directory's children get consecutive node numbers.
  const order: BuildNode[] = [root];
  const encoded: Uint8Array[] = [new Uint8Array(0)];
  const parents: number[] = [0];
  const first: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < order.length; i++) {
    const n = order[i]!;
    first.push(order.length);
    if (n.kids === null) { counts.push(0); continue; }
    const kids = [...n.kids.values()].map((k) => ({ k, b: encodeRawName(k.name) }));
    kids.sort((a, b) => Buffer.compare(a.b, b.b));
    counts.push(kids.length);
    for (const { k, b } of kids) { order.push(k); parents.push(i); encoded.push(b); }
  }
  const n = order.length;
  const remap = new Int32Array(src.count).fill(-1);
  const inodes = new InodeTable(n);
  const pool = new BytePool(srcTargets.length + n * 12);
  const out: SideTables = { xattrs: new Map(), times: new Map(), sparse: new Map() };
  const dirNode = new Int32Array(n).fill(-1);
  const dentries = {
    parent: Int32Array.from(parents),
    inode: new Uint32Array(n),
    nameStart: new Uint32Array(n),
    nameLen: new Uint16Array(n),
    firstChild: Uint32Array.from(first),
    childCount: Uint32Array.from(counts),
  };
  for (let i = 0; i < n; i++) {
    const node = order[i]!;
    let ino = remap[node.ino]!;
    if (ino === -1) {
      const o = node.ino;
      ino = inodes.add({ mode: src.mode[o]!, uid: src.uid[o]!, gid: src.gid[o]!, size: src.size[o]!, mtimeSec: src.mtimeSec[o]!, mtimeNsec: src.mtimeNsec[o]!, layer: src.layer[o]!, aux: src.aux[o]! });
      if ((src.mode[o]! & 0o170000) === 0o120000) {
        inodes.aux[ino] = pool.append(srcTargets.bytes.subarray(src.aux[o]!, src.aux[o]! + src.size[o]!))[0];
      }
      for (const key of ['xattrs', 'times', 'sparse'] as const) {
        const v = side[key].get(o);
        if (v !== undefined) (out[key] as Map<number, unknown>).set(ino, v);
      }
      remap[o] = ino;
    }
    dentries.inode[i] = ino;
    if (node.kids !== null) {
      dirNode[ino] = i;
      let subdirs = 0;
      for (const k of node.kids.values()) if (k.kids !== null) subdirs++;
      inodes.nlink[ino] = 2 + subdirs;
    } else {
      inodes.nlink[ino]++;
    }
    const [at, len] = pool.append(encoded[i]!);
    dentries.nameStart[i] = at;
    dentries.nameLen[i] = len;
  }
  inodes.resize(inodes.count);
  pool.trim();
  return new MergedTree({ dentries, inodes, pool, ...out, dirNode: dirNode.slice(0, inodes.count), warnings, warningCount, layers });
}
