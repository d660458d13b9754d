// The full pull against skopeo, side by side in one run, on the same multi-layer image in the same
// local registry (CNCF distribution 2.8 on 127.0.0.1):
//
//   npx tsx bench/full-pull.ts           (LAYERS=5 LAYER_MIB=24 ROUNDS=3 CONCURRENCY=4 to change it)
//
// The image: LAYERS gzip layers (node:zlib level 6) of LAYER_MIB MiB of files each, half of the
// bytes random (incompressible), the rest text-like. Each round, interleaved:
//  - imagefs: openImage(ref, { mode: 'full', cache: <fresh DiskCache> }): manifest, config, every
//    layer downloaded whole (in parallel), verified against its digest, stored in the cache,
//    decompressed into the cache (verified against its diff_id), parsed and merged: ready to read;
//  - skopeo: `skopeo copy --src-tls-verify=false docker://HOST/bench/full:v1 oci:<fresh dir>:t`
//    (downloads the compressed blobs, verifies them, writes an OCI layout; no decompression).
// Prints each round, then the medians and the ratio skopeo/imagefs (> 1: imagefs is faster).
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskCache } from '../src/cache/disk-cache.js';
import { openImage } from '../src/open/open-image.js';
import { buildImage, compressibleBytes, file, randomBytes, dir, type LayerSpec } from '../src/testing/builder/index.js';
import { pushBlob, pushManifest, startRegistry } from '../src/testing/registry/index.js';
import { median } from './lib/measure.js';

const LAYERS = Number(process.env.LAYERS ?? 5);
const LAYER_MIB = Number(process.env.LAYER_MIB ?? 40);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const MiB = 1024 * 1024;

function layerSpec(n: number): LayerSpec {
  const entries = [dir(`l${n}/`)];
  let left = LAYER_MIB * MiB;
  for (let i = 0; left > 0; i++) {
    const size = Math.min(left, (256 + ((n * 7919 + i * 104729) % 1792)) * 1024); // 256 KiB - 2 MiB files
    const data = i % 2 === 0 ? randomBytes(n * 1000 + i, size) : compressibleBytes(n * 1000 + i, size);
    entries.push(file(`l${n}/f${i}`, data));
    left -= size;
  }
  return { entries, compression: { kind: 'gzip', level: 6 } };
}


async function main(): Promise<void> {
  const t0 = performance.now();
  const image = await buildImage({ layers: Array.from({ length: LAYERS }, (_, i) => layerSpec(i)) });
  const compressed = image.layers.reduce((s, l) => s + l.blob.length, 0);
  const uncompressed = image.layers.reduce((s, l) => s + l.tar.length, 0);
  console.log(`image: ${LAYERS} gzip layers, ${(compressed / MiB).toFixed(1)} MiB compressed, ${(uncompressed / MiB).toFixed(1)} MiB of tar (built in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  const reg = await startRegistry();
  const work = await mkdtemp(join(tmpdir(), 'imagefs-bench-full-'));
  try {
    for (const [digest, bytes] of image.blobs) if (digest !== image.descriptor.digest) await pushBlob(reg, 'bench/full', bytes);
    await pushManifest(reg, 'bench/full', 'v1', image.manifest.mediaType!, image.manifestBytes);
    const ref = `${reg.host}/bench/full:v1`;
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const cacheDir = join(work, `cache-${round}`);
      let t = performance.now();
      const cache = await DiskCache.open(cacheDir);
      const fs = await openImage(ref, { mode: 'full', cache, authFile: false, layerConcurrency: CONCURRENCY });
      const imagefsMs = performance.now() - t;
      const probe = await fs.readFile(`/l0/f0`);
      if (probe.length === 0) throw new Error('empty read');
      await fs.close();
      await cache.close();
      await rm(cacheDir, { recursive: true, force: true });

      const out = join(work, `oci-${round}`);
      t = performance.now();
      const r = spawnSync('skopeo', ['copy', '--insecure-policy', '--src-tls-verify=false', `docker://${ref}`, `oci:${out}:t`], { encoding: 'utf8' });
      const skopeoMs = performance.now() - t;
      if (r.status !== 0) throw new Error(`skopeo failed: ${r.stderr}`);
      await rm(out, { recursive: true, force: true });
      ours.push(imagefsMs);
      theirs.push(skopeoMs);
      console.log(`round ${round}: imagefs ${imagefsMs.toFixed(0)} ms (${(compressed / MiB / (imagefsMs / 1000)).toFixed(0)} MiB/s compressed), skopeo ${skopeoMs.toFixed(0)} ms (${(compressed / MiB / (skopeoMs / 1000)).toFixed(0)} MiB/s)`);
    }
    const a = median(ours);
    const b = median(theirs);
    console.log(`median: imagefs full pull ${a.toFixed(0)} ms, skopeo copy ${b.toFixed(0)} ms, ratio skopeo/imagefs = ${(b / a).toFixed(2)} (> 1: imagefs faster)`);
  } finally {
    await reg.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
