// The imagefs CLI bundled as one file the way a user runs it, for benches that time whole commands
// (process start-up included).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** Bundles src/cli/main.ts under node_modules/.cache (so its dependencies resolve); returns the command prefix `node …/main.js`. */
export function bundleCli(): string {
  const cliDir = join(process.cwd(), 'node_modules', '.cache', 'imagefs-bench-cli');
  const bundle = spawnSync('npx', ['tsup', 'src/cli/main.ts', '--no-config', '--format', 'esm', '-d', cliDir, '--target', 'node20', '--silent'], { encoding: 'utf8' });
  if (bundle.status !== 0) throw new Error(`bundling the CLI failed: ${bundle.stderr}`);
  return `node ${join(cliDir, 'main.js')}`;
}
