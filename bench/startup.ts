// Time until a command from an image has run: pull + unpack + chroot against imagefs mount +
// chroot, both through a 20 MB/s link to the real registry. Not part of `npm test`.
//
//   npx tsx bench/startup.ts
//   (IMAGES=large,realistic SPANS=262144,1048576,4194304 RATE_MBPS=20 BIG_MIB=128 WALK_SPAN=1048576 ROUNDS=1 to change it)
//   BASELINE_CLI=/path/to/dist/cli/main.js runs (b), the start-up and the walk with that CLI too,
//   alternating with this one on the same images, and prints baseline/this ratios; for instance the
//   last commit's CLI: git archive HEAD | tar -x -C /tmp/base && ln -s $PWD/node_modules /tmp/base/ &&
//   (cd /tmp/base && npx tsup) then BASELINE_CLI=/tmp/base/dist/cli/main.js. THIS_CLI=PATH uses a
//   CLI built elsewhere instead of bundling src/ (to compare two builds that differ by one change;
//   it must print its requests on SIGUSR2, as `imagefs mount` does since the zero-message opens).
//   A_ROUNDS (default ROUNDS) rounds of (a).
//
// Images (built here, pushed to a local CNCF distribution registry, one repository per span so
// that each has exactly one stored index, `imagefs index --push --span S`):
//   large      the host's static busybox (GNU gzip) + BIG_MIB MiB of incompressible files (node:zlib
//              gzip); command `/bin/busybox true`
//   realistic  `debootstrap --variant=minbase --include=python3-minimal bookworm` with the apt
//              caches removed (cached as a tar under /var/cache/imagefs-test, like the Debian
//              oracle) + the host's /usr/share/locale as a second layer (both GNU gzip -6);
//              command `/usr/bin/python3 -c 'print(1)'`
// Every registry byte goes client -> shared 20 MB/s cap -> counting proxy -> registry.
//   (a) skopeo copy docker://... oci:DIR:t && umoci unpack --image DIR:t B && chroot B/rootfs CMD
//   (b) imagefs mount REF MNT --cache <fresh dir> (index in the registry), then chroot MNT CMD
// Printed: (a), (b), (a)/(b) (goal >= 20x), the bytes (b) fetched (goal <= 3% of the image, the
// index included), per span size. Then on the WALK_SPAN mount and on (a)'s rootfs: `find` + stat
// of every path and a read of every file, twice (cold, warm), and warm unpacked/mount (goal >= 0.8x).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildImage, dir, file, runTool, seededRandom, symlink, writeLayout, type LayerSpec, type TarRecord,
} from '../src/testing/builder/index.js';
import { pushLayout, startFaultProxy, startRegistry } from '../src/testing/registry/index.js';
import { median } from './lib/measure.js';
import { startSharedRateProxy } from './lib/shared-rate-proxy.js';
import { bundleCliInto } from './lib/cli-bundle.js';

const IMAGES = (process.env.IMAGES ?? 'large,realistic').split(',');
const SPANS = (process.env.SPANS ?? '262144,1048576,4194304').split(',').map(Number);
const RATE = Number(process.env.RATE_MBPS ?? 20) * 1e6;
const BIG_MIB = Number(process.env.BIG_MIB ?? 128);
const WALK_SPAN = Number(process.env.WALK_SPAN ?? 1048576);
const BASELINE_CLI = process.env.BASELINE_CLI;
const THIS_CLI = process.env.THIS_CLI;
const ROUNDS = Number(process.env.ROUNDS ?? 1);
const A_ROUNDS = Number(process.env.A_ROUNDS ?? ROUNDS);
const MIRROR = process.env.IMAGEFS_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
const CACHE = process.env.IMAGEFS_TEST_CACHE ?? '/var/cache/imagefs-test';
const root = join(import.meta.dirname, '..');

interface BenchImage { name: string; layers: LayerSpec[]; cmd: string[]; expect: string }

const fmtMB = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
const fmtS = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** Spawns a program, resolving with its output; rejects on a non-zero exit. */
function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { env });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? done(out) : fail(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`))));
  });
}


/** Busybox and its applet links (GNU gzip), as the FUSE tests build it. */
function busyboxLayer(): LayerSpec {
  const entries: TarRecord[] = [dir('bin'), file('bin/busybox', readFileSync('/bin/busybox'), { mode: 0o755 })];
  for (const a of ['sh', 'ls', 'cat', 'true']) entries.push(symlink(`bin/${a}`, 'busybox'));
  return { entries, compression: 'gnu-gzip' };
}

/** BIG_MIB MiB of incompressible files of 64 KiB-2 MiB in 16 directories. */
function bigLayer(): LayerSpec {
  const next = seededRandom(7);
  const entries: TarRecord[] = [];
  for (let i = 0; i < 16; i++) entries.push(dir(`opt/big/d${i}`));
  for (let at = 0, i = 0; at < BIG_MIB * 1024 * 1024; i++) {
    const size = Math.min(BIG_MIB * 1024 * 1024 - at, 65536 + (next() % (2 * 1024 * 1024 - 65536)));
    entries.push(file(`opt/big/d${i % 16}/f${i}.bin`, { seed: 1000 + i, size }));
    at += size;
  }
  return { entries, compression: { kind: 'gzip', level: 1 } };
}

/** The debootstrap minbase + python3-minimal rootfs tar (apt caches removed), cached under CACHE. */
async function debianPythonTar(): Promise<string> {
  const path = join(CACHE, 'debian-bookworm-minbase-python3.tar');
  if (existsSync(path)) return path;
  await mkdir(CACHE, { recursive: true });
  const work = await mkdtemp(join(CACHE, 'build-py-'));
  try {
    const rootfs = join(work, 'rootfs');
    console.log(`building ${path} with debootstrap from ${MIRROR} (a few minutes, once)`);
    await runTool('sh', ['-c', 'exec debootstrap "$@" 1>&2', 'sh', '--variant=minbase', '--include=python3-minimal', 'bookworm', rootfs, MIRROR]);
    // what image builds do (debuerreotype, `rm -rf /var/lib/apt/lists/*`): no downloaded packages or lists
    await runTool('sh', ['-c', 'rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*', 'sh', rootfs]);
    const mounts = (await readFile('/proc/mounts', 'utf8')).split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(`${work}/`));
    for (const m of mounts.sort().reverse()) await runTool('umount', ['-l', m]).catch(() => {});
    await runTool('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '--sort=name', '-C', rootfs, '-cf', `${path}.tmp`, '.']);
    await rename(`${path}.tmp`, path);
    return path;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function images(): Promise<BenchImage[]> {
  const out: BenchImage[] = [];
  if (IMAGES.includes('large')) out.push({ name: 'large', layers: [busyboxLayer(), bigLayer()], cmd: ['/bin/busybox', 'true'], expect: '' });
  if (IMAGES.includes('realistic')) {
    const base = new Uint8Array(await readFile(await debianPythonTar()));
    const locale = (await runTool('tar', ['--xattrs', '--numeric-owner', '--sort=name', '-C', '/', '-cf', '-', 'usr/share/locale'])).stdout;
    out.push({
      name: 'realistic',
      layers: [{ tar: base, compression: 'gnu-gzip' }, { tar: locale, compression: 'gnu-gzip' }],
      cmd: ['/usr/bin/python3', '-c', 'print(1)'],
      expect: '1\n',
    });
  }
  return out;
}

/** `find DIR` + stat of every path, and a read of every file (cat), each timed. */
async function walk(path: string): Promise<{ stat: number; read: number; paths: number }> {
  const t0 = performance.now();
  const listed = await run('sh', ['-c', 'find "$1" -print0 | xargs -0 stat -c %s | wc -l', 'sh', path]);
  const t1 = performance.now();
  await run('sh', ['-c', 'find "$1" -type f -print0 | xargs -0 cat > /dev/null', 'sh', path]);
  return { stat: t1 - t0, read: performance.now() - t1, paths: Number(listed.trim()) };
}

const tmp = await mkdtemp(join(tmpdir(), 'imagefs-startup-'));
const cliDir = join(root, `.bench-build-startup-${process.pid}`);
const servers: ChildProcess[] = [];
const mounts: string[] = [];
const reg = await startRegistry();
const counting = await startFaultProxy({ target: reg.url });
const capped = await startSharedRateProxy(counting.url, RATE);

/** CPU time (user + system) a live process has used so far, from /proc/PID/stat, in ms. */
async function cpuMs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /, '').split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
}

/** `imagefs mount` in a child process; resolves once it printed its `mounted` line, with the time that took. */
async function mountImage(cli: string, ref: string, mnt: string, cache: string): Promise<{ child: ChildProcess; mountedMs: number; output: () => string }> {
  const t0 = performance.now();
  // --no-background: the bench counts what the command's own reads fetch (the figures in
  // docs/fuse.md were measured before the background download was on by default).
  const baselineCli = process.env.BASELINE_CLI !== undefined && cli.includes(process.env.BASELINE_CLI);
  const child = spawn(cli, ['mount', ref, mnt, '--cache', cache, ...(baselineCli ? [] : ['--no-background'])], { env: { ...process.env, HOME: tmp, XDG_CACHE_HOME: join(tmp, 'xdg') } });
  servers.push(child);
  mounts.push(mnt);
  let out = '';
  const mountedMs = await new Promise<number>((ready, fail) => {
    const onData = (c: Buffer): void => {
      out += c.toString();
      if (out.includes('imagefs: mounted at')) ready(performance.now() - t0);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', (code) => fail(new Error(`imagefs mount exited ${code}: ${out}`)));
  });
  return { child, mountedMs, output: () => out };
}

/**
 * The requests a running `imagefs mount` has received, by opcode (it prints them on SIGUSR2), or
 * undefined for a CLI that does not print them (an older baseline): waits for the line.
 */
async function requestsOf(w: { child: ChildProcess; output: () => string }): Promise<Record<string, number> | undefined> {
  const seen = w.output().split('imagefs: requests ').length;
  w.child.kill('SIGUSR2');
  for (let i = 0; i < 200; i++) {
    const parts = w.output().split('imagefs: requests ');
    if (parts.length > seen) return JSON.parse(parts[parts.length - 1]!.split('\n')[0]!) as Record<string, number>;
    await new Promise((r) => setTimeout(r, 5));
  }
  return undefined;
}

async function unmount(child: ChildProcess): Promise<void> {
  const closed = new Promise((r) => child.once('close', r));
  child.kill('SIGTERM');
  await closed;
}

/** Wall time of `CLI --version`, the floor of every command: Node's start and loading the CLI. */
async function versionMs(cli: string): Promise<number> {
  const t0 = performance.now();
  await run(cli, ['--version']);
  return performance.now() - t0;
}

const ratio = (base: number, now: number): string => `${(base / now).toFixed(2)}x`;

try {
  const cli = THIS_CLI ?? await bundleCliInto(cliDir);
  const clis: Array<[string, string]> = [['this', cli], ...(BASELINE_CLI === undefined ? [] : [['baseline', BASELINE_CLI] as [string, string]])];
  console.log(`node ${process.version}; link ${RATE / 1e6} MB/s shared by all connections; spans ${SPANS.join(', ')}; ${ROUNDS} round(s); load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  if (BASELINE_CLI !== undefined) console.log(`this CLI: ${cli}${THIS_CLI === undefined ? ' (from src/)' : ''}; baseline CLI: ${BASELINE_CLI}`);
  {
    const times = new Map<string, number[]>(clis.map(([name]) => [name, []]));
    for (let i = 0; i < 10; i++) for (const [name, path] of clis) times.get(name)!.push(await versionMs(path));
    console.log(`start-up, median of 10 \`CLI --version\`: ${clis.map(([name]) => `${name} ${fmtS(median(times.get(name)!))}`).join(', ')}` +
      (BASELINE_CLI === undefined ? '' : `; baseline/this ${ratio(median(times.get('baseline')!), median(times.get('this')!))}`));
  }
  for (const img of await images()) {
    const built = await buildImage({ layers: img.layers, config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin'] } });
    const imageBytes = built.layers.reduce((n, l) => n + l.descriptor.size, 0);
    const layout = join(tmp, `${img.name}-layout`);
    await writeLayout(layout, [{ image: built, tag: 'v1' }]);
    console.log(`\n== ${img.name}: ${built.layers.length} layers, ${fmtMB(imageBytes)} compressed (${built.layers.map((l) => fmtMB(l.descriptor.size)).join(' + ')}), ${fmtMB(built.layers.reduce((n, l) => n + l.tar.length, 0))} of tar; command ${img.cmd.join(' ')}`);
    const indexBytes = new Map<number, number>();
    for (const span of SPANS) {
      const repo = `bench/${img.name}-${span}`;
      await pushLayout(reg, { layoutDir: layout, tag: 'v1', repo, destTag: 'v1' });
      const doc = JSON.parse(await run(cli, ['--no-cache', '--json', 'index', `${reg.host}/${repo}:v1`, '--push', '--span', String(span)])) as { layers: Array<{ indexSize?: number }> };
      indexBytes.set(span, doc.layers.reduce((n, l) => n + (l.indexSize ?? 0), 0));
    }

    // (a) pull + unpack + chroot
    const aTimes: number[] = [];
    let aBytes = 0;
    let rootfs = '';
    for (let round = 0; round < A_ROUNDS; round++) {
      const work = await mkdtemp(join(tmp, `${img.name}-pull-`));
      counting.reset();
      const t0 = performance.now();
      await run('skopeo', ['copy', '--quiet', '--insecure-policy', '--src-tls-verify=false', `docker://${capped.host}/bench/${img.name}-${SPANS[0]}:v1`, `oci:${work}/oci:t`]);
      await run('umoci', ['unpack', '--image', `${work}/oci:t`, `${work}/bundle`]);
      const said = await run('chroot', [`${work}/bundle/rootfs`, ...img.cmd]);
      aTimes.push(performance.now() - t0);
      aBytes = counting.counters.bytesOut;
      if (said !== img.expect) throw new Error(`(a) printed ${JSON.stringify(said)}`);
      if (rootfs !== '') await rm(rootfs.replace(/\/bundle\/rootfs$/, ''), { recursive: true, force: true });
      rootfs = `${work}/bundle/rootfs`;
    }
    const a = median(aTimes);
    console.log(`(a) skopeo copy + umoci unpack + chroot: ${fmtS(a)}${A_ROUNDS > 1 ? ` (median of ${aTimes.map(fmtS).join(', ')})` : ''}; fetched ${fmtMB(aBytes)}`);

    // (b) imagefs mount (cold cache) + chroot, per span size, each CLI in turn
    const walkMounts: Array<{ name: string; child: ChildProcess; mnt: string; output: () => string }> = [];
    for (const span of SPANS) {
      const b = new Map<string, { times: number[]; mounted: number[]; cpu: number[]; bytes: number; requests: number; whole: number }>(
        clis.map(([name]) => [name, { times: [], mounted: [], cpu: [], bytes: 0, requests: 0, whole: 0 }]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const [name, path] of clis) {
          const r = b.get(name)!;
          const mnt = await mkdtemp(join(tmp, `${img.name}-mnt-`));
          counting.reset();
          const t0 = performance.now();
          const { child, mountedMs, output } = await mountImage(path, `${capped.host}/bench/${img.name}-${span}:v1`, mnt, await mkdtemp(join(tmp, 'cache-')));
          const said = await run('chroot', [mnt, ...img.cmd]);
          r.times.push(performance.now() - t0);
          r.mounted.push(mountedMs);
          r.cpu.push(await cpuMs(child.pid!));
          if (said !== img.expect) throw new Error(`(b) printed ${JSON.stringify(said)}`);
          r.bytes = counting.counters.bytesOut;
          r.requests = counting.counters.requests;
          r.whole = counting.log.filter((q) => q.method === 'GET' && q.range === undefined && built.layers.some((l) => q.path.endsWith(l.descriptor.digest))).length;
          if (span === WALK_SPAN && round === ROUNDS - 1) walkMounts.push({ name, child, mnt, output });
          else await unmount(child);
        }
      }
      for (const [name] of clis) {
        const r = b.get(name)!;
        const t = median(r.times);
        console.log(`(b) ${name.padEnd(8)} span ${String(span).padStart(7)}: imagefs mount + chroot ${fmtS(t)}${ROUNDS > 1 ? ` (median of ${r.times.map(fmtS).join(', ')})` : ''}, ` +
          `'mounted' after ${fmtS(median(r.mounted))}, server CPU ${fmtS(median(r.cpu))}; ratio (a)/(b) ${(a / t).toFixed(1)}x (goal >= 20x); fetched ${fmtMB(r.bytes)} in ${r.requests} requests = ${((r.bytes / imageBytes) * 100).toFixed(2)}% of the image (goal <= 3%); ` +
          `stored index ${fmtMB(indexBytes.get(span)!)} = ${((indexBytes.get(span)! / imageBytes) * 100).toFixed(2)}%${r.whole > 0 ? `; WHOLE layer GETs: ${r.whole}` : ''}`);
      }
      if (BASELINE_CLI !== undefined) {
        const [base, now] = [b.get('baseline')!, b.get('this')!];
        console.log(`(b) span ${span}: baseline/this ${ratio(median(base.times), median(now.times))} (mount + chroot), ${ratio(median(base.mounted), median(now.mounted))} (until 'mounted'), ` +
          `${ratio(median(base.cpu), median(now.cpu))} (server CPU)`);
      }
    }

    if (walkMounts.length > 0) {
      // Each pass walks every mount and the unpacked tree back to back (cold, then warm twice).
      // The server's CPU time during a pass tells whether the kernel still asked it anything.
      // So do the requests the kernel sent during the pass (SIGUSR2 makes the server print them).
      const rows = new Map<string, Array<Awaited<ReturnType<typeof walk>> & { serverCpu?: number; requests?: string }>>();
      for (const pass of ['cold', 'warm', 'warm']) {
        for (const w of walkMounts) {
          const c0 = await cpuMs(w.child.pid!);
          // Only this version's server handles SIGUSR2 (it would end an older one).
          const q0 = w.name === 'this' ? await requestsOf(w) : undefined;
          const r = await walk(w.mnt);
          const q1 = w.name === 'this' ? await requestsOf(w) : undefined;
          const requests = q0 === undefined || q1 === undefined ? undefined
            : Object.entries(q1).map(([k, v]) => [k, v - (q0[k] ?? 0)] as const).filter(([, v]) => v !== 0).map(([k, v]) => `${k} ${v}`).join(', ');
          rows.set(`mount ${w.name} ${pass}`, [...(rows.get(`mount ${w.name} ${pass}`) ?? []), {
            ...r, serverCpu: (await cpuMs(w.child.pid!)) - c0, ...(requests === undefined ? {} : { requests: requests || 'none' }),
          }]);
        }
        rows.set(`unpacked ${pass}`, [...(rows.get(`unpacked ${pass}`) ?? []), await walk(rootfs)]);
      }
      for (const [label, rs] of rows) {
        for (const r of rs) {
          console.log(`walk ${label.padEnd(20)} find+stat ${fmtS(r.stat)} (${r.paths} paths), read every file ${fmtS(r.read)}${r.serverCpu === undefined ? '' : `; server CPU meanwhile ${fmtS(r.serverCpu)}`}` +
            `${r.requests === undefined ? '' : `; requests: ${r.requests}`}`);
        }
      }
      const best = (label: string, key: 'stat' | 'read'): number => Math.min(...rows.get(label)!.map((r) => r[key]));
      for (const w of walkMounts) {
        console.log(`warm walk (best of 2), unpacked time / mount time, ${w.name} CLI (span ${WALK_SPAN}): find+stat ${ratio(best('unpacked warm', 'stat'), best(`mount ${w.name} warm`, 'stat'))}, ` +
          `read ${ratio(best('unpacked warm', 'read'), best(`mount ${w.name} warm`, 'read'))} (goal >= 0.8x)`);
      }
      for (const w of walkMounts) await unmount(w.child);
    }
    await rm(rootfs.replace(/\/bundle\/rootfs$/, ''), { recursive: true, force: true });
  }
} finally {
  for (const s of servers) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
  for (const m of mounts) {
    if ((await readFile('/proc/self/mountinfo', 'utf8')).split('\n').some((l) => l.split(' ')[4] === m)) await runTool('umount', ['-l', m]).catch(() => {});
  }
  await capped.stop();
  await counting.stop();
  await reg.stop();
  await rm(tmp, { recursive: true, force: true });
  await rm(cliDir, { recursive: true, force: true });
}
