// Timing helpers shared by the benches: wall and CPU time of one run, the baselines every gzip
// bench compares with (`gzip -dc > /dev/null`, node:zlib's streaming gunzip), and medians.
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import zlib from 'node:zlib';

/** Wall and CPU time of one run, in milliseconds. */
export interface Sample { wall: number; cpu: number }

/** Times `run`: wall clock and this process's CPU (user + system). */
export async function measure(run: () => Promise<unknown>): Promise<Sample> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await run();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

/** A shell command with its output discarded, timed by bash's `time` (wall, and user + system CPU). */
export function timeCommand(command: string): Sample {
  const r = spawnSync('bash', ['-c', `TIMEFORMAT='%R %U %S'; time ${command} > /dev/null`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command} failed: ${r.stderr}`);
  const [real, user, sys] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number) as [number, number, number];
  return { wall: real * 1000, cpu: (user + sys) * 1000 };
}

/** `gzip -dc PATH > /dev/null`, timed by bash's `time`. */
export function gzipDc(path: string): Sample {
  return timeCommand(`gzip -dc '${path}'`);
}

/** node:zlib's streaming gunzip of a file, output discarded. */
export async function gunzipStream(path: string, highWaterMark = 64 * 1024): Promise<void> {
  const gunzip = zlib.createGunzip();
  gunzip.on('data', () => {});
  const done = once(gunzip, 'end');
  createReadStream(path, { highWaterMark }).pipe(gunzip);
  await done;
}

/** The median of some numbers. */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}
