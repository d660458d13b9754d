import { spawn, type StdioOptions } from 'node:child_process';
import { mkdtemp, rmdir } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import type { FuseEvent } from '../../fuse/index.js';
import type { ImageConfig } from '../../image/types.js';
import { writeOut, type CommandContext, type CommandSpec } from '../command-spec.js';
import { UsageError } from '../usage-error.js';
import { eventLine, openAndMount, requireRoot, unmountQuietly } from './mount.js';
import { compactUpper, writableUpper } from './writable.js';

/** The PATH a container gets when its image sets none (as Docker and containerd do). */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The environment and working directory the image config asks for (`Env`, `WorkingDir`). */
export function processSpec(config: ImageConfig): { env: Record<string, string>; cwd: string } {
  const section = (config.config ?? {}) as { Env?: unknown; WorkingDir?: unknown };
  const env: Record<string, string> = {};
  if (Array.isArray(section.Env)) {
    for (const item of section.Env) {
      if (typeof item !== 'string') continue;
      const eq = item.indexOf('=');
      if (eq > 0) env[item.slice(0, eq)] = item.slice(eq + 1);
    }
  }
  env['PATH'] ??= DEFAULT_PATH;
  const wd = typeof section.WorkingDir === 'string' && section.WorkingDir !== '' ? section.WorkingDir : '/';
  return { env, cwd: posix.resolve('/', wd) };
}

/** Runs CMD in the mounted root; resolves to its exit status (128 + N when killed by signal N). */
function runChrooted(ctx: CommandContext, root: string, argv: readonly string[], spec: { env: Record<string, string>; cwd: string }): Promise<number> {
  const inherit = ctx.io.stdout === process.stdout && ctx.io.stderr === process.stderr;
  const stdio: StdioOptions = inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'];
  // `chroot` always starts in the new `/`; util-linux's `unshare --root --wd` (no namespace flags:
  // nothing is unshared) is chroot(2) plus chdir(2) into WorkingDir.
  const child = spawn('unshare', [`--root=${root}`, `--wd=${spec.cwd}`, '--', ...argv], { stdio, env: spec.env });
  if (!inherit) {
    child.stdout!.on('data', (c: Buffer) => { void writeOut(ctx.io.stdout, c).catch(() => {}); });
    child.stderr!.on('data', (c: Buffer) => { void writeOut(ctx.io.stderr, c).catch(() => {}); });
  }
  const forward = (): void => { child.kill('SIGTERM'); };
  ctx.signal?.addEventListener('abort', forward, { once: true });
  return new Promise((done, fail) => {
    child.on('error', fail);
    child.on('close', (code, signal) => {
      ctx.signal?.removeEventListener('abort', forward);
      done(code ?? 128 + (signal === null ? 0 : osConstants.signals[signal]));
    });
  });
}

/** `imagefs run REF -- CMD [ARGS...]`: CMD chrooted in the mounted image, with its Env and WorkingDir. */
export const runCommand: CommandSpec = {
  name: 'run',
  args: ['REF', 'CMD', 'ARGS...?'],
  summary: "run CMD inside the image (FUSE mount + chroot), exiting with CMD's status",
  details: "Mounts the image read-only on a temporary directory, runs CMD [ARGS...] chrooted there with the image config's Env (PATH defaulting to the usual one) and WorkingDir, stdin/stdout/stderr inherited, then unmounts and removes the directory; exits with CMD's status (128 + N when killed by signal N). Put -- before CMD so that CMD's own options are not taken for imagefs's. Needs root. With --writable CMD may write: its changes go to an upper layer, in memory (gone at exit) or in --upper DIR (kept, for a next run or imagefs commit).",
  options: [
    { name: 'writable', description: 'let CMD write: changes go to an upper layer (in memory without --upper)' },
    { name: 'upper', value: 'DIR', description: 'keep CMD\'s changes in DIR (with --writable)' },
    { name: 'no-background', description: 'do not download the layers whole into the cache in the background (on by default with a cache)' },
  ],
  async run(ctx) {
    const upper = writableUpper(ctx, 'run');
    const [ref, ...argv] = ctx.args;
    if (argv.length === 0) throw new UsageError("'run' needs CMD", 'run');
    requireRoot('run');
    const dir = await mkdtemp(join(tmpdir(), 'imagefs-run-'));
    try {
      const print = (e: FuseEvent): void => {
        if (e.type === 'io-error') void writeOut(ctx.io.stderr, eventLine(e, false)).catch(() => {});
      };
      // The image opens while the mount gets ready (see openAndMount).
      const { image, mount: m } = await openAndMount(ctx, ref!, dir, { name: 'imagefs-run', onEvent: print }, upper);
      try {
        ctx.signal?.throwIfAborted();
        return await runChrooted(ctx, dir, argv, processSpec(image.resolved.config));
      } finally {
        await unmountQuietly(m);
        if (typeof upper === 'string') {
          const problem = compactUpper(await image.openImageFs());
          if (problem !== undefined) await writeOut(ctx.io.stderr, problem).catch(() => {});
        }
        await image.close();
      }
    } finally {
      await rmdir(dir).catch(() => {});
    }
  },
};
