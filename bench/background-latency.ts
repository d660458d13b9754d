// Foreground read latency while a background download runs (issue 11: <= 1.5x idle), one run,
// same data, side by side:
//
//   npx tsx bench/background-latency.ts      (BASE_MIB=60 READS=30 RATE_MB=20 ROUNDS=2 to change it)
//
// An image of two gzip layers (a base of BASE_MIB MiB of files, and a top layer of READS small
// random files, each followed by 1.1 MiB of random filler) with its index in the real registry,
// reached through bench/lib/shared-rate-proxy.ts (one bandwidth cap for every connection together,
// RATE_MB MB/s; RATE_MB=0: plain loopback). Each round opens the image twice with a fresh disk
// cache: once idle (no background download) and once with the background download running (the
// reads start once it has fetched its first span). The reads are the small files of the top layer,
// each in a span of its own, which the background download (base layer first) reaches last: every
// read fetches one new span in both runs, so the ratio measures what the download costs a
// foreground read, not what it saves.
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskCache } from '../src/cache/disk-cache.js';
import { BlobCacheIndexCache } from '../src/index-store/local-index-cache.js';
import { pushRegistryIndexes } from '../src/index-store/registry-indexes.js';
import { buildIndex } from '../src/layer/build-index.js';
import type { BackgroundDownload } from '../src/layer/background-download.js';
import { openImage } from '../src/open/open-image.js';
import { RegistrySource } from '../src/registry/registry-source.js';
import { BufferSource } from '../src/source/read-at.js';
import { buildImage, dir, file, seededRandom, writeLayout, type TarRecord } from '../src/testing/builder/index.js';
import { pushLayout, startRegistry } from '../src/testing/registry/index.js';
import { median } from './lib/measure.js';
import { startSharedRateProxy } from './lib/shared-rate-proxy.js';
import { syntheticRecords } from './lib/synthetic.js';

const BASE_MIB = Number(process.env.BASE_MIB ?? 60);
const READS = Number(process.env.READS ?? 30);
const RATE_MB = Number(process.env.RATE_MB ?? 20);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const PLATFORM = { os: 'linux', architecture: 'amd64' };

const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'imagefs-bench-bglat-'));
  const reg = await startRegistry();
  try {
    const top: TarRecord[] = [dir('srv/')];
    const picks: string[] = [];
    for (let i = 0; i < READS; i++) {
      top.push(file(`srv/r${i}`, { seed: 100 + i, size: 16 * 1024, kind: 'random' }));
      top.push(file(`srv/filler${i}`, { seed: 500 + i, size: Math.round(1.1 * 2 ** 20), kind: 'random' }));
      picks.push(`/srv/r${i}`);
    }
    const shuffle = seededRandom(5);
    for (let i = picks.length - 1; i > 0; i--) {
      const j = shuffle() % (i + 1);
      [picks[i], picks[j]] = [picks[j]!, picks[i]!];
    }
    const image = await buildImage({ layers: [
      { entries: syntheticRecords(BASE_MIB * 2 ** 20, 3), compression: 'gnu-gzip' },
      { entries: top, compression: 'gnu-gzip' },
    ] });
    const layout = join(work, 'layout');
    await writeLayout(layout, [{ image, tag: 'v1' }]);
    await pushLayout(reg, { layoutDir: layout, tag: 'v1', repo: 'bench/bglat', destTag: 'v1' });
    const source = new RegistrySource(`${reg.host}/bench/bglat:v1`);
    const indexes = [];
    for (const l of image.layers) indexes.push({ layer: l.descriptor, bytes: (await buildIndex(new BufferSource(l.blob), l.descriptor, { diffId: l.diffId })).bytes });
    await pushRegistryIndexes(source, image.descriptor, indexes);
    await source.close();
    const compressed = image.layers.reduce((s, l) => s + l.blob.length, 0);
    const base = image.layers[0]!.blob.length;
    const proxy = RATE_MB > 0 ? await startSharedRateProxy(reg.url, RATE_MB * 1e6) : undefined;
    const ref = `${proxy?.host ?? reg.host}/bench/bglat:v1`;
    console.log(`image: ${(compressed / 1e6).toFixed(1)} MB compressed (base ${(base / 1e6).toFixed(1)} MB), index spans 1 MiB; ${RATE_MB > 0 ? `${RATE_MB} MB/s shared link` : 'loopback'}; load ${loadavg()[0]!.toFixed(1)}`);
    const idle: number[] = [];
    const busy: number[] = [];
    try {
      const run = async (round: number, background: boolean): Promise<number[]> => {
        const cache = await DiskCache.open(join(work, `cache-${round}-${background}`));
        let download: BackgroundDownload | undefined;
        let firstSpan!: () => void;
        const started = new Promise<void>((resolve) => { firstSpan = resolve; });
        const fs = await openImage(ref, {
          platform: PLATFORM, cache, indexCache: new BlobCacheIndexCache(cache), background, profile: false,
          onBackground: (d) => { download = d; },
          onImageEvent: (e) => { if (e.type === 'progress' && e.fetched > 0) firstSpan(); },
        });
        try {
          if (background) await started;
          const out: number[] = [];
          for (const p of picks) {
            const t = performance.now();
            await fs.readFile(p);
            out.push(performance.now() - t);
          }
          if (background) {
            const local = download!.progress.bytes;
            if (local >= base) throw new Error(`the background download reached the top layer (${local} of ${base} base bytes) before the reads ended: raise MIB or lower READS`);
          }
          return out;
        } finally {
          await fs.close();
          await cache.close();
        }
      };
      for (let round = 1; round <= ROUNDS; round++) {
        const a = await run(round, false);
        const b = await run(round, true);
        idle.push(...a);
        busy.push(...b);
        console.log(`round ${round}: idle median ${median(a).toFixed(1)} ms p90 ${quantile(a, 0.9).toFixed(1)} ms; with the background download median ${median(b).toFixed(1)} ms p90 ${quantile(b, 0.9).toFixed(1)} ms`);
      }
    } finally {
      await proxy?.stop();
    }
    console.log(`${READS * ROUNDS} cold reads of one span each: median ${median(idle).toFixed(1)} -> ${median(busy).toFixed(1)} ms (ratio ${(median(busy) / median(idle)).toFixed(2)}), p90 ${quantile(idle, 0.9).toFixed(1)} -> ${quantile(busy, 0.9).toFixed(1)} ms (ratio ${(quantile(busy, 0.9) / quantile(idle, 0.9)).toFixed(2)}); goal <= 1.5`);
  } finally {
    await reg.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
