// `imagefs pull` (the built CLI) against `skopeo copy`, side by side, on the same multi-layer
// image in the same local registry (CNCF distribution on 127.0.0.1):
//
//   npm run build && npx tsx bench/pull.ts     (LAYERS=4 LAYER_MIB=16 ROUNDS=3 RATE_MB=20 to change it;
//                                              CPU_PROF=DIR keeps a CPU profile of each imagefs pull)
//
// Each round, interleaved, each into a fresh directory:
//  - imagefs: `node dist/cli/main.js --cache DIR --quiet --json pull REF` (a layer without an
//    index is downloaded whole, verified against its digest and kept in the cache; see
//    docs/cache.md);
//  - skopeo: `skopeo copy --src-tls-verify=false docker://REF oci:DIR:t` (downloads the blobs,
//    verifies them, writes an OCI layout).
//  - the library alone: `openImage` with a fresh disk cache, in this process (no process start,
//    no CLI), to tell the library's time from Node's start and the CLI's;
// Then the same through bench/lib/shared-rate-proxy.ts, which caps the sum of all response
// bodies at RATE_MB MB/s (RATE_MB=0 skips it): when both take about image bytes / rate, both are
// link-bound. Prints each round, the medians and the ratio skopeo/imagefs (> 1: imagefs faster).
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildImage, compressibleBytes, dir, file, randomBytes, type LayerSpec } from '../src/testing/builder/index.js';
import { pushBlob, pushManifest, startRegistry } from '../src/testing/registry/index.js';
import { DiskCache } from '../src/cache/disk-cache.js';
import { BlobCacheIndexCache } from '../src/index-store/local-index-cache.js';
import { openImage } from '../src/open/open-image.js';
import { pushRegistryIndexes } from '../src/index-store/registry-indexes.js';
import { buildIndex } from '../src/layer/build-index.js';
import { RegistrySource } from '../src/registry/registry-source.js';
import { BufferSource } from '../src/source/read-at.js';
import { median } from './lib/measure.js';
import { startSharedRateProxy } from './lib/shared-rate-proxy.js';

const LAYERS = Number(process.env.LAYERS ?? 4);
const LAYER_MIB = Number(process.env.LAYER_MIB ?? 16);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const RATE_MB = Number(process.env.RATE_MB ?? 20);
/** INDEXED=1: push the layers' indexes next to the image, so imagefs pull streams the layers (spans, then joined blobs) instead of pulling them whole. */
const INDEXED = process.env.INDEXED === '1';
const MiB = 1024 * 1024;
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
/** CPU_PROF=DIR: imagefs runs with --cpu-prof into DIR (one .cpuprofile per pull), to see where the time goes. */
const NODE_FLAGS = process.env.CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.CPU_PROF] : [];

function layerSpec(n: number): LayerSpec {
  const entries = [dir(`l${n}/`)];
  let left = LAYER_MIB * MiB;
  for (let i = 0; left > 0; i++) {
    const size = Math.min(left, (256 + ((n * 7919 + i * 104729) % 1792)) * 1024); // 256 KiB - 2 MiB files
    entries.push(file(`l${n}/f${i}`, i % 2 === 0 ? randomBytes(n * 1000 + i, size) : compressibleBytes(n * 1000 + i, size)));
    left -= size;
  }
  return { entries, compression: { kind: 'gzip', level: 6 } };
}

/** Runs a program; resolves with its wall time (ms) and stdout, rejects on a non-zero exit. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ ms: performance.now() - t, stdout: out }) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`))));
  });
}

async function rounds(label: string, ref: string, work: string, env: NodeJS.ProcessEnv, compressed: number): Promise<{ ours: number; theirs: number }> {
  const ours: number[] = [];
  const inside: number[] = [];
  const theirs: number[] = [];
  const library: number[] = [];
  const rate = (ms: number): string => `${(compressed / 1e6 / (ms / 1000)).toFixed(1)} MB/s`;
  for (let round = 1; round <= ROUNDS; round++) {
    const cacheDir = join(work, `${label}-cache-${round}`);
    const a = await timed('node', [...NODE_FLAGS, CLI, '--cache', cacheDir, '--quiet', '--json', 'pull', ref], env);
    const pulled = JSON.parse(a.stdout) as { bytes: number; fetched: number; ms: number };
    if (pulled.bytes !== compressed) throw new Error(`imagefs pull reported ${pulled.bytes} bytes, the image has ${compressed}`);
    await rm(cacheDir, { recursive: true, force: true });
    const out = join(work, `${label}-oci-${round}`);
    const b = await timed('skopeo', ['copy', '--quiet', '--insecure-policy', '--src-tls-verify=false', `docker://${ref}`, `oci:${out}:t`], env);
    await rm(out, { recursive: true, force: true });
    // The library alone, in this process: openImage with a fresh disk cache pulls every layer whole.
    const libDir = join(work, `${label}-lib-${round}`);
    const cache = await DiskCache.open(libDir);
    const t = performance.now();
    // (With INDEXED, the layers are lazy: the background download brings them whole, as pull does.)
    let download: Promise<void> | undefined;
    const fs = await openImage(ref, { cache, indexCache: new BlobCacheIndexCache(cache), platform: { os: 'linux', architecture: 'amd64' }, background: INDEXED, onBackground: (d) => { download = d.done; } });
    await download;
    const lib = performance.now() - t;
    await fs.close();
    await cache.close();
    await rm(libDir, { recursive: true, force: true });
    ours.push(a.ms);
    inside.push(pulled.ms);
    theirs.push(b.ms);
    library.push(lib);
    console.log(`${label} round ${round}: imagefs pull ${a.ms.toFixed(0)} ms (${rate(a.ms)}; ${pulled.ms.toFixed(0)} ms by its own clock), library ${lib.toFixed(0)} ms, skopeo copy ${b.ms.toFixed(0)} ms (${rate(b.ms)})`);
  }
  const a = median(ours);
  const b = median(theirs);
  console.log(`${label} median: imagefs pull ${a.toFixed(0)} ms (${rate(a)}; ${median(inside).toFixed(0)} ms by its own clock; library in-process ${median(library).toFixed(0)} ms), skopeo copy ${b.toFixed(0)} ms (${rate(b)}), ratio skopeo/imagefs = ${(b / a).toFixed(2)} (> 1: imagefs faster)`);
  return { ours: a, theirs: b };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const image = await buildImage({ layers: Array.from({ length: LAYERS }, (_, i) => layerSpec(i)) });
  const compressed = image.layers.reduce((s, l) => s + l.blob.length, 0);
  const uncompressed = image.layers.reduce((s, l) => s + l.tar.length, 0);
  console.log(`image: ${LAYERS} gzip layers, ${(compressed / 1e6).toFixed(1)} MB compressed, ${(uncompressed / 1e6).toFixed(1)} MB of tar, ${INDEXED ? 'indexes pushed' : 'no stored index'} (built in ${((performance.now() - t0) / 1000).toFixed(1)} s); ${ROUNDS} rounds`);
  const reg = await startRegistry();
  const work = await mkdtemp(join(tmpdir(), 'imagefs-bench-pull-'));
  const home = join(work, 'home'); // no docker config: no credentials looked up
  await mkdir(home);
  const env = { ...process.env, HOME: home, XDG_CACHE_HOME: join(home, '.cache') };
  try {
    const starts: number[] = [];
    for (let i = 0; i < 3; i++) starts.push((await timed('node', [CLI, '--version'], env)).ms);
    console.log(`CLI start (node dist/cli/main.js --version), median of 3: ${median(starts).toFixed(0)} ms; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    for (const [digest, bytes] of image.blobs) if (digest !== image.descriptor.digest) await pushBlob(reg, 'bench/pull', bytes);
    await pushManifest(reg, 'bench/pull', 'v1', image.manifest.mediaType!, image.manifestBytes);
    if (INDEXED) {
      const source = new RegistrySource(`${reg.host}/bench/pull:v1`);
      const indexes = [];
      for (const l of image.layers) indexes.push({ layer: l.descriptor, bytes: (await buildIndex(new BufferSource(l.blob), l.descriptor, { diffId: l.diffId })).bytes });
      await pushRegistryIndexes(source, image.descriptor, indexes);
      await source.close();
      console.log(`indexes pushed (${indexes.reduce((n, i) => n + i.bytes.length, 0)} bytes): imagefs pull streams the layers`);
    }
    await rounds('loopback', `${reg.host}/bench/pull:v1`, work, env, compressed);
    if (RATE_MB > 0) {
      const proxy = await startSharedRateProxy(reg.url, RATE_MB * 1e6);
      try {
        console.log(`through the shared-rate proxy at ${RATE_MB} MB/s: the link alone takes ${(compressed / (RATE_MB * 1e6) * 1000).toFixed(0)} ms`);
        await rounds(`${RATE_MB} MB/s`, `${proxy.host}/bench/pull:v1`, work, env, compressed);
      } finally {
        await proxy.stop();
      }
    }
  } finally {
    await reg.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
