/**
 * The `imagefs` executable. tsup bundles it to `dist/cli/main.js` and adds the shebang, so this
 * file has none (two shebang lines would not parse).
 *
 * @packageDocumentation
 */
import { runCli } from './run.js';

// A closed pipe (`imagefs cat ... | head`) is not a failure: stop quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
process.once('SIGTERM', () => controller.abort());

process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }, { signal: controller.signal });
