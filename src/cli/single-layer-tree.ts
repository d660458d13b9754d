import type { TarEntry } from '../tar/entry.js';

/** One node of a single layer's tree. Hardlinked paths share one node. */
export interface LayerNode {
  type: TarEntry['type'];
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size: number;
  /** Where the file's data starts in the uncompressed tar. */
  dataOffset: number;
  linkTarget?: string;
  devMajor?: number;
  devMinor?: number;
  xattrs: Record<string, Uint8Array>;
  /** Children by name (directories only). */
  children?: Map<string, LayerNode>;
  /** How many paths lead to this node (hardlinks). */
  links: number;
}

const WHITEOUT_PREFIX = '.wh.';

function dirNode(): LayerNode {
  return { type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, size: 0, dataOffset: 0, xattrs: {}, children: new Map(), links: 1 };
}

function nodeOf(e: TarEntry): LayerNode {
  const node: LayerNode = {
    type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime, size: e.type === 'file' ? e.size : 0,
    dataOffset: e.dataOffset, xattrs: e.xattrs ?? {}, links: 1,
  };
  if (e.type === 'symlink' && e.linkTarget !== undefined) node.linkTarget = e.linkTarget;
  if (e.devMajor !== undefined) node.devMajor = e.devMajor;
  if (e.devMinor !== undefined) node.devMinor = e.devMinor;
  if (e.type === 'dir') node.children = new Map();
  return node;
}

/** Walks to the parent directory of `parts`, creating missing directories (tar allows that). */
function parentOf(root: LayerNode, parts: string[]): LayerNode {
  let dir = root;
  for (const name of parts.slice(0, -1)) {
    let next = dir.children!.get(name);
    if (next === undefined || next.children === undefined) {
      next = dirNode();
      dir.children!.set(name, next);
    }
    dir = next;
  }
  return dir;
}

function lookup(root: LayerNode, path: string): LayerNode | undefined {
  let node: LayerNode | undefined = root;
  for (const name of path === '' ? [] : path.split('/')) node = node?.children?.get(name);
  return node;
}

/**
 * Builds the directory tree of one layer from its tar entries, as extracting the layer on an
 * empty root would: later entries replace earlier ones (a directory over a directory keeps its
 * children), missing parents are created (0755, root), hardlinks share their target's node
 * (a hardlink to a missing target is dropped), and whiteout files (`.wh.*`) are hidden since
 * there is nothing below a single layer for them to hide.
 */
export function buildLayerTree(entries: readonly TarEntry[]): LayerNode {
  const root = dirNode();
  for (const e of entries) {
    if (e.path === '') {
      if (e.type === 'dir') Object.assign(root, { ...nodeOf(e), children: root.children });
      continue;
    }
    const parts = e.path.split('/');
    if (parts[parts.length - 1]!.startsWith(WHITEOUT_PREFIX)) continue;
    const parent = parentOf(root, parts);
    const name = parts[parts.length - 1]!;
    const old = parent.children!.get(name);
    if (e.type === 'hardlink') {
      const target = e.linkTarget === undefined ? undefined : lookup(root, e.linkTarget);
      if (target === undefined || target.children !== undefined) continue;
      parent.children!.set(name, target);
      continue;
    }
    const node = nodeOf(e);
    if (old?.children !== undefined && node.children !== undefined) node.children = old.children;
    parent.children!.set(name, node);
  }
  countLinks(root);
  return root;
}

function countLinks(root: LayerNode): void {
  const seen = new Set<LayerNode>();
  const visit = (dir: LayerNode): void => {
    let subdirs = 0;
    for (const child of dir.children!.values()) {
      if (child.children !== undefined) {
        subdirs += 1;
        visit(child);
      } else if (seen.has(child)) {
        child.links += 1;
      } else {
        seen.add(child);
        child.links = 1;
      }
    }
    dir.links = 2 + subdirs;
  };
  visit(root);
}
