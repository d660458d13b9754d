// Shared fixtures of the FUSE tests: the image, async programs against the mount, cleanup.
// Everything that touches a mountpoint served by this process runs in a child process,
// asynchronously: a synchronous access would wait for the thread that has to answer it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { bundleCliInto } from './helpers/oracle-cli.js';
import { encodeRawName } from '../src/tar/raw-name.js';
import { ROOT_INO, type FsTree } from '../src/tree/types.js';
import {
  buildImage, capabilityXattr, Cap, charDevice, blockDevice, dir, file, hardlink, randomBytes, symlink, writeLayout, type BuiltImage,
} from '../src/testing/builder/index.js';

/** What a program printed and how it ended. */
export interface ProgramOutput {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a program asynchronously (TZ=UTC, C locale) and collects its output. */
export function sh(command: string, args: readonly string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ProgramOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, TZ: 'UTC', LC_ALL: 'C', ...options.env } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() });
    });
  });
}

/** A foreground `imagefs mount` (or `run`) in a child process. */
export interface MountServer {
  child: ChildProcess;
  /** Everything it printed on stdout so far. */
  stdout(): string;
  /** Everything it printed on stderr so far. */
  stderr(): string;
  /** Resolves with its exit code. */
  exited: Promise<number | null>;
  /** Sends `signal` (default SIGINT), SIGKILLs it after `ms`, resolves with the exit code. */
  stop(signal?: NodeJS.Signals, ms?: number): Promise<number | null>;
}

/**
 * Starts `command args` (an imagefs CLI mount) with the test HOME in `env`, records it in
 * `servers` (for the afterEach that kills leftovers) and resolves once `until(stdout + stderr)`
 * holds (default: it printed its `mounted` line), or rejects when it exits first or after 20 s.
 */
export async function startMountServer(
  command: string, args: readonly string[], env: Record<string, string>, servers: ChildProcess[],
  until: (output: string) => Promise<boolean> | boolean = (output) => output.includes('imagefs: mounted at'),
): Promise<MountServer> {
  const child = spawn(command, args, { env: { ...process.env, ...env } });
  servers.push(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  let gone = false;
  void exited.then(() => { gone = true; });
  const deadline = Date.now() + 20_000;
  while (!(await until(out + err))) {
    if (gone) throw new Error(`${args.join(' ')} exited ${child.exitCode}: ${out}${err}`);
    if (Date.now() > deadline) throw new Error(`${args.join(' ')} did not come up in 20 s: ${out}${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const stop = async (signal: NodeJS.Signals = 'SIGINT', ms = 15_000): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    try { return await exited; } finally { clearTimeout(timer); }
  };
  return { child, stdout: () => out, stderr: () => err, exited, stop };
}

/** Fails (does not skip) when this host cannot run the FUSE tests. */
export function requireFuse(): void {
  expect(existsSync('/dev/fuse'), '/dev/fuse is missing: the FUSE tests need the fuse module (modprobe fuse)').toBe(true);
  expect(process.getuid?.(), 'the FUSE tests mount, so they run as root').toBe(0);
  expect(existsSync('/bin/busybox'), '/bin/busybox is missing: install busybox-static (scripts/install-test-deps.sh)').toBe(true);
}

/** The mounts at `path` in this mount namespace (0 once unmounted). */
export async function mountCount(path: string): Promise<number> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text.split('\n').filter((l) => l.split(' ')[4] === path).length;
}

/** Last resort after a test: detaches whatever is still mounted at each path. */
export async function forceUnmount(paths: readonly string[]): Promise<void> {
  for (const p of paths) {
    for (let i = 0; i < 4 && (await mountCount(p)) > 0; i++) await sh('umount', ['-l', p]);
  }
}

/** The big file's size: a few MiB, so reads span several 1 MiB requests. */
export const BIG_SIZE = 5 * 1024 * 1024 + 123;
/** A raw (not UTF-8) name: `caf` and the Latin-1 byte 0xe9. */
export const RAW_NAME = 'caf\udce9';
/** Files in the directory that takes several READDIR requests to list. */
export const MANY = 300;

/** The image every FUSE test mounts: two layers with a bit of everything. */
export async function fuseImage(): Promise<BuiltImage> {
  const busybox = readFileSync('/bin/busybox');
  const many = Array.from({ length: MANY }, (_, i) => file(`many/entry-${String(i).padStart(4, '0')}-with-a-longer-name`, `${i}\n`));
  return buildImage({
    config: { Env: ['FOO=bar baz', 'PATH=/bin:/usr/bin'], WorkingDir: '/work/dir' },
    layers: [
      {
        entries: [
          dir('bin'),
          file('bin/busybox', busybox, { mode: 0o755 }),
          symlink('bin/sh', 'busybox'),
          file('bin/ping', 'PING', { mode: 0o4755, xattrs: { 'security.capability': capabilityXattr([Cap.NET_RAW]) } }),
          hardlink('bin/ping6', 'bin/ping'),
          dir('etc'),
          file('etc/hostname', 'old\n'),
          file('etc/gone', 'x'),
          dir('dev'),
          charDevice('dev/null', 1, 3, { mode: 0o666 }),
          charDevice('dev/wide', 300, 70000, { mode: 0o600 }),
          blockDevice('dev/loop0', 7, 0, { mode: 0o660, gid: 6 }),
          dir('work/dir', { uid: 1000, gid: 1000 }),
          ...many,
        ],
      },
      {
        entries: [
          file('etc/hostname', 'box\n', { uid: 7, gid: 8, mode: 0o640, mtime: 1_600_000_000.5 }),
          file('etc/.wh.gone', ''),
          file('etc/note', 'hello', { xattrs: { 'user.comment': 'a note' } }),
          symlink('usrbin', 'bin'),
          symlink('abs', '/etc/hostname'),
          file('data/big.bin', randomBytes(11, BIG_SIZE)),
          file(`data/${RAW_NAME}`, 'raw\n'),
          file('data/empty', ''),
        ],
      },
    ],
  });
}

/** Writes the image as `oci:DIR/layout:fuse` and returns that reference. */
export async function fuseLayout(root: string, image: BuiltImage): Promise<string> {
  await writeLayout(join(root, 'layout'), [{ image, tag: 'fuse' }]);
  return `oci:${join(root, 'layout')}:fuse`;
}

/** Makes `root/NAME` and returns it. */
export async function mountDir(root: string, name: string): Promise<string> {
  const path = join(root, name);
  await mkdir(path, { recursive: true });
  return path;
}

/** Every path of the tree under `prefix` (prefix itself first), as bytes, as `find` prints them. */
export function walkPaths(tree: FsTree, prefix: string): Buffer[] {
  const out: Buffer[] = [Buffer.from(prefix)];
  const visit = (dirIno: number, path: Buffer): void => {
    for (const { name, ino } of tree.children(dirIno)) {
      const p = Buffer.concat([path, Buffer.from('/'), encodeRawName(name)]);
      out.push(p);
      if ((tree.modeOf(ino) & 0o170000) === 0o040000) visit(ino, p);
    }
  };
  visit(ROOT_INO, Buffer.from(prefix));
  return out.sort(Buffer.compare);
}

/**
 * Bundles src/cli/main.ts exactly as tsup.config.ts does for `dist/cli/main.js` (dependencies
 * inline, undici narrowed to its Agent, `require` defined) into `dir/dist/cli/main.js`, next to a
 * copy of package.json (for `--version`), so that the children run the shipped shape.
 */
/** Bundles the CLI as it ships (see test/helpers/oracle-cli.ts) into `dir`; returns the executable. */
export const buildCliBundle = bundleCliInto;
