import { spawn } from 'node:child_process';
import { ImageError, throwIfAborted } from '../../errors/index.js';

/** Options of {@link runTool}. */
export interface RunToolOptions {
  /** Bytes written to the tool's stdin (stdin is closed after them; empty when omitted). */
  input?: Uint8Array;
  /** Cancels the run (the child is killed). */
  signal?: AbortSignal;
  /** Working directory. */
  cwd?: string;
}

/** What a tool printed. */
export interface ToolOutput {
  /** Everything written to stdout. */
  stdout: Uint8Array;
  /** Everything written to stderr, as UTF-8 text. */
  stderr: string;
}

/**
 * Runs an external tool (pigz, gzip, zstd, skopeo, umoci) and collects its output. Throws
 * `FailedPrecondition` when the tool is not installed and `Unavailable` when it exits non-zero
 * (the message holds its stderr).
 *
 * @example
 * ```ts
 * const { stdout } = await runTool('zstd', ['-q', '-c', '-3'], { input: tar });
 * ```
 */
export async function runTool(command: string, args: readonly string[], options: RunToolOptions = {}): Promise<ToolOutput> {
  throwIfAborted(options.signal);
  return new Promise<ToolOutput>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], signal: options.signal, cwd: options.cwd });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', () => {
      /* the exit handler reports the failure */
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') {
        reject(new ImageError('FailedPrecondition', `'${command}' is not installed`, { cause: e, hint: `install it (apt-get install ${command})` }));
      } else if (e.name === 'AbortError') {
        reject(new ImageError('Aborted', `'${command}' was aborted`, { cause: e }));
      } else {
        reject(new ImageError('Unavailable', `could not run '${command}': ${e.message}`, { cause: e }));
      }
    });
    child.on('close', (code, sig) => {
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0) resolve({ stdout: new Uint8Array(Buffer.concat(out)), stderr });
      else if (!options.signal?.aborted) {
        reject(new ImageError('Unavailable', `'${command} ${args.join(' ')}' failed (${sig ?? `exit ${code}`}): ${stderr.trim().slice(0, 2000)}`, { hint: 'see the tool output above' }));
      }
    });
    child.stdin.end(options.input ?? new Uint8Array(0));
  });
}
