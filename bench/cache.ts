// Fetch once, keep it, bring the rest local (issue 11). One run against the real registry behind
// the fault proxy (its byte counter is the measure), same data, ratios printed:
//
//   npx tsx bench/cache.ts            (MIB=120 SPAN=4194304 READS=40 THINK_MS=100 to change it)
//
// 1. a 2 MB file across two spans, cold: bytes fetched against the two spans' compressed size;
// 2. export of the whole image: imagefs (lazy, through the index; in-process and as the CLI in a
//    fresh process) against skopeo copy + umoci
//    unpack, bytes (including manifests and indexes) and time;
// 3. a second process reading the same files with the same disk cache: bytes;
// 4. time to first read: cold, warm (disk cache), and cold with a recorded profile (the cold run's
//    startup profile pushed next to the index; a fresh cache with a background download);
// 5. foreground read latency (random files) with and without a background download running.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskCache } from '../src/cache/disk-cache.js';
import { exportTo } from '../src/fs/export.js';
import { BlobCacheIndexCache } from '../src/index-store/local-index-cache.js';
import { pushRegistryIndexes } from '../src/index-store/registry-indexes.js';
import { pushStartupProfile } from '../src/index-store/registry-profile.js';
import { loadStartupProfile } from '../src/layer/startup-profile.js';
import type { ImageFsEvent } from '../src/open/events.js';
import { buildIndex } from '../src/layer/build-index.js';
import { openIndex } from '../src/layer-index/layer-index.js';
import { spanBounds } from '../src/layer/span-keys.js';
import type { BackgroundDownload } from '../src/layer/background-download.js';
import { openImage, type OpenImageOptions } from '../src/open/open-image.js';
import { RegistrySource } from '../src/registry/registry-source.js';
import { BufferSource } from '../src/source/read-at.js';
import { buildImage, file, seededRandom, writeLayout, type TarRecord } from '../src/testing/builder/index.js';
import { pushLayout, startFaultProxy, startRegistry } from '../src/testing/registry/index.js';
import { bundleCli } from './lib/cli-bundle.js';
import { median } from './lib/measure.js';

const MIB = Number(process.env.MIB ?? 120);
const SPAN = Number(process.env.SPAN ?? 4 * 1024 * 1024);
const READS = Number(process.env.READS ?? 40);
/** Work the startup of line 4 does between its reads (an application importing, parsing...), ms. */
const THINK_MS = Number(process.env.THINK_MS ?? 100);
const PLATFORM = { os: 'linux', architecture: 'amd64' };
const run = promisify(execFile);
const MB = (n: number): string => `${(n / 1e6).toFixed(2)} MB`;

/** Files of 1-192 KiB, a quarter random, the rest text-like, plus one 2 MB file placed across a span boundary. */
function records(total: number, seed: number, prefix: string): TarRecord[] {
  const next = seededRandom(seed);
  const out: TarRecord[] = [];
  for (let at = 0, i = 0; at < total; i++) {
    if (i === 40) out.push(file(`${prefix}/big2mb.bin`, { seed: 77, size: 2_000_000, kind: 'random' }));
    const size = Math.min(total - at, 1024 + (next() % (191 * 1024)));
    out.push(file(`${prefix}/f${String(i).padStart(5, '0')}`, { seed: seed + i, size, kind: next() % 4 === 0 ? 'random' : 'text' }));
    at += size + 512;
  }
  return out;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'imagefs-bench-cache-'));
  const reg = await startRegistry();
  const proxy = await startFaultProxy({ target: reg.url });
  try {
    console.log(`building a ${MIB} MiB image (3 layers, gzip) ...`);
    const image = await buildImage({ layers: [
      { entries: records(MIB * 0.7 * 2 ** 20, 1, 'usr/lib'), compression: 'gnu-gzip' },
      { entries: records(MIB * 0.2 * 2 ** 20, 2, 'opt/app'), compression: 'gzip-sync' },
      { entries: records(MIB * 0.1 * 2 ** 20, 3, 'srv/data'), compression: 'gnu-gzip' },
    ] });
    const layout = join(work, 'layout');
    await writeLayout(layout, [{ image, tag: 'v1' }]);
    await pushLayout(reg, { layoutDir: layout, tag: 'v1', repo: 'bench/cache', destTag: 'v1' });
    const source = new RegistrySource(`${reg.host}/bench/cache:v1`);
    const indexes = [];
    for (const l of image.layers) indexes.push({ layer: l.descriptor, bytes: (await buildIndex(new BufferSource(l.blob), l.descriptor, { span: SPAN, diffId: l.diffId })).bytes });
    await pushRegistryIndexes(source, image.descriptor, indexes);
    await source.close();
    const compressed = image.layers.reduce((s, l) => s + l.blob.length, 0) + image.manifestBytes.length + image.configBytes.length;
    const indexBytes = indexes.reduce((s, i) => s + i.bytes.length, 0);
    console.log(`image: ${MB(compressed)} compressed (manifest and config included), indexes ${MB(indexBytes)}, span ${SPAN}`);
    const ref = `${proxy.host}/bench/cache:v1`;
    const open = async (cacheDir: string | undefined, background = false, extra: OpenImageOptions = {}) => {
      const cache = cacheDir === undefined ? undefined : await DiskCache.open(cacheDir);
      let download: BackgroundDownload | undefined;
      const fs = await openImage(ref, { platform: PLATFORM, ...(cache ? { cache, indexCache: new BlobCacheIndexCache(cache) } : {}), background, onBackground: (d) => { download = d; }, ...extra });
      return { fs, download: () => download, close: async () => { await fs.close(); await cache?.close(); } };
    };

    // 1. a 2 MB file across two spans
    proxy.reset();
    let o = await open(undefined);
    const opened = proxy.counters.bytesOut;
    let t = performance.now();
    await o.fs.readFile('/usr/lib/big2mb.bin');
    const crossMs = performance.now() - t;
    const crossBytes = proxy.counters.bytesOut - opened;
    await o.close();
    const index0 = openIndex(indexes[0]!.bytes);
    const entry = index0.lookup('usr/lib/big2mb.bin')!;
    const bounds = spanBounds(index0.checkpointPositions(), image.layers[0]!.blob.length, index0.layer.uncompressedSize);
    const covering = bounds.filter((b) => b.uStart < entry.dataOffset + entry.size && b.uEnd > entry.dataOffset);
    const spanBytes = covering.reduce((s, b) => s + (b.end - b.start), 0);
    console.log(`\n1. 2 MB file across ${covering.length} spans, cold: ${MB(crossBytes)} fetched in ${crossMs.toFixed(0)} ms; its spans are ${MB(spanBytes)} compressed: ratio ${(crossBytes / spanBytes).toFixed(3)} (goal: 1, each span once)`);

    // 2. export, imagefs against skopeo copy + umoci unpack
    proxy.reset();
    t = performance.now();
    o = await open(join(work, 'cache-export'));
    await exportTo(o.fs, join(work, 'rootfs-imagefs'));
    await o.close();
    const oursMs = performance.now() - t;
    const oursBytes = proxy.counters.bytesOut;
    proxy.reset();
    t = performance.now();
    // Asynchronously: the proxy runs in this process, a synchronous spawn would starve it.
    await run('skopeo', ['copy', '--insecure-policy', '--src-tls-verify=false', `docker://${ref}`, `oci:${join(work, 'sk')}:t`]);
    await run('umoci', ['unpack', '--image', `${join(work, 'sk')}:t`, join(work, 'rootfs-umoci')]);
    const theirMs = performance.now() - t;
    const theirBytes = proxy.counters.bytesOut;
    // The same export as a user runs it: the CLI in a fresh process, a fresh --cache (start-up included).
    proxy.reset();
    t = performance.now();
    const [node, cliPath] = (await bundleCli()).split(' ') as [string, string];
    await run(node, [cliPath, '--cache', join(work, 'cache-export-cli'), '--quiet', 'export', ref, join(work, 'rootfs-cli')], { env: { ...process.env, HOME: work } });
    const cliMs = performance.now() - t;
    const cliBytes = proxy.counters.bytesOut;
    console.log(`2. export: imagefs ${MB(oursBytes)} in ${oursMs.toFixed(0)} ms in-process (${(oursBytes / compressed).toFixed(3)}x the image, indexes included), \`imagefs export\` (CLI process) ${MB(cliBytes)} in ${cliMs.toFixed(0)} ms (${(cliBytes / compressed).toFixed(3)}x); skopeo copy + umoci unpack ${MB(theirBytes)} in ${theirMs.toFixed(0)} ms; time ratio theirs/ours ${(theirMs / oursMs).toFixed(2)} in-process, ${(theirMs / cliMs).toFixed(2)} CLI (> 1: imagefs faster)`);

    // 3 and 4. a cold first read, then a second process (fresh caches, same disk cache) reading the same files
    const cacheDir = join(work, 'cache-second');
    const sample = ['/usr/lib/f00010', '/usr/lib/big2mb.bin', '/opt/app/f00003', '/srv/data/f00005'];
    // An application's start: each file read, then THINK_MS of work before the next (what a
    // prefetch can use; reads that come all at once leave it nothing to get ahead of).
    const startup = async (fs: Awaited<ReturnType<typeof open>>['fs']): Promise<void> => {
      for (const p of sample) {
        await fs.readFile(p);
        await delay(THINK_MS);
      }
    };
    proxy.reset();
    t = performance.now();
    o = await open(cacheDir);
    await o.fs.readFile(sample[0]!);
    const coldFirst = performance.now() - t;
    await startup(o.fs);
    const coldSet = performance.now() - t;
    await o.close(); // keeps the startup profile of this run in the cache
    const firstBytes = proxy.counters.bytesOut;
    proxy.reset();
    t = performance.now();
    o = await open(cacheDir);
    await o.fs.readFile(sample[0]!);
    const warmFirst = performance.now() - t;
    for (const p of sample) await o.fs.readFile(p);
    await o.close();
    console.log(`3. same files, second open with the same disk cache: ${proxy.counters.bytesOut} bytes in all (first open: ${MB(firstBytes)})`);
    // The cold run's profile, pushed next to the index (as `imagefs index --push --profile-from-cache`
    // does, without rebuilding the indexes); then a fresh cache, background download on, reads the same files.
    const kept = await DiskCache.open(cacheDir);
    const profile = await loadStartupProfile(kept, image.descriptor.digest);
    await kept.close();
    if (profile === undefined) throw new Error('the cold run kept no startup profile');
    const pusher = new RegistrySource(`${reg.host}/bench/cache:v1`);
    await pushStartupProfile(pusher, image.descriptor, new TextEncoder().encode(JSON.stringify(profile)));
    await pusher.close();
    const events: ImageFsEvent[] = [];
    t = performance.now();
    o = await open(join(work, 'cache-profile'), true, { onImageEvent: (e) => events.push(e) });
    await o.fs.readFile(sample[0]!);
    const profileFirst = performance.now() - t;
    await startup(o.fs);
    const profileSet = performance.now() - t;
    const used = events.find((e) => e.type === 'profile-used');
    await o.close();
    // The control: a fresh cache with the background download in layer order (profiles off).
    t = performance.now();
    o = await open(join(work, 'cache-background'), true, { profile: false });
    await startup(o.fs);
    const backgroundSet = performance.now() - t;
    await o.close();
    if (used === undefined) throw new Error(`the pushed profile was not used: ${JSON.stringify(events.filter((e) => e.type === 'profile-ignored'))}`);
    console.log(`4. time to first read (open + read): cold ${coldFirst.toFixed(0)} ms, warm ${warmFirst.toFixed(0)} ms (ratio cold/warm ${(coldFirst / warmFirst).toFixed(2)}), cold with a recorded profile ${profileFirst.toFixed(0)} ms (ratio cold/profile ${(coldFirst / profileFirst).toFixed(2)}; ${profile.spans.length} spans pushed next to the index, background download on)`);
    console.log(`   the ${sample.length} startup files (open + every read, ${THINK_MS} ms of work after each): cold ${coldSet.toFixed(0)} ms, cold with a background download in layer order ${backgroundSet.toFixed(0)} ms, cold with a recorded profile ${profileSet.toFixed(0)} ms (ratios cold/profile ${(coldSet / profileSet).toFixed(2)}, background/profile ${(backgroundSet / profileSet).toFixed(2)})`);

    // 5. foreground latency with and without a background download
    const files = records(MIB * 0.7 * 2 ** 20, 1, 'usr/lib').map((r) => `/${r.path}`);
    const next = seededRandom(99);
    const picks = Array.from({ length: READS }, () => files[next() % files.length]!);
    const latencies = async (background: boolean): Promise<number[]> => {
      const x = await open(join(work, `cache-lat-${background}`), background);
      const out: number[] = [];
      for (const p of picks) {
        const s = performance.now();
        await x.fs.readFile(p);
        out.push(performance.now() - s);
      }
      const running = x.download();
      await x.close();
      if (background && running === undefined) throw new Error('no background download ran');
      return out;
    };
    const idle = await latencies(false);
    const busy = await latencies(true);
    const p = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
    console.log(`5. ${READS} cold random file reads: idle median ${median(idle).toFixed(1)} ms p90 ${p(idle, 0.9).toFixed(1)} ms; with background download median ${median(busy).toFixed(1)} ms p90 ${p(busy, 0.9).toFixed(1)} ms (ratio ${(median(busy) / median(idle)).toFixed(2)})`);
  } finally {
    await proxy.stop();
    await reg.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
