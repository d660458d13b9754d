import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli/run.js';
import { testHome } from './test-home.js';

/** What one in-process CLI run printed and returned. */
export interface CliCapture {
  code: number;
  /** stdout as text. */
  stdout: string;
  /** stdout as bytes (for `cat` of binary files). */
  stdoutBytes: Buffer;
  stderr: string;
}

/** Runs `imagefs ARGV...` in this process (HOME and the default cache in a temporary directory). */
export async function runCliCapture(...argv: string[]): Promise<CliCapture> {
  const out = new PassThrough();
  const err = new PassThrough();
  const o: Buffer[] = [];
  const e: Buffer[] = [];
  out.on('data', (c: Buffer) => o.push(c));
  err.on('data', (c: Buffer) => e.push(c));
  const code = await runCli(argv, { stdout: out, stderr: err, env: testHome() });
  const stdoutBytes = Buffer.concat(o);
  return { code, stdout: stdoutBytes.toString(), stdoutBytes, stderr: Buffer.concat(e).toString() };
}
