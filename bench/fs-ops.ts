// ImageFs against the kernel: warm stat and readdir rates over a 50k-entry merged image, side by
// side with node:fs/promises on `umoci unpack` of the same image; the cold first read of a small
// file after openImage; memory per entry; openImage time and memory on a 100k-entry image.
//
//   node --expose-gc --import tsx bench/fs-ops.ts          (ENTRIES=50000 BIG=100000 ROUNDS=3)
//
// Needs umoci. Layers are built deterministically (seeded) by the test bench's builder.
import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImageFs } from '../src/fs/image-fs.js';
import type { ImageTree } from '../src/overlay/image-tree.js';
import type { Descriptor, ImageSource } from '../src/image/types.js';
import { OciLayoutSource } from '../src/layout/oci-layout-source.js';
import { openImage, type OpenImageOptions } from '../src/open/open-image.js';
import { buildImage, dir, file, hardlink, opaque, runTool, symlink, whiteout, writeLayout, type TarRecord } from '../src/testing/builder/index.js';

const ENTRIES = Number(process.env.ENTRIES ?? 50_000);
const BIG = Number(process.env.BIG ?? 100_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc --import tsx bench/fs-ops.ts');

/**
 * About `n` merged paths in four layers: a base of directories of 40 small files (with symlinks,
 * hardlinks and xattrs), an update layer (replacements, whiteouts), a layer with opaque
 * directories, and a few new trees. Seeded: the same `n` gives the same digests.
 */
function layers(n: number): TarRecord[][] {
  const base: TarRecord[] = [dir('usr'), dir('usr/lib'), dir('etc'), file('etc/hostname', 'bench\n')];
  const dirs = Math.ceil((n * 0.9) / 41);
  for (let d = 0; d < dirs; d++) {
    const p = `usr/lib/pkg-${d.toString(36)}`;
    base.push(dir(p));
    for (let f = 0; f < 40; f++) {
      const name = `${p}/lib-${f}.so.${d % 7}`;
      if (f % 16 === 15) base.push(symlink(name, `lib-${f - 1}.so.${d % 7}`));
      else if (f === 30) base.push(hardlink(name, `${p}/lib-0.so.${d % 7}`));
      else base.push(file(name, { seed: d * 64 + f, size: 64 + ((d * 31 + f * 17) % 960), kind: 'text' }, f === 7 ? { xattrs: { 'user.bench': String(d) } } : {}));
    }
  }
  const update: TarRecord[] = [];
  for (let d = 0; d < dirs; d += 10) {
    const p = `usr/lib/pkg-${d.toString(36)}`;
    update.push(file(`${p}/lib-1.so.${d % 7}`, `replaced ${d}\n`), whiteout(`${p}/lib-2.so.${d % 7}`), file(`${p}/added`, `new ${d}\n`));
  }
  const opaqueLayer: TarRecord[] = [];
  for (let d = 5; d < dirs; d += 50) {
    const p = `usr/lib/pkg-${d.toString(36)}`;
    opaqueLayer.push(dir(p), file(`${p}/only`, 'only child\n'), opaque(p));
  }
  const extra: TarRecord[] = [dir('opt')];
  const remaining = Math.max(0, n - (base.length + update.length / 3));
  for (let i = 0; i < remaining; i++) extra.push(file(`opt/tool-${i % 97}/f-${i}`, `x${i}\n`));
  return [base, update, opaqueLayer, extra];
}

/** Builds the image into an OCI layout under `work`; returns the layout directory. */
async function layout(work: string, n: number): Promise<string> {
  const image = await buildImage({ layers: layers(n).map((entries) => ({ entries })) });
  const dirPath = join(work, `layout-${n}`);
  await writeLayout(dirPath, [{ image, tag: 't' }]);
  return dirPath;
}

/** An ImageSource over a layout that counts the bytes read from its blobs. */
function counting(dirPath: string): ImageSource & { bytes: number } {
  const inner = new OciLayoutSource(dirPath, { tag: 't' });
  const source = {
    bytes: 0,
    reference: inner.reference,
    resolve: inner.resolve.bind(inner),
    close: inner.close.bind(inner),
    async openBlob(d: Descriptor, o?: Parameters<ImageSource['openBlob']>[1]) {
      const blob = await inner.openBlob(d, o);
      return {
        size: blob.size,
        readAt: async (offset: number, length: number, ro?: Parameters<typeof blob.readAt>[2]) => {
          source.bytes += length;
          return blob.readAt(offset, length, ro);
        },
        close: async () => blob.close?.(),
      };
    },
  };
  return source;
}

async function settle(): Promise<NodeJS.MemoryUsage> {
  for (let i = 0; i < 3; i++) {
    gc!();
    await new Promise((r) => setTimeout(r, 30));
  }
  return process.memoryUsage();
}

const mb = (b: number): string => `${(b / 1e6).toFixed(1)} MB`;
const rate = (ops: number, s: number): number => Math.round(ops / s);

/** Opens the image, reporting time, bytes read, memory per entry and the cold first read. */
async function openMeasured(dirPath: string, label: string, options: OpenImageOptions, smallFile: string): Promise<ImageFs> {
  const before = await settle();
  const source = counting(dirPath);
  const t0 = performance.now();
  const fs = await openImage(source, options);
  const openMs = performance.now() - t0;
  const openBytes = source.bytes;
  const t1 = performance.now();
  const data = await fs.readFile(smallFile);
  const readMs = performance.now() - t1;
  const readBytes = source.bytes - openBytes;
  const after = await settle();
  const merged = (fs.tree as ImageTree).merged;
  const nodes = merged.nodeCount;
  const total = after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers;
  console.log(`${label}: openImage ${openMs.toFixed(0)} ms (read ${mb(openBytes)} of blobs), ${nodes} entries; ` +
    `memory ${(total / nodes).toFixed(0)} B/entry (tree ${(merged.byteLength / nodes).toFixed(1)} B/entry), rss ${mb(after.rss)}; ` +
    `cold first read of ${smallFile} (${data.length} B): ${readMs.toFixed(2)} ms, ${readBytes} B read from the layer source`);
  return fs;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'bench-fs-ops-'));
  try {
    const t0 = performance.now();
    const small = await layout(work, ENTRIES);
    await runTool('umoci', ['unpack', '--image', `${small}:t`, join(work, 'bundle')]);
    const rootfs = join(work, 'bundle', 'rootfs');
    console.log(`built ${ENTRIES}-entry image and umoci unpack in ${((performance.now() - t0) / 1000).toFixed(1)} s; node ${process.version}`);
    const smallFile = '/usr/lib/pkg-3/lib-5.so.3';
    const lazyOptions: OpenImageOptions = { indexing: 'on-the-fly', minLazyLayerSize: 0, span: 1 << 20 };

    // Lazy first (its numbers are the streaming case), then whole, which serves the rate comparison.
    const lazy = await openMeasured(small, 'lazy (index built on the fly, 1 MiB spans)', lazyOptions, smallFile);
    await lazy.close();
    const fs = await openMeasured(small, 'whole layers (default for a layout)', {}, smallFile);

    const paths: string[] = [];
    const dirs: string[] = [];
    for await (const { path, stats } of fs.walk('/')) {
      paths.push(path);
      if (stats.isDirectory()) dirs.push(path);
    }
    const disk = (p: string): string => join(rootfs, p);
    const lines: string[] = [];
    const compare = async (what: string, list: readonly string[], mine: (p: string) => Promise<unknown>, theirs: (p: string) => Promise<unknown>): Promise<void> => {
      let best = [Infinity, Infinity];
      for (let round = 0; round <= ROUNDS; round++) {
        // Round 0 warms both sides (page cache, JIT) and is not counted.
        const a = performance.now();
        for (const p of list) await mine(p);
        const b = performance.now();
        for (const p of list) await theirs(disk(p));
        const c = performance.now();
        if (round > 0) best = [Math.min(best[0]!, b - a), Math.min(best[1]!, c - b)];
      }
      const r1 = rate(list.length, best[0]! / 1000);
      const r2 = rate(list.length, best[1]! / 1000);
      lines.push(`${what} over ${list.length} paths: ImageFs ${r1} ops/s, node:fs ${r2} ops/s, ratio ${(r1 / r2).toFixed(2)}`);
    };
    await compare('warm lstat', paths, (p) => fs.lstat(p), (p) => lstat(p));
    await compare('warm readdir', dirs, (p) => fs.readdir(p), (p) => readdir(p));
    await compare('warm readdir withFileTypes', dirs, (p) => fs.readdir(p, { withFileTypes: true }), (p) => readdir(p, { withFileTypes: true }));
    for (const l of lines) console.log(l);
    await fs.close();

    const big = await layout(work, BIG);
    const bigFs = await openMeasured(big, `${BIG}-entry image, whole layers`, {}, smallFile);
    await bigFs.close();
    const bigLazy = await openMeasured(big, `${BIG}-entry image, lazy`, lazyOptions, smallFile);
    await bigLazy.close();
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
