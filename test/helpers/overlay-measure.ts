// Measures the merged tree's memory on a synthetic image of about 50,000 entries.
// Run: node --expose-gc --import tsx test/helpers/overlay-measure.ts [entries]
// Prints one JSON line: { nodes, inodes, structuralBytesPerEntry, heapBytesPerEntry, mergeMs }.
import { mergeLayers } from '../../src/overlay/merge.js';
import type { TarEntry } from '../../src/tar/entry.js';

const total = Number(process.argv[2] ?? 50_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

/** A base layer of `n` entries in 2% directories, plus four small upper layers. */
function layer(index: number, n: number): () => Promise<TarEntry[]> {
  return async () => {
    const out: TarEntry[] = [];
    const e = (path: string, type: TarEntry['type'], extra: Partial<TarEntry> = {}): TarEntry =>
      ({ path, type, mode: type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, mtime: 1_700_000_000 + index, mtimeNsec: 0, size: 0, dataOffset: 0, ...extra });
    if (index === 0) {
      const dirs = Math.max(1, Math.floor(n / 50));
      for (let d = 0; d < dirs; d++) {
        const dir = `usr/share/package-${d.toString(36)}`;
        out.push(e(dir, 'dir'));
        for (let f = 0; f < 49 && out.length < n; f++) {
          const path = `${dir}/file-${f}-${(d * 7919 + f).toString(16)}.so`;
          if (f % 20 === 19) out.push(e(path, 'symlink', { linkTarget: `file-${f - 1}.so` }));
          else if (f === 30 && d % 4 === 0) out.push(e(path, 'hardlink', { linkTarget: `${dir}/file-0-${(d * 7919).toString(16)}.so` }));
          else out.push(e(path, 'file', { size: 1000 + f, dataOffset: 512 * out.length, ...(f === 7 ? { xattrs: { 'user.x': new Uint8Array([f]) } } : {}) }));
        }
      }
    } else {
      for (let k = 0; k < 200; k++) out.push(e(`usr/share/package-${(k * index).toString(36)}/file-${k}-${index}.new`, 'file', { size: 10 }));
      out.push(e(`usr/share/package-${index.toString(36)}/.wh..wh..opq`, 'file'));
      out.push(e(`usr/share/.wh.package-${(index + 10).toString(36)}`, 'file'));
    }
    return out;
  };
}

gc();
await new Promise((r) => setTimeout(r, 50));
const before = process.memoryUsage();
const started = performance.now();
const tree = await mergeLayers([0, 1, 2, 3, 4].map((i) => ({ entries: layer(i, i === 0 ? total : 0) })));
const mergeMs = performance.now() - started;
for (let i = 0; i < 3; i++) {
  gc();
  await new Promise((r) => setTimeout(r, 50));
}
const after = process.memoryUsage();
const heap = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
console.log(JSON.stringify({
  nodes: tree.nodeCount,
  inodes: tree.inodes.count,
  structuralBytesPerEntry: Math.round((tree.byteLength / tree.nodeCount) * 10) / 10,
  heapBytesPerEntry: Math.round((heap / tree.nodeCount) * 10) / 10,
  jsHeapBytesPerEntry: Math.round(((after.heapUsed - before.heapUsed) / tree.nodeCount) * 10) / 10,
  mergeMs: Math.round(mergeMs),
}));
// Keep the tree alive until after the measurement.
if (tree.nodeCount < 0) console.log(tree);
