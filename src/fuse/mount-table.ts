/**
 * The host side of mounting: running `mount`/`umount`, reading /proc/self/mountinfo, and
 * clearing stale mounts. A FUSE server that dies without unmounting leaves its mountpoint in
 * the mount table with nobody answering: every access fails with `ENOTCONN` ("Transport endpoint
 * is not connected") until someone unmounts it. {@link clearStaleMount} detects that and detaches
 * it (`umount -l`, else `fusermount3 -uz`).
 */
import { spawn } from 'node:child_process';
import { readFile, stat, statfs } from 'node:fs/promises';
import { resolve } from 'node:path';

/** What a program run by {@link runProgram} left. */
export interface ProgramResult {
  /** Exit status (128 + signal number when killed). */
  code: number;
  /** Its standard error, trimmed. */
  stderr: string;
}

/**
 * Runs a program asynchronously (never `execSync`: a program touching a mount this process
 * serves would deadlock a synchronous wait) and collects its status and stderr.
 */
export function runProgram(command: string, args: readonly string[], extraFds: number[] = []): Promise<ProgramResult> {
  return new Promise((done) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe', ...extraFds] });
    const err: Buffer[] = [];
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => done({ code: 127, stderr: `${command}: ${e.message}` }));
    child.on('close', (code, signal) => done({ code: code ?? 128 + signalNumber(signal), stderr: Buffer.concat(err).toString().trim() }));
  });
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : signal === 'SIGINT' ? 2 : 0;
}

/**
 * One line of /proc/self/mountinfo, the fields imagefs looks at.
 *
 * @example
 * ```ts
 * const info = await mountAt('/mnt/image'); // { mountpoint: '/mnt/image', fstype: 'fuse.imagefs', source: 'imagefs' }
 * ```
 */
export interface MountInfo {
  /** Where it is mounted (unescaped). */
  mountpoint: string;
  /** File system type (`fuse.imagefs`). */
  fstype: string;
  /** The mount source (`imagefs` or the name given to `mount`). */
  source: string;
  /** The file system's device, `MAJOR:MINOR` (a FUSE mount's is `0:N`, also its readahead's name in /sys/class/bdi). */
  device: string;
}

const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/**
 * The mounts of this process's mount namespace (from /proc/self/mountinfo), in mount order.
 *
 * @example
 * ```ts
 * const ours = (await readMountTable()).filter((m) => m.fstype === 'fuse.imagefs');
 * ```
 */
export async function readMountTable(): Promise<MountInfo[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [left, right] = line.split(' - ');
    const fields = left!.split(' ');
    const tail = (right ?? '').split(' ');
    out.push({ mountpoint: unescape(fields[4] ?? ''), fstype: tail[0] ?? '', source: unescape(tail[1] ?? ''), device: fields[2] ?? '' });
  }
  return out;
}

/**
 * The topmost mount at exactly `mountpoint` (an absolute or relative path), if any.
 *
 * @example
 * ```ts
 * if ((await mountAt('/mnt/image')) === undefined) console.log('not mounted');
 * ```
 */
export async function mountAt(mountpoint: string): Promise<MountInfo | undefined> {
  const abs = resolve(mountpoint);
  const table = await readMountTable();
  for (let i = table.length - 1; i >= 0; i--) if (table[i]!.mountpoint === abs) return table[i];
  return undefined;
}

/**
 * True when `mountpoint` is a FUSE mount nobody serves: `statfs` fails with `ENOTCONN`. (Not
 * `stat`: the kernel may answer that from attributes it cached while the server lived; FUSE
 * never caches `statfs`.)
 *
 * @example
 * ```ts
 * if (await isStaleMount('/mnt/image')) await clearStaleMount('/mnt/image');
 * ```
 */
export async function isStaleMount(mountpoint: string): Promise<boolean> {
  try {
    await statfs(mountpoint);
    await stat(mountpoint);
    return false;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOTCONN' || code === 'ECONNABORTED';
  }
}

/**
 * Detaches a stale FUSE mount at `mountpoint` (left by a server that was killed) and resolves to
 * true, or resolves to false when there is none. Tries `umount -l`, then `fusermount3 -uz`.
 *
 * @throws Error when the mount is stale but neither program could detach it.
 * @example
 * ```ts
 * if (await clearStaleMount('/mnt/image')) console.log('cleared a stale mount at /mnt/image');
 * ```
 */
export async function clearStaleMount(mountpoint: string): Promise<boolean> {
  if (!(await isStaleMount(mountpoint))) return false;
  const abs = resolve(mountpoint);
  const first = await runProgram('umount', ['-l', abs]);
  if (first.code === 0) return true;
  const second = await runProgram('fusermount3', ['-uz', abs]);
  if (second.code === 0) return true;
  throw new Error(`cannot clear the stale mount at ${abs}: ${first.stderr || second.stderr || `umount exited ${first.code}`}`);
}
