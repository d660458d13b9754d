// Background download (issue 11): an image opened with `background: true` and a disk cache
// downloads its lazily read layers whole into the cache, verified, at lower priority than
// foreground reads; then reads use the local copy and a later open fetches no layer byte.
// A child killed with SIGKILL at seeded random points (hundreds per run) leaves a consistent cache,
// and the next open serves correct bytes and completes the download.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleEntry } from '../bench/lib/cli-bundle.js';
import { DiskCache } from '../src/cache/disk-cache.js';
import { BlobCacheIndexCache } from '../src/index-store/local-index-cache.js';
import type { BackgroundDownload } from '../src/layer/background-download.js';
import { openImage } from '../src/open/open-image.js';
import type { ImageFsEvent } from '../src/open/events.js';
import { startFaultProxy, type FaultProxy } from '../src/testing/registry/index.js';
import type { BuiltImage } from '../src/testing/builder/index.js';
import { layerBytes, PLATFORM, REPO, startFetchFixture, type FetchFixture, sentByLayers } from './fetch-fixture.js';

const root = join(__dirname, '..');
/** Children killed with SIGKILL by the crash test (`npm run test:crash` runs more). */
const CRASH_RUNS = Number(process.env.IMAGEFS_CRASH_RUNS ?? 200);
/** Seeds the kill points (and the files read); timing still varies from run to run. */
const CRASH_SEED = Number(process.env.IMAGEFS_CRASH_SEED ?? 20261207);
/** Chains of children run at once, each on its own cache directory and proxy. */
const CRASH_CHAINS = Number(process.env.IMAGEFS_CRASH_CHAINS ?? 4);
let fx: FetchFixture;
let tmp: FetchFixture['tmp'];
let proxy: FaultProxy;
let image: BuiltImage;
let files: Map<string, Uint8Array>;
/** test/fetch-child.ts bundled once: `node BUNDLE` starts in ~0.2 s, `tsx` in ~1.7 s. */
let childBundle: string;
/** The index stored for each layer (what the cache's layer-index entries must hold). */
let indexes: Map<string, Uint8Array>;

beforeAll(async () => {
  fx = await startFetchFixture('background');
  ({ tmp, proxy, image, files, indexes } = fx);
  childBundle = await bundleEntry(join(root, 'test/fetch-child.ts'), join(tmp.path, 'fetch-child.mjs'));
}, 120_000);

afterAll(async () => {
  await fx?.stop();
});

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function layerBytesSent(): number {
  return sentByLayers(proxy, image);
}

/** What a cache directory holds, as {@link assertConsistent} found it. */
interface CacheState {
  /** Committed blobs, as digests. */
  blobs: Set<string>;
  /** Bytes of committed span entries (`blob-range/...`), by layer digest. */
  spanBytes: Map<string, number>;
  /** The keys of the span entries. */
  spans: string[];
  /** Files in tmp/: writes in progress, or left by a killed process. */
  temps: number;
}

/** Committed files checked already, path → inode/size/mtime: committed entries never change in place. */
const checked = new Map<string, string>();

/**
 * Every committed entry holds exactly the bytes of its key, so nothing partial looks complete:
 * each blob hashes to its name, each span entry equals those bytes of its layer blob, each index
 * entry equals the layer's index; no other name (a temp or partial file) is under `blobs/` or
 * `other/`, and the marker is whole. `where` names the run in failure messages.
 */
async function assertConsistent(cacheDir: string, where = cacheDir): Promise<CacheState> {
  const list = (dir: string): Promise<string[]> => readdir(join(cacheDir, dir)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return []; // a child killed while it created the cache
    throw error;
  });
  /** The entry's size and bytes; no bytes when this very file (inode, size, mtime) was checked already. */
  const entry = async (dir: string, name: string): Promise<{ size: number; bytes?: Buffer }> => {
    const path = join(cacheDir, dir, name);
    const info = await lstat(path);
    expect(info.isFile(), `${where}: ${dir}/${name} is a regular file`).toBe(true);
    const id = `${info.ino}/${info.size}/${info.mtimeMs}`;
    if (checked.get(path) === id) return { size: info.size };
    checked.set(path, id);
    return { size: info.size, bytes: await readFile(path) };
  };
  for (const name of await list('.')) {
    expect(['imagefs-cache.json', 'tmp', 'other', 'blobs'].includes(name) || name.startsWith('.imagefs-init-'), `${where}: ${name} at the top`).toBe(true);
    if (name === 'imagefs-cache.json') expect(JSON.parse((await readFile(join(cacheDir, name))).toString()), `${where}: the marker`).toEqual({ format: 'imagefs-cache', version: 1 });
  }
  const blobs = new Set<string>();
  for (const algorithm of ['sha256', 'sha512']) {
    for (const name of await list(join('blobs', algorithm))) {
      const { bytes } = await entry(join('blobs', algorithm), name);
      if (bytes !== undefined) expect(createHash(algorithm).update(bytes).digest('hex'), `${where}: blobs/${algorithm}/${name}`).toBe(name);
      blobs.add(`${algorithm}:${name}`);
    }
  }
  const spanBytes = new Map<string, number>();
  const spans: string[] = [];
  for (const name of await list('other')) {
    const key = decodeURIComponent(name);
    const { size, bytes } = await entry('other', name);
    const range = /^blob-range\/(sha256:[0-9a-f]{64})\/(\d+)-(\d+)$/.exec(key);
    const index = /^layer-index(?:-repository\/.+)?\/(sha256:[0-9a-f]{64})$/.exec(key);
    if (range !== null) {
      const layer = image.layers.find((l) => l.descriptor.digest === range[1]);
      expect(layer, `${where}: other/${name} names no layer`).toBeDefined();
      if (bytes !== undefined) expect(bytes.equals(layer!.blob.subarray(Number(range[2]), Number(range[3]))), `${where}: other/${name} holds other bytes than the blob's`).toBe(true);
      spanBytes.set(range[1]!, (spanBytes.get(range[1]!) ?? 0) + size);
      spans.push(key);
    } else if (index !== null && indexes.has(index[1]!)) {
      if (bytes !== undefined) expect(sha(bytes), `${where}: other/${name} holds other bytes than the index`).toBe(sha(indexes.get(index[1]!)!));
    } else if (key === `startup-profile/${image.descriptor.digest}`) {
      if (bytes === undefined) continue;
      // written whole when an image is closed: JSON naming spans of this image's layers
      const profile = JSON.parse(bytes.toString()) as { version: number; spans: Array<[string, number]> };
      expect(profile.version, `${where}: other/${name}`).toBe(1);
      for (const [digest, span] of profile.spans) expect(indexes.has(digest) && Number.isSafeInteger(span) && span >= 0, `${where}: other/${name} names ${digest}/${span}`).toBe(true);
    } else {
      expect.fail(`${where}: other/${name} is no entry this image's download writes`);
    }
  }
  return { blobs, spanBytes, spans, temps: (await list('tmp')).length };
}

/** Compressed layer bytes the cache lacks: layers with no blob, less their span entries. */
function unstored(state: CacheState): number {
  let missing = 0;
  for (const l of image.layers) {
    if (!state.blobs.has(l.descriptor.digest)) missing += Math.max(0, l.blob.length - (state.spanBytes.get(l.descriptor.digest) ?? 0));
  }
  return missing;
}

async function openCached(cacheDir: string, events: ImageFsEvent[], background: boolean, via: FaultProxy = proxy) {
  const cache = await DiskCache.open(cacheDir);
  let download: BackgroundDownload | undefined;
  const fs = await openImage(`${via.host}/${REPO}:v1`, {
    platform: PLATFORM, cache, indexCache: new BlobCacheIndexCache(cache), background,
    onBackground: (d) => { download = d; }, onImageEvent: (e) => events.push(e),
  });
  return { fs, download, close: async () => { await fs.close(); await cache.close(); } };
}

async function readEverything(fs: Awaited<ReturnType<typeof openImage>>, where?: string): Promise<void> {
  for (const [p, want] of files) expect(sha(await fs.readFile(p)), where === undefined ? p : `${where}: ${p}`).toBe(sha(want));
}

describe('background download into the disk cache', () => {
  it('downloads every lazy layer whole and verified; then reads and later opens fetch nothing', async () => {
    const cacheDir = join(tmp.path, 'bg');
    const events: ImageFsEvent[] = [];
    proxy.reset();
    const opened = await openCached(cacheDir, events, true);
    expect(opened.download).toBeDefined();
    await opened.fs.readFile('/a/f100'); // a foreground read while the download runs
    await opened.download!.done;
    const done = events.find((e) => e.type === 'downloaded');
    expect(done).toMatchObject({ bytes: layerBytes(image) });
    const progress = events.filter((e) => e.type === 'progress');
    expect(progress.length).toBeGreaterThan(3);
    expect(progress.at(-1)).toMatchObject({ bytes: layerBytes(image), total: layerBytes(image) });
    // each layer byte fetched about once, foreground and background together
    expect(layerBytesSent()).toBeLessThanOrEqual(1.02 * layerBytes(image));
    const state = await assertConsistent(cacheDir);
    for (const l of image.layers) expect([...state.blobs]).toContain(l.descriptor.digest);
    expect(state.spans).toEqual([]); // the span entries were deleted once joined
    proxy.reset();
    await readEverything(opened.fs);
    expect(layerBytesSent()).toBe(0);
    await opened.close();

    const again = await openCached(cacheDir, [], true);
    await again.download!.done;
    await readEverything(again.fs);
    expect(layerBytesSent()).toBe(0);
    await again.close();
  }, 120_000);

  it(`children killed with SIGKILL at ${CRASH_RUNS} seeded points leave a consistent cache; the next open serves correct bytes and resumes the download`, async () => {
    const layerEnds = image.layers.map((_, i) => image.layers.slice(0, i + 1).reduce((s, l) => s + l.blob.length, 0));
    const oracle = new Map([...files].map(([p, b]) => [p, sha(b)]));
    const paths = [...files.keys()];
    // ~34 spans of 256 KiB output (20-200 kB compressed): a few tens of ms each at this rate, much
    // longer than a kill takes to land, so the kills spread over fetches, span writes and joins.
    const THROTTLE = { bandwidth: { match: 'blob' as const, bytesPerSecond: 6_000_000 } };

    /** Where a child is killed. */
    type Plan =
      | { kind: 'open'; ms: number } // ms after spawn: start-up, the open, its index entries
      | { kind: 'lines'; after: number } // progress lines after the first that fetched bytes: fetches, span writes
      | { kind: 'delay'; ms: number } // ms after the first progress line: anywhere
      | { kind: 'join'; layer: number } // right after the line that completes a layer's spans: its join
      | { kind: 'read'; paths: string[]; background: boolean; after?: number; ms?: number }; // foreground reads: after files, or ms after the open

    const kinds = (): Record<Plan['kind'], number> => ({ open: 0, lines: 0, delay: 0, join: 0, read: 0 });
    const stats = {
      kills: 0, inFlight: 0, finished: 0, downloads: 0, verified: 0, resumed: 0,
      /** Kills that landed before the child's last line, by plan. */
      midway: 0, midwayBy: kinds(),
      /** Kills that left a file in tmp/: the child was writing a cache entry. */
      inWrites: 0,
      /** Kills right after a layer's last span that left its spans unjoined, or joined but not yet deleted. */
      inJoins: 0,
      /** Spawn to the first line, and (read children) to the open. */
      firstLineMs: [] as number[], openMs: [] as number[],
      /** Opens that read a layer whole (no index to be had): their `layer` events. */
      notLazy: [] as string[],
    };
    const failures: string[] = [];

    function plan(random: () => number): Plan {
      const r = random();
      if (r < 0.06) return { kind: 'open', ms: 150 + Math.floor(random() * 400) };
      if (r < 0.36) return { kind: 'lines', after: Math.floor(random() * 6) };
      if (r < 0.62) return { kind: 'delay', ms: Math.floor(random() * 300) };
      if (r < 0.77) return { kind: 'join', layer: Math.floor(random() * image.layers.length) };
      const n = 2 + Math.floor(random() * 14);
      const picked = Array.from({ length: n }, () => paths[Math.floor(random() * paths.length)]!);
      return random() < 0.5
        ? { kind: 'read', paths: picked, background: random() < 0.5, after: Math.floor(random() * n) }
        : { kind: 'read', paths: picked, background: random() < 0.5, ms: Math.floor(random() * 250) };
    }

    /** Runs one child on `cacheDir` through `via` and kills it at the plan's point. */
    async function runChild(via: FaultProxy, cacheDir: string, p: Plan, where: string) {
      const args = p.kind === 'read' ? ['read-each', ...(p.background ? ['--background'] : []), ...p.paths] : ['background'];
      const started = performance.now();
      // --liftoff-only: V8 compiles undici's HTTP parser (WebAssembly) once, not twice: ~0.1 s less CPU per child.
      const child = spawn(process.execPath, ['--liftoff-only', childBundle, `${via.host}/${REPO}:v1`, cacheDir, ...args], { cwd: root });
      const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        child.on('close', (code, signal) => resolve({ code, signal }));
        child.on('error', (error) => {
          failures.push(`${where}: ${error.message}`);
          resolve({ code: -1, signal: null });
        });
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
      let sentKill = false;
      const kill = (): void => {
        if (sentKill) return;
        sentKill = true;
        child.kill('SIGKILL');
      };
      const timers: NodeJS.Timeout[] = [];
      if (p.kind === 'open') timers.push(setTimeout(kill, p.ms));
      let lines = 0;
      let reads = 0;
      let sawEnd = false;
      let downloaded = false;
      let workFrom: number | undefined;
      let lastBytes = 0;
      let boundary: number | undefined; // the layer whose spans the last progress line completed
      let events: ImageFsEvent[] = [];
      for await (const line of createInterface({ input: child.stdout })) {
        if (lines++ === 0) stats.firstLineMs.push(performance.now() - started);
        let m: { progress?: number; fetched?: number; done?: true; files?: unknown; opened?: true; read?: string; sha256?: string };
        try {
          m = JSON.parse(line) as typeof m;
        } catch {
          failures.push(`${where}: the child printed ${line}`);
          continue;
        }
        if (m.read !== undefined) {
          reads++;
          if (m.sha256 !== oracle.get(m.read)) failures.push(`${where}: the child read other bytes for ${m.read}`);
        }
        if (m.done !== undefined || m.files !== undefined) {
          sawEnd = true;
          downloaded = m.done !== undefined;
          events = (m as { events?: ImageFsEvent[] }).events ?? [];
        }
        if (m.opened !== undefined) stats.openMs.push(performance.now() - started);
        if (sentKill || sawEnd) continue;
        if (m.progress !== undefined) {
          const layer = layerEnds.indexOf(m.progress);
          boundary = layer >= 0 && m.progress > lastBytes ? layer : undefined;
          lastBytes = m.progress;
          if (workFrom === undefined && (m.fetched ?? 0) > 0) workFrom = lines;
        }
        if (p.kind === 'lines' && workFrom !== undefined && lines - workFrom >= p.after) kill();
        if (p.kind === 'delay' && lines === 1) timers.push(setTimeout(kill, p.ms));
        if (p.kind === 'join' && boundary !== undefined && boundary >= p.layer) kill();
        if (p.kind === 'read' && m.opened !== undefined && p.ms !== undefined) timers.push(setTimeout(kill, p.ms));
        if (p.kind === 'read' && p.after !== undefined && (m.opened !== undefined || m.read !== undefined) && reads >= p.after) kill();
      }
      const { code, signal } = await closed;
      for (const t of timers) clearTimeout(t);
      const killed = signal === 'SIGKILL';
      if (!killed && (code !== 0 || !sawEnd)) failures.push(`${where}: the child exited with ${code ?? signal}: ${stderr.slice(-2000)}`);
      else if (!killed && stderr !== '') failures.push(`${where}: the child wrote to stderr: ${stderr.slice(-2000)}`);
      return { killed, midway: killed && !sawEnd, downloaded, boundary, events };
    }

    /**
     * The span entries left of the layers an open read lazily (all of them, unless an index could
     * not be had: a layer opened whole is pulled into the cache without looking at span entries).
     */
    function leftAfterJoins(state: CacheState, events: readonly ImageFsEvent[]): string[] {
      const opened = events.filter((e): e is Extract<ImageFsEvent, { type: 'layer' }> => e.type === 'layer');
      const lazy = new Set(opened.filter((e) => e.mode === 'lazy').map((e) => e.digest));
      if (lazy.size < image.layers.length) stats.notLazy.push(JSON.stringify(opened.filter((e) => e.mode !== 'lazy')));
      return state.spans.filter((key) => lazy.has(key.split('/')[1]!));
    }

    /**
     * An in-process open of the chain's cache reads every file (compared with the oracle),
     * completes the download and fetches at most what the killed children had not stored.
     */
    async function verify(via: FaultProxy, cacheDir: string, where: string): Promise<void> {
      const before = await assertConsistent(cacheDir, where);
      via.reset(); // also lifts the throttle
      const events: ImageFsEvent[] = [];
      const opened = await openCached(cacheDir, events, true, via);
      try {
        await readEverything(opened.fs, where);
        await opened.download!.done;
      } finally {
        await opened.close();
      }
      const fetched = sentByLayers(via, image);
      const had = `blobs ${[...before.blobs].map((d) => d.slice(-8)).join(',')}; span bytes ${[...before.spanBytes].map(([d, n]) => `${d.slice(-8)}:${n}`).join(',')}`;
      const requests = via.log.filter((r) => r.kind === 'blob' && r.bytesOut > 0).map((r) => `${r.path.slice(-8)} ${r.range} ${r.bytesOut}`);
      expect(fetched, `${where}: layer bytes fetched by the next open (had ${had}; fetched ${requests.join('; ')})`).toBeLessThanOrEqual(unstored(before) + 64 * 1024);
      const after = await assertConsistent(cacheDir, where);
      for (const l of image.layers) expect(after.blobs.has(l.descriptor.digest), `${where}: ${l.descriptor.digest} downloaded`).toBe(true);
      const left = leftAfterJoins(after, events);
      expect(left.join(' '), `${where}: span entries left after the join (before the open: blobs ${[...before.blobs].join(' ')}, spans ${before.spans.join(' ')})`).toBe('');
      stats.verified++;
      if (fetched > 0) stats.resumed++;
      via.setFaults(THROTTLE);
    }

    let failed = false;
    /**
     * One chain: children one after the other on a cache directory, each killed at a seeded point
     * and the cache checked after it; after some kills the next open (in process) is verified; when
     * a child completes the download, the layers are checked; then a fresh directory, so that kills
     * keep landing in the middle of the work. The chain ends with a verified open.
     */
    async function chain(c: number): Promise<void> {
      let seed = (CRASH_SEED + 7919 * c) >>> 0;
      const random = (): number => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return seed / 2 ** 32;
      };
      const via = await startFaultProxy({ target: fx.reg.url, faults: THROTTLE });
      let dirs = 0;
      let cacheDir = '';
      let kills = 0; // in this directory
      let killsBeforeVerify = 0;
      let temps = 0;
      let verified = false; // the directory's last state was verified by an open
      let done = true; // the directory is finished: start a fresh one
      try {
        for (let n = 0; !failed && stats.kills + stats.inFlight < CRASH_RUNS; n++) {
          if (done) {
            if (cacheDir !== '') await rm(cacheDir, { recursive: true, force: true });
            cacheDir = join(tmp.path, `crash-${c}-${dirs++}`);
            kills = 0;
            killsBeforeVerify = 8 + Math.floor(random() * 16); // most directories are completed by a child first
            temps = 0;
            verified = false;
            done = false;
          }
          const p = plan(random);
          const where = `IMAGEFS_CRASH_SEED=${CRASH_SEED} chain ${c} dir ${dirs - 1} child ${n} ${JSON.stringify({ ...p, paths: undefined })}`;
          stats.inFlight++;
          let r: Awaited<ReturnType<typeof runChild>>;
          try {
            r = await runChild(via, cacheDir, p, where);
          } finally {
            stats.inFlight--;
          }
          if (r.killed) {
            stats.kills++;
            kills++;
          } else {
            stats.finished++;
          }
          const state = await assertConsistent(cacheDir, where);
          if (r.midway) {
            stats.midway++;
            stats.midwayBy[p.kind]++;
            if (state.temps > temps) stats.inWrites++;
            if (r.boundary !== undefined) {
              const l = image.layers[r.boundary]!;
              const spans = state.spanBytes.get(l.descriptor.digest) ?? 0;
              if (state.blobs.has(l.descriptor.digest) ? spans > 0 : spans >= l.blob.length) stats.inJoins++;
            }
          }
          temps = state.temps;
          if (r.downloaded) {
            // A child completed the download the killed ones began: every layer there, verified, joined.
            stats.downloads++;
            for (const l of image.layers) expect(state.blobs.has(l.descriptor.digest), `${where}: ${l.descriptor.digest} downloaded`).toBe(true);
            expect(leftAfterJoins(state, r.events).join(' '), `${where}: span entries left after the join`).toBe('');
            done = true;
          } else if (kills >= killsBeforeVerify) {
            await verify(via, cacheDir, where);
            verified = done = true;
          }
        }
        if (!failed && !verified) await verify(via, cacheDir, `IMAGEFS_CRASH_SEED=${CRASH_SEED} chain ${c} dir ${dirs - 1} at the end`);
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        await via.stop();
      }
    }

    const started = performance.now();
    const results = await Promise.allSettled(Array.from({ length: CRASH_CHAINS }, (_, c) => chain(c)));
    for (const r of results) if (r.status === 'rejected') throw r.reason;
    expect(failures).toEqual([]);
    const median = (xs: number[]): string => ([...xs].sort((a, b) => a - b)[xs.length >> 1] ?? 0).toFixed(0);
    console.log(`SIGKILL test: ${stats.kills} kills in ${((performance.now() - started) / 1000).toFixed(1)} s; ${stats.midway} before the child's last line ${JSON.stringify(stats.midwayBy)}, ${stats.inWrites} during cache writes, ${stats.inJoins} in joins; ${stats.finished} children finished, ${stats.downloads} completed a download; ${stats.verified} next opens verified (${stats.resumed} resumed the download); child spawn to first line median ${median(stats.firstLineMs)} ms, to open ${median(stats.openMs)} ms; ${stats.notLazy.length} opens read a layer whole ${stats.notLazy.slice(0, 2).join(' ')}`);
    expect(stats.kills).toBe(CRASH_RUNS);
    // The kills landed in the middle of the work, not after it ...
    expect(stats.midway).toBeGreaterThanOrEqual(Math.floor(0.8 * CRASH_RUNS));
    expect(stats.verified).toBeGreaterThanOrEqual(CRASH_CHAINS);
    expect(stats.resumed).toBeGreaterThan(0);
    if (CRASH_RUNS >= 100) {
      // ... in every kind of work: downloads, foreground reads, cache writes, joins of span entries into blobs.
      for (const kind of ['lines', 'delay', 'join', 'read'] as const) expect(stats.midwayBy[kind], kind).toBeGreaterThan(0);
      expect(stats.inWrites).toBeGreaterThan(0);
      expect(stats.inJoins).toBeGreaterThan(0);
    }
  }, Math.max(300_000, CRASH_RUNS * 2_000));
});
