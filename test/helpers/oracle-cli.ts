// The imagefs executable as `npm run build` ships it (esbuild bundle, ESM, shebang), for the
// oracle tests that run `imagefs export` as a separate process.
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleCliInto } from '../../bench/lib/cli-bundle.js';
import { testHome } from './test-home.js';

/** What a run of the executable printed. */
export interface CliResult { code: number; stdout: string; stderr: string }

const root = join(__dirname, '..', '..');

export { bundleCliInto };

/** Bundles the CLI into a directory of the repository; returns the executable and a cleanup. */
export async function buildCliBundle(): Promise<{ bin: string; cleanup: () => Promise<void> }> {
  const dir = join(root, `.test-build-oracle-${process.pid}`);
  return { bin: await bundleCliInto(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Runs the executable with `argv` (HOME pointed away so no user config is read). */
export function runCli(bin: string, argv: readonly string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, argv, { env: { ...process.env, ...testHome() } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}
