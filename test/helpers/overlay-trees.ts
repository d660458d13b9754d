import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImageFs } from '../../src/fs/image-fs.js';
import { typeName } from '../../src/overlay/file-type.js';
import { decodeRawName, encodeRawName } from '../../src/tar/raw-name.js';
import { runTool, splitDev, type DiskNode } from '../../src/testing/builder/index.js';

/** The tree ImageFs.walk shows, in readDiskTree's shape (keys relative, the root left out). */
export async function imageFsTree(fs: ImageFs): Promise<Map<string, DiskNode>> {
  const out = new Map<string, DiskNode>();
  for await (const { path } of fs.walk('/')) {
    if (path === '/') continue;
    const p = Buffer.from(encodeRawName(path));
    const stats = await fs.lstat(p, { bigint: true });
    const type = typeName(Number(stats.mode));
    const node: DiskNode = {
      path: path.slice(1), type: type === 'hardlink' ? 'file' : type, mode: Number(stats.mode) & 0o7777, uid: Number(stats.uid), gid: Number(stats.gid),
      mtime: Number(stats.mtimeNs) / 1e9, mtimeNs: stats.mtimeNs, size: Number(stats.size), xattrs: {}, ino: Number(stats.ino), nlink: Number(stats.nlink),
    };
    for (const name of await fs.listxattr(p, { nofollow: true })) node.xattrs[name] = new Uint8Array(await fs.getxattr(p, name, { nofollow: true }));
    if (type === 'file') node.sha256 = `sha256:${createHash('sha256').update(await fs.readFile(p)).digest('hex')}`;
    if (type === 'symlink') node.linkTarget = decodeRawName(await fs.readlink(p, 'buffer'));
    if (type === 'char' || type === 'block') {
      const { major, minor } = splitDev(stats.rdev);
      node.devMajor = major;
      node.devMinor = minor;
    }
    out.set(node.path, node);
  }
  return out;
}

/** Options of {@link diffTrees}. */
export interface DiffOptions {
  /** Compare mtimes of non-directories (to the nanosecond). */
  mtime?: boolean;
  /** Compare nlink of non-directories and hardlink groups. */
  links?: boolean;
}

const hex = (b: Uint8Array | undefined): string => (b === undefined ? '(none)' : Buffer.from(b).toString('hex'));

/**
 * Every difference between two trees, one line each: missing/extra paths, type, mode, uid, gid,
 * size (not of directories), sha256, link target, device numbers, xattrs, and optionally mtimes
 * and hardlink groups.
 */
export function diffTrees(expected: Map<string, DiskNode>, actual: Map<string, DiskNode>, options: DiffOptions = {}): string[] {
  const diffs: string[] = [];
  for (const p of actual.keys()) if (!expected.has(p)) diffs.push(`${p}: unexpected (${actual.get(p)!.type})`);
  const groupsE = new Map<number, string>();
  const groupsA = new Map<number, string>();
  for (const [p, e] of expected) {
    const a = actual.get(p);
    if (a === undefined) { diffs.push(`${p}: missing (${e.type})`); continue; }
    const fields: (keyof DiskNode)[] = ['type', 'mode', 'uid', 'gid', 'sha256', 'linkTarget', 'devMajor', 'devMinor'];
    if (e.type !== 'dir') fields.push('size');
    if (options.mtime && e.type !== 'dir') fields.push('mtimeNs');
    if (options.links && e.type !== 'dir') fields.push('nlink');
    for (const f of fields) {
      const ev = e[f];
      const av = a[f];
      if (ev !== av) diffs.push(`${p}: ${f} ${String(ev)} != ${String(av)}`);
    }
    const names = new Set([...Object.keys(e.xattrs), ...Object.keys(a.xattrs)]);
    for (const n of names) if (hex(e.xattrs[n]) !== hex(a.xattrs[n])) diffs.push(`${p}: xattr ${n} ${hex(e.xattrs[n])} != ${hex(a.xattrs[n])}`);
    if (options.links && e.type !== 'dir' && e.nlink > 1) {
      // Paths sharing an inode on one side must share one on the other.
      const ge = groupsE.get(e.ino) ?? p;
      const ga = groupsA.get(a.ino) ?? p;
      groupsE.set(e.ino, ge);
      groupsA.set(a.ino, ga);
      if (ge !== ga) diffs.push(`${p}: hardlinked with ${ge} on one side, ${ga} on the other`);
    }
  }
  return diffs;
}

/**
 * Extracts each layer tar into its own directory for a kernel overlayfs mount, as a snapshotter
 * stores layers: GNU tar extracts (owners, modes, xattrs), then `.wh.X` becomes the whiteout
 * device `X` (char 0:0) and `.wh..wh..opq` the xattr `trusted.overlay.opaque=y` on its directory.
 * Returns the layer directories, base first. Cross-layer hardlinks are not supported here.
 */
export async function extractForOverlay(tars: readonly Uint8Array[], root: string): Promise<string[]> {
  const dirs: string[] = [];
  for (let i = 0; i < tars.length; i++) {
    const dir = join(root, `L${i}`);
    await mkdir(dir);
    await runTool('tar', ['-x', '-p', '--same-owner', '--xattrs', '--xattrs-include=*', '--numeric-owner', '-C', dir, '-f', '-'], { input: tars[i] });
    await convertWhiteouts(dir, '');
    await markReplacingDirsOpaque(dir, '', dirs);
    dirs.push(dir);
  }
  return dirs;
}

async function convertWhiteouts(root: string, rel: string): Promise<void> {
  const here = join(root, rel);
  const entries = await readdir(here, { withFileTypes: true });
  const present = new Set(entries.map((e) => e.name));
  if (present.has('.wh..wh..opq')) {
    // Nothing below an opaque directory is merged: its whiteouts hide nothing (and would be listed).
    await runTool('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', here]);
    await stripWhiteouts(here);
    return;
  }
  for (const e of entries) {
    const p = join(here, e.name);
    if (e.name.startsWith('.wh.')) {
      await unlink(p);
      const hidden = e.name.slice(4);
      if (!present.has(hidden)) await runTool('mknod', [join(here, hidden), 'c', '0', '0']);
    } else if (e.isDirectory()) {
      await convertWhiteouts(root, rel === '' ? e.name : `${rel}/${e.name}`);
    }
  }
}

/** Removes `.wh.*` files and whiteout devices (char 0:0) from a directory tree. */
async function stripWhiteouts(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.name.startsWith('.wh.') || (e.isCharacterDevice() && (await lstat(p)).rdev === 0)) await unlink(p);
    else if (e.isDirectory()) await stripWhiteouts(p);
  }
}

/**
 * A directory of a layer that stands over a lower non-directory (or over nothing but whiteouts)
 * is not merged by the kernel, which then lists its whiteout devices. A real upper layer marks
 * such a directory opaque; do the same.
 */
async function markReplacingDirsOpaque(root: string, rel: string, lowers: readonly string[]): Promise<void> {
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const path = rel === '' ? e.name : `${rel}/${e.name}`;
    let lowerIsDir = false;
    for (let j = lowers.length - 1; j >= 0; j--) {
      const st = await lstat(join(lowers[j]!, path)).catch(() => null);
      if (st === null) continue;
      lowerIsDir = st.isDirectory();
      break;
    }
    if (!lowerIsDir) {
      await runTool('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', join(root, path)]);
      await stripWhiteouts(join(root, path));
    }
    else await markReplacingDirsOpaque(root, path, lowers);
  }
}

/** Mounts the layer dirs (base first) read-only at `mountpoint`; returns the unmount function. */
export async function mountOverlay(layerDirs: readonly string[], mountpoint: string): Promise<() => Promise<void>> {
  const dirs = [...layerDirs].reverse();
  if (dirs.length < 2) {
    const empty = await mkdtemp(join(tmpdir(), 'overlay-empty-'));
    dirs.push(empty);
  }
  await runTool('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${dirs.join(':')}`, mountpoint]);
  return async () => { await runTool('umount', [mountpoint]); };
}

/** A fresh temp directory and its cleanup. */
export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await writeFile(join(dir, '.keep'), '');
  await unlink(join(dir, '.keep'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
