// Upstream bytes for five processes pulling through a pull-through mirror (issue 11). One run, same
// data, ratios printed against the baselines of the same run:
//
//   npx tsx bench/mirror.ts     (BLOB_MB=100 READERS=5 FILES=6 SPAN=1048576 KINDS=files,export OFF=1 AUTH=none VERBOSE=0)
//
// Upstream: the real registry (CNCF distribution 2.8) behind the fault proxy, whose byte counters
// and request log are the measure (every byte the upstream sends, to the mirror or to a client).
// AUTH=token puts a token issuer in front of the upstream (as on Docker Hub): the mirror then
// authenticates with `proxy.username/password` and stops pinging the upstream's /v2/ before each
// uncached blob (see the limits in docs/cache.md, Mirrors); the readers pass `--creds`.
// The image: one large gzip layer (BLOB_MB MB compressed) and two small gzip layers, with indexes
// of SPAN-byte spans stored as referrers (the tag schema: distribution 2.8 has no referrers API).
// The mirror: `docker-registry serve` in proxy mode in front of the fault proxy, fresh storage for
// every scenario. The clients: READERS `imagefs` CLI processes started together (bundled from
// src/ by bench/lib/cli-bundle.ts), each with its own fresh `--cache DIR`.
//
// Two workloads (KINDS): files (each reader runs `imagefs cat REF PATH` for FILES files spread over
// the big layer and one file of a small layer, one after the other, with its cache) and export
// (each reader runs `imagefs export REF DIR`); for each, the scenarios:
//  - direct: no mirror, every reader from the upstream (the baseline; its distinct ranges are
//    "the bytes the readers needed");
//  - mirror: `--mirror HOST:PORT` (imagefs closes a 200 from a filling mirror at once, reads the
//    range upstream, returns to the mirror after a backoff);
//  - mirror, handling off (files only, OFF=1): the mirror named as the registry itself, so a 200
//    is read up to the end of the range and then closed, as from any registry;
//  - naive (computed from the mirror scenario's log): the same upstream whole-blob GETs the mirror
//    made, each read whole (what a client costs that reads every 200 to its end).
// The goal: upstream ~ the big blob once + the bytes needed (distinct ranges, indexes, manifests).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DEFAULT_SPAN } from '../src/gzip/index-builder.js';
import { pushRegistryIndexes } from '../src/index-store/registry-indexes.js';
import { buildIndex } from '../src/layer/build-index.js';
import { RegistrySource } from '../src/registry/registry-source.js';
import { BufferSource } from '../src/source/read-at.js';
import { buildImage, file, seededRandom, writeLayout, type BuiltImage, type TarRecord } from '../src/testing/builder/index.js';
import {
  freePort, pushLayout, spawnRegistryProcess, startFaultProxy, startRegistry,
  type FaultProxy, type ProxiedRequestRecord, type RegistryProcess, type TestRegistry,
} from '../src/testing/registry/index.js';
import { bundleCliInto } from './lib/cli-bundle.js';
import { syntheticRecords } from './lib/synthetic.js';

const BLOB_MB = Number(process.env.BLOB_MB ?? 100);
const READERS = Number(process.env.READERS ?? 5);
const FILES = Number(process.env.FILES ?? 6);
const SPAN = Number(process.env.SPAN ?? DEFAULT_SPAN);
const KINDS = (process.env.KINDS ?? 'files,export').split(',');
const OFF = process.env.OFF !== '0';
const VERBOSE = process.env.VERBOSE === '1';
const AUTH = process.env.AUTH === 'token' ? 'token' : 'none';
const REPO = 'bench/mirror';
const MB = (n: number): string => `${(n / 1e6).toFixed(2)} MB`;

/** The big layer: files of 1-192 KiB, 7 in 8 random (so the gzip layer is about as large as its tar). */
function bigRecords(total: number): TarRecord[] {
  const next = seededRandom(7);
  const out: TarRecord[] = [];
  for (let at = 0, i = 0; at < total; i++) {
    const size = Math.min(total - at, 1024 + (next() % (191 * 1024)));
    out.push(file(`big/f${String(i).padStart(5, '0')}`, { seed: 10_000 + i, size, kind: i % 8 === 0 ? 'text' : 'random' }));
    at += size + 512;
  }
  return out;
}

// ---- everything started here, stopped in `cleanup` (also on SIGINT/SIGTERM and on a throw) ----
const children = new Set<ChildProcess>();
const mirrors = new Set<RegistryProcess>();
let work: string | undefined;
let reg: TestRegistry | undefined;
let proxy: FaultProxy | undefined;
let watchdog: ChildProcess | undefined;
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  return (cleaning ??= (async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const m of mirrors) await m.stop().catch(() => undefined);
    await proxy?.stop().catch(() => undefined);
    await reg?.stop().catch(() => undefined);
    watchdog?.kill('SIGKILL');
    if (work !== undefined) await rm(work, { recursive: true, force: true }).catch(() => undefined);
  })());
}

/**
 * A watchdog for when this process dies without running `cleanup` (SIGKILL; tsx kills its child
 * when a relayed SIGINT is not acknowledged within 30 ms): once this process is gone, it kills each
 * process listed in WORK/pids whose command line still names its marker (a directory of this
 * bench, so a reused pid is never hit) and removes the directories in WORK/dirs and WORK.
 */
function startWatchdog(dir: string): void {
  const script = [
    'while kill -0 "$2" 2>/dev/null; do sleep 1; done',
    'while read -r p m; do tr "\\0" " " < "/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$m" && kill -9 "$p"; done < "$1/pids"',
    'while read -r d; do rm -rf -- "$d"; done < "$1/dirs"',
    'rm -rf -- "$1"',
  ].join('\n');
  appendFileSync(join(dir, 'pids'), '');
  appendFileSync(join(dir, 'dirs'), '');
  watchdog = spawn('sh', ['-c', script, 'watchdog', dir, String(process.pid)], { detached: true, stdio: 'ignore' });
  watchdog.unref();
}

/** Tells the watchdog about a process (killed only while its command line contains `marker`) or a directory. */
function watch(pid: number | undefined, marker: string): void {
  if (work !== undefined && pid !== undefined) appendFileSync(join(work, 'pids'), `${pid} ${marker}\n`);
}
function watchDir(dir: string): void {
  if (work !== undefined) appendFileSync(join(work, 'dirs'), `${dir}\n`);
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`\n${sig}: stopping everything the bench started`);
    void cleanup().finally(() => process.exit(130));
  });
}
process.once('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Runs the CLI; resolves with its wall time and stdout, rejects on a non-zero exit. */
function runCli(cli: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; stdout: Buffer }> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    watch(child.pid, args[args.indexOf('--cache') + 1]!);
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      children.delete(child);
      if (code === 0) resolve({ ms: performance.now() - t, stdout: Buffer.concat(out) });
      else reject(new Error(`imagefs ${args.join(' ')} exited ${code}: ${err.trim()}`));
    });
  });
}

/** A pull-through mirror of `upstream` with fresh storage under `dir`. */
async function startMirror(dir: string, upstream: string, creds: { username: string; password: string } | undefined): Promise<{ host: string; storage: string; proc: RegistryProcess; stop(): Promise<void> }> {
  const storage = join(dir, 'storage');
  await mkdir(storage, { recursive: true });
  const port = await freePort();
  const config = join(dir, 'mirror.yml');
  await writeFile(config, JSON.stringify({
    version: '0.1', log: { level: 'warn', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: storage } },
    http: { addr: `127.0.0.1:${port}`, secret: 'bench-mirror-secret' },
    proxy: { remoteurl: upstream, ...(creds === undefined ? {} : { username: creds.username, password: creds.password }) },
  }));
  const proc = await spawnRegistryProcess('docker-registry', config, `http://127.0.0.1:${port}`, 20_000);
  mirrors.add(proc);
  watch(proc.pid, config);
  return {
    host: `127.0.0.1:${port}`, storage, proc,
    stop: async () => {
      await proc.stop();
      mirrors.delete(proc);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** What one scenario cost at the upstream. */
interface Counted {
  total: number;
  requests: number;
  /** Big blob: GETs without a Range (the mirror's fills and its copies to clients). */
  bigWhole: number;
  bigWholeCount: number;
  /** Big blob: range GETs (clients reading the upstream directly). */
  bigRanges: number;
  bigRangeCount: number;
  /** Small layers (whole and ranges). */
  small: number;
  smallWholeCount: number;
  /** Small layers: range GETs (clients reading the upstream directly). */
  smallRanges: number;
  /** Index blobs, config and the referrers' empty blob. */
  otherBlobs: number;
  /** Manifests (the image's, the referrers tag index, the index manifest). */
  manifests: number;
  /** The rest (`/v2/`, referrers API 404s). */
  rest: number;
}

function digestOf(path: string): string | undefined {
  return /\/blobs\/(sha256:[0-9a-f]{64})/.exec(path)?.[1];
}

function count(log: readonly ProxiedRequestRecord[], image: BuiltImage): Counted {
  const big = image.layers[0]!.descriptor.digest;
  const smalls = new Set(image.layers.slice(1).map((l) => l.descriptor.digest));
  const c: Counted = { total: 0, requests: log.length, bigWhole: 0, bigWholeCount: 0, bigRanges: 0, bigRangeCount: 0, small: 0, smallWholeCount: 0, smallRanges: 0, otherBlobs: 0, manifests: 0, rest: 0 };
  for (const r of log) {
    c.total += r.bytesOut;
    const d = r.kind === 'blob' ? digestOf(r.path) : undefined;
    if (d === big) {
      if (r.method !== 'GET') continue;
      if (r.range === undefined) { c.bigWhole += r.bytesOut; c.bigWholeCount++; } else { c.bigRanges += r.bytesOut; c.bigRangeCount++; }
    } else if (d !== undefined && smalls.has(d)) {
      c.small += r.bytesOut;
      if (r.method === 'GET' && r.range === undefined) c.smallWholeCount++;
      if (r.method === 'GET' && r.range !== undefined) c.smallRanges += r.bytesOut;
    } else if (r.kind === 'blob') c.otherBlobs += r.bytesOut;
    else if (r.kind === 'manifest') c.manifests += r.bytesOut;
    else c.rest += r.bytesOut;
  }
  return c;
}

/** Distinct bytes in a log: per blob the union of the ranges sent (a whole GET is all of it), per manifest path once. */
function distinct(log: readonly ProxiedRequestRecord[], image: BuiltImage): { bigLayer: number; smallLayers: number; indexesEtc: number; manifests: number; total: number } {
  const spans = new Map<string, Array<[number, number]>>();
  const manifests = new Map<string, number>();
  for (const r of log) {
    if (r.method !== 'GET' || r.bytesOut === 0 || (r.status !== 200 && r.status !== 206)) continue;
    const d = r.kind === 'blob' ? digestOf(r.path) : undefined;
    if (d === undefined) {
      if (r.kind === 'manifest') manifests.set(r.path, Math.max(manifests.get(r.path) ?? 0, r.bytesOut));
      continue;
    }
    const m = r.status === 206 ? /bytes=(\d+)-(\d+)/.exec(r.range ?? '') : null;
    const start = m ? Number(m[1]) : 0;
    const list = spans.get(d) ?? [];
    list.push([start, start + r.bytesOut]);
    spans.set(d, list);
  }
  const union = (xs: Array<[number, number]>): number => {
    let sum = 0;
    let end = -1;
    for (const [a, b] of [...xs].sort((x, y) => x[0] - y[0])) {
      if (b <= end) continue;
      sum += b - Math.max(a, end);
      end = b;
    }
    return sum;
  };
  const big = image.layers[0]!.descriptor.digest;
  const smalls = new Set(image.layers.slice(1).map((l) => l.descriptor.digest));
  let bigLayer = 0;
  let smallLayers = 0;
  let indexesEtc = 0;
  for (const [d, xs] of spans) {
    const n = union(xs);
    if (d === big) bigLayer += n;
    else if (smalls.has(d)) smallLayers += n;
    else indexesEtc += n;
  }
  const m = [...manifests.values()].reduce((s, n) => s + n, 0);
  return { bigLayer, smallLayers, indexesEtc, manifests: m, total: bigLayer + smallLayers + indexesEtc + m };
}

interface Outcome {
  name: string;
  via: 'direct' | 'mirror' | 'off';
  counted: Counted;
  log: ProxiedRequestRecord[];
  /** Wall time until the last reader finished, ms. */
  wall: number;
  /** Each reader's time, ms. */
  readers: number[];
  /** When each log record appeared, ms after the start (sampled every 20 ms). */
  times: number[];
  /** When each record last sent a byte, ms after the start (sampled every 20 ms). */
  ends: number[];
}

async function main(): Promise<void> {
  work = await mkdtemp(join(tmpdir(), 'imagefs-bench-mirror-'));
  startWatchdog(work);
  const t0 = performance.now();
  const bigTar = Math.round(BLOB_MB * 1e6 / 0.93);
  const bigEntries = bigRecords(bigTar);
  const smallEntries = syntheticRecords(3 * 2 ** 20, 11).map((r) => ({ ...r, path: String(r.path).replace(/^usr\/lib/, 'opt/app') }) as TarRecord);
  const tinyEntries = syntheticRecords(2 ** 20, 12).map((r) => ({ ...r, path: String(r.path).replace(/^usr\/lib/, 'srv/data') }) as TarRecord);
  const image = await buildImage({ layers: [
    { entries: bigEntries, compression: { kind: 'gnu-gzip', level: 6 } },
    { entries: smallEntries, compression: { kind: 'gnu-gzip', level: 6 } },
    { entries: tinyEntries, compression: { kind: 'gnu-gzip', level: 6 } },
  ] });
  const bigBlob = image.layers[0]!.blob.length;
  // The files each reader cats: FILES spread evenly over the big layer, and one of a small layer.
  const bigFiles = bigEntries.filter((e) => e.type === 'file');
  const picks = Array.from({ length: FILES }, (_, k) => bigFiles[Math.floor(((k + 0.5) * bigFiles.length) / FILES)]!);
  picks.push(smallEntries.find((e) => e.type === 'file' && String(e.path).endsWith('/f3'))!);
  const expected = new Map<string, string>();
  for (const layer of image.layers) {
    for (const e of layer.entries ?? []) if (e.type === 'file' && e.data !== undefined) expected.set(`/${e.path}`, createHash('sha256').update(e.data).digest('hex'));
  }
  const paths = picks.map((p) => `/${String(p.path)}`);
  const fileCount = image.layers.reduce((s, l) => s + (l.entries ?? []).filter((e) => e.type === 'file').length, 0);

  reg = await startRegistry({ auth: AUTH });
  watch(reg.pid, dirname(reg.storageDir));
  watchDir(dirname(reg.storageDir));
  const creds = reg.auth;
  const layout = join(work, 'layout');
  await writeLayout(layout, [{ image, tag: 'v1' }]);
  await pushLayout(reg, { layoutDir: layout, tag: 'v1', repo: REPO, destTag: 'v1' });
  await rm(layout, { recursive: true, force: true });
  const indexes = [];
  for (const l of image.layers) indexes.push({ layer: l.descriptor, bytes: (await buildIndex(new BufferSource(l.blob), l.descriptor, { span: SPAN, diffId: l.diffId })).bytes });
  const pusher = new RegistrySource(`${reg.host}/${REPO}:v1`, creds === undefined ? {} : { credentials: creds });
  await pushRegistryIndexes(pusher, image.descriptor, indexes);
  await pusher.close();
  proxy = await startFaultProxy({ target: reg.url });
  const upstream = proxy;

  const cli = await bundleCliInto(join(import.meta.dirname, '..', 'node_modules', '.cache', 'imagefs-bench-mirror-cli'));
  const home = join(work, 'home');
  await mkdir(home);
  const conf = join(work, 'registries.conf'); // empty: only --mirror counts, not /etc/containers/registries.conf
  await writeFile(conf, '');
  const env = { ...process.env, HOME: home, XDG_CACHE_HOME: join(home, '.cache'), CONTAINERS_REGISTRIES_CONF: conf };

  const sizes = image.layers.map((l) => MB(l.blob.length)).join(' + ');
  const indexBytes = indexes.reduce((s, i) => s + i.bytes.length, 0);
  console.log(`image: 3 gzip layers ${sizes} (built in ${((performance.now() - t0) / 1000).toFixed(1)} s), indexes ${MB(indexBytes)} (span ${SPAN}); ${fileCount} files`);
  console.log(`upstream auth: ${AUTH}; ${READERS} processes; files: ${paths.join(' ')}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);

  /** Runs READERS readers at once (`files` or `export`), through a fresh mirror or not; waits for the mirror's fill to end. */
  const scenario = async (name: string, kind: 'files' | 'export', via: 'direct' | 'mirror' | 'off'): Promise<Outcome> => {
    const dir = join(work!, name.replace(/\W+/g, '-'));
    await mkdir(dir);
    const mirror = via === 'direct' ? undefined : await startMirror(join(dir, 'mirror'), upstream.url, creds);
    upstream.reset();
    const times: number[] = [];
    const ends: number[] = [];
    const seen: number[] = [];
    const start = performance.now();
    const sample = (): void => {
      const now = performance.now() - start;
      while (times.length < upstream.log.length) times.push(now);
      upstream.log.forEach((r, i) => {
        if (seen[i] !== r.bytesOut || ends[i] === undefined) ends[i] = now;
        seen[i] = r.bytesOut;
      });
    };
    const sampler = setInterval(sample, 20);
    try {
      const ref = `${via === 'off' ? mirror!.host : upstream.host}/${REPO}:v1`;
      const readers = await Promise.all(Array.from({ length: READERS }, async (_, r) => {
        const t = performance.now();
        const global = [
          '--cache', join(dir, `cache-${r}`), '--quiet', ...(via === 'mirror' ? ['--mirror', mirror!.host] : []),
          ...(creds !== undefined && via !== 'off' ? ['--creds', `${creds.username}:${creds.password}`] : []),
        ];
        if (kind === 'files') {
          for (const p of paths) {
            const { stdout } = await runCli(cli, ['cat', ...global, ref, p], env);
            if (createHash('sha256').update(stdout).digest('hex') !== expected.get(p)) throw new Error(`${name}: reader ${r} got wrong bytes for ${p}`);
          }
        } else {
          const out = join(dir, `rootfs-${r}`);
          const { stdout } = await runCli(cli, ['export', ...global.filter((a) => a !== '--quiet'), '--json', ref, out], env);
          const summary = JSON.parse(stdout.toString()) as { files: number };
          if (summary.files !== fileCount) throw new Error(`${name}: reader ${r} exported ${summary.files} files, the image has ${fileCount}`);
          await rm(out, { recursive: true, force: true });
        }
        return performance.now() - t;
      }));
      const wall = performance.now() - start;
      if (mirror !== undefined) {
        // The mirror keeps filling after the readers are done: wait until it has stored the big
        // blob and the upstream has sent nothing for a second.
        const hex = image.layers[0]!.descriptor.digest.slice(7);
        const data = join(mirror.storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
        for (let i = 0; i < 600 && !existsSync(data); i++) await new Promise((r) => setTimeout(r, 100));
        if (!existsSync(data)) console.log(`  (${name}: the mirror had not stored the big blob 60 s after the readers finished)`);
      }
      for (let last = -1; last !== upstream.counters.bytesOut;) {
        last = upstream.counters.bytesOut;
        await new Promise((r) => setTimeout(r, 1000));
      }
      sample();
      const log = [...upstream.log];
      // Closed answers show as "response completed with error" and "error serving error json"
      // (broken pipe, connection reset); anything else is news.
      const errors = mirror?.proc.log().split('\n').filter((l) => /level=error/.test(l)) ?? [];
      const other = errors.filter((l) => !/response completed with error|error serving error json/.test(l));
      if (errors.length > 0) console.log(`    the mirror logged ${errors.length} errors (${errors.length - other.length} closed answers)${other.length > 0 ? `; others: ${other.slice(0, 3).map((l) => /msg="([^"]*)"/.exec(l)?.[1] ?? l.slice(0, 200)).join(' | ')}` : ''}`);
      return { name, via, counted: count(log, image), log, wall, readers, times, ends };
    } catch (e) {
      if (mirror !== undefined) console.error(`mirror log (${name}):\n${mirror.proc.log().slice(-4000)}`);
      throw e;
    } finally {
      clearInterval(sampler);
      await mirror?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  };

  /** The mirror's (first) fill of the big blob, how many whole copies it pulled, and the direct range reads of the big blob asked during and after that fill. */
  const fillOf = (o: Outcome): { start: number; end: number; fills: number; during: number; after: number } | undefined => {
    const big = image.layers[0]!.descriptor.digest;
    const whole = (r: ProxiedRequestRecord): boolean => r.method === 'GET' && r.range === undefined && r.path.includes(big) && r.bytesOut === bigBlob;
    const fill = o.log.findIndex(whole);
    if (fill < 0) return undefined;
    const end = o.ends[fill]!;
    let during = 0;
    let after = 0;
    for (const [i, r] of o.log.entries()) {
      if (r.method !== 'GET' || r.range === undefined || !r.path.includes(big)) continue;
      if (o.times[i]! < end) during += r.bytesOut;
      else after += r.bytesOut;
    }
    return { start: o.times[fill]!, end, fills: o.log.filter(whole).length, during, after };
  };

  const show = (o: Outcome): void => {
    const c = o.counted;
    console.log(`  ${o.name}: upstream ${MB(c.total)} in ${c.requests} requests; big blob whole GETs ${c.bigWholeCount} (${MB(c.bigWhole)}), range GETs ${c.bigRangeCount} (${MB(c.bigRanges)}); small layers ${MB(c.small)} (${c.smallWholeCount} whole GETs); index blobs and config ${MB(c.otherBlobs)}; manifests ${MB(c.manifests)}; wall ${o.wall.toFixed(0)} ms (readers ${o.readers.map((x) => x.toFixed(0)).join(', ')} ms)`);
    const f = fillOf(o);
    if (f !== undefined) {
      if (f.fills > 1) {
        console.log(o.via === 'mirror'
          ? `    the upstream sent the whole big blob ${f.fills} times: imagefs closes every 200 at once, so the mirror filled it ${f.fills} times (a distribution 2.8 race: docs/cache.md, Mirrors)`
          : `    the upstream sent the whole big blob ${f.fills} times (the fill, and answers read to a range near the end)`);
      }
      console.log(`    the mirror's fill of the big blob: t=${f.start.toFixed(0)}-${f.end.toFixed(0)} ms (${(bigBlob / 1e3 / (f.end - f.start)).toFixed(0)} MB/s); big-blob ranges read from the upstream directly: ${MB(f.during)} asked during the fill, ${MB(f.after)} after it`);
    }
    if (VERBOSE) {
      for (const [i, r] of o.log.entries()) {
        if (r.kind !== 'blob' || r.method !== 'GET' || r.range === 'bytes=1-1') continue;
        const layer = image.layers.findIndex((l) => r.path.includes(l.descriptor.digest));
        console.log(`    t=${(o.times[i] ?? 0).toFixed(0).padStart(6)}-${(o.ends[i] ?? 0).toFixed(0).padStart(6)} ms ${layer >= 0 ? `layer ${layer}` : 'other  '} ${(r.range ?? 'whole').padEnd(24)} ${r.status} ${MB(r.bytesOut)}`);
      }
    }
  };

  const mirrorNote = (o: Outcome, goal: number): string => {
    const c = o.counted;
    const f = fillOf(o);
    const fills = f?.fills ?? 0;
    const extra = fills > 1 ? `; without the extra fill${fills > 2 ? 's' : ''} ${MB(c.total - (fills - 1) * bigBlob)} = ${((c.total - (fills - 1) * bigBlob) / goal).toFixed(3)} x goal` : '';
    return `${fills} fill${fills === 1 ? '' : 's'} + ${c.bigWholeCount - fills} closed 200s: ${MB(c.bigWhole)}; direct ranges ${MB(c.bigRanges + c.smallRanges)}${f === undefined ? '' : ` (big blob: ${MB(f.after)} asked after the fill)`}${extra}`;
  };

  type Row = { scenario: string; upstream: number; goal: number; baseline: number; wall: number; baseWall: number; note: string };
  const rows: Row[] = [];
  const run = async (kind: 'files' | 'export'): Promise<void> => {
    console.log(`\n== ${kind === 'files' ? `${READERS} processes, each: imagefs cat of ${paths.length} files` : `${READERS} processes, each: imagefs export`}`);
    const direct = await scenario(`${kind} direct`, kind, 'direct');
    show(direct);
    const need = distinct(direct.log, image);
    console.log(`  bytes the readers needed (distinct, from the direct run): ${MB(need.total)} = big layer ranges ${MB(need.bigLayer)} + small layers ${MB(need.smallLayers)} + index blobs and config ${MB(need.indexesEtc)} + manifests ${MB(need.manifests)}`);
    const goal = bigBlob + need.total;
    console.log(`  goal through a mirror: big blob once ${MB(bigBlob)} + needed ${MB(need.total)} = ${MB(goal)}`);
    const viaMirror = await scenario(`${kind} mirror`, kind, 'mirror');
    show(viaMirror);
    const ratio = (n: number): string => `${(n / goal).toFixed(3)}x goal, ${(n / direct.counted.total).toFixed(3)}x direct`;
    rows.push({ scenario: `${kind}: direct (no mirror, baseline)`, upstream: direct.counted.total, goal, baseline: direct.counted.total, wall: direct.wall, baseWall: direct.wall, note: `${(direct.counted.total / need.total).toFixed(2)}x the bytes needed` });
    rows.push({ scenario: `${kind}: through the mirror (imagefs)`, upstream: viaMirror.counted.total, goal, baseline: direct.counted.total, wall: viaMirror.wall, baseWall: direct.wall, note: mirrorNote(viaMirror, goal) });
    console.log(`  through the mirror: ${MB(viaMirror.counted.total)} = ${ratio(viaMirror.counted.total)}; wall ${(viaMirror.wall / direct.wall).toFixed(2)}x direct`);
    if (OFF && kind === 'files') {
      const off = await scenario(`${kind} mirror handling off`, kind, 'off');
      show(off);
      rows.push({ scenario: `${kind}: mirror, handling off (200 read to the range end)`, upstream: off.counted.total, goal, baseline: direct.counted.total, wall: off.wall, baseWall: direct.wall, note: `${off.counted.bigWholeCount} whole GETs of the big blob` });
      console.log(`  mirror, handling off: ${MB(off.counted.total)} = ${ratio(off.counted.total)}; wall ${(off.wall / direct.wall).toFixed(2)}x direct`);
    }
    // A client that reads every 200 whole: each of the mirror's upstream GETs is a whole blob.
    const c = viaMirror.counted;
    const smallWhole = viaMirror.log.filter((r) => r.method === 'GET' && r.range === undefined && image.layers.slice(1).some((l) => r.path.includes(l.descriptor.digest)));
    const naive = c.bigWholeCount * bigBlob + smallWhole.reduce((s, r) => s + image.layers.find((l) => r.path.includes(l.descriptor.digest))!.blob.length, 0) + c.otherBlobs + c.manifests + c.rest;
    rows.push({ scenario: `${kind}: naive, each 200 read whole (computed)`, upstream: naive, goal, baseline: direct.counted.total, wall: NaN, baseWall: direct.wall, note: `${c.bigWholeCount} x the big blob (the mirror's GETs above), no direct ranges` });
    console.log(`  naive (computed: the mirror's ${c.bigWholeCount} whole GETs of the big blob, each read whole): at least ${MB(naive)} = ${ratio(naive)}`);
  };
  for (const kind of ['files', 'export'] as const) if (KINDS.includes(kind)) await run(kind);

  console.log(`\nbig blob ${MB(bigBlob)}; ${READERS} processes; upstream auth ${AUTH}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log('| scenario | upstream bytes | / goal (blob once + needed) | / direct baseline | wall | wall / direct | notes |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.scenario} | ${MB(r.upstream)} | ${(r.upstream / r.goal).toFixed(3)} | ${(r.upstream / r.baseline).toFixed(3)} | ${Number.isNaN(r.wall) ? '-' : `${(r.wall / 1000).toFixed(1)} s`} | ${Number.isNaN(r.wall) ? '-' : (r.wall / r.baseWall).toFixed(2)} | ${r.note} |`);
  }
}

try {
  await main();
} finally {
  await cleanup();
}
