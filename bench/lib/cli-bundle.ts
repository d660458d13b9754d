// The imagefs CLI bundled as one file the way `npm run build` ships it (esbuild, ESM, the banner and
// start-up plugins of tsup.config.ts), for benches that time whole commands and for the tests that
// run the executable; and any other entry point (a test's child process) bundled the same way.
import { chmod, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { CLI_BANNER, CLI_PLUGINS } from '../../tsup.config.js';

const root = join(import.meta.dirname, '..', '..');

/**
 * Bundles the TypeScript entry point `entry` (with everything it imports) into the one ESM file
 * `outfile`, in the CLI's shape; `node outfile` runs it without tsx's start-up cost.
 */
export async function bundleEntry(entry: string, outfile: string): Promise<string> {
  await build({
    entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile,
    banner: { js: CLI_BANNER }, plugins: CLI_PLUGINS, logLevel: 'warning',
  });
  return outfile;
}

/**
 * Bundles src/cli/main.ts into `dir` next to a copy of package.json; returns the executable.
 * `dir` should be inside the repository, so that external dependencies resolve from node_modules.
 */
export async function bundleCliInto(dir: string): Promise<string> {
  const out = await bundleEntry(join(root, 'src/cli/main.ts'), join(dir, 'dist', 'cli', 'main.js'));
  await copyFile(join(root, 'package.json'), join(dir, 'package.json'));
  await chmod(out, 0o755);
  return out;
}

/** Bundles the CLI under node_modules/.cache; returns the command prefix `node …/main.js`. */
export async function bundleCli(): Promise<string> {
  return `node ${await bundleCliInto(join(root, 'node_modules', '.cache', 'imagefs-bench-cli'))}`;
}
