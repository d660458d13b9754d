// The imagefs executable as `npm run build` ships it (esbuild bundle, ESM, shebang), for the
// oracle tests that run `imagefs export` as a separate process.
import { spawn } from 'node:child_process';
import { chmod, copyFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { CLI_BANNER, CLI_PLUGINS } from '../../tsup.config.js';
import { testHome } from './test-home.js';

/** What a run of the executable printed. */
export interface CliResult { code: number; stdout: string; stderr: string }

const root = join(__dirname, '..', '..');

/**
 * Bundles src/cli/main.ts into `dir` the way `npm run build` ships it (esbuild, ESM, the tsup
 * config's banner and start-up plugins), next to a copy of package.json; returns the executable.
 * `dir` should be inside the repository, so that external dependencies resolve from node_modules.
 */
export async function bundleCliInto(dir: string): Promise<string> {
  const out = join(dir, 'dist', 'cli', 'main.js');
  await build({
    entryPoints: [join(root, 'src/cli/main.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: out,
    banner: { js: CLI_BANNER }, plugins: CLI_PLUGINS, logLevel: 'warning',
  });
  await copyFile(join(root, 'package.json'), join(dir, 'package.json'));
  await chmod(out, 0o755);
  return out;
}

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
