import { spawn } from 'node:child_process';
import { ImageError } from '../errors/image-fs-error.js';
import type { Credentials } from './auth-file.js';

/** Options of {@link runCredentialHelper}. */
export interface CredentialHelperOptions {
  /** The environment the helper runs in (its `PATH` finds it). Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Kill the helper after this many milliseconds. Default 10 000. */
  timeoutMs?: number;
  /** Cancels the call. */
  signal?: AbortSignal;
}

/**
 * Runs `docker-credential-NAME get` with `serverUrl` on stdin, as docker does, and returns the
 * credentials it prints (`{"ServerURL","Username","Secret"}`; a `Username` of `<token>` means the
 * secret is an identity token). Returns `undefined` when the helper has none for that server.
 * Fails with `PermissionDenied` when the helper is missing or fails; the message never contains
 * what the helper printed on stdout.
 */
export async function runCredentialHelper(name: string, serverUrl: string, options: CredentialHelperOptions = {}): Promise<Credentials | undefined> {
  const program = `docker-credential-${name}`;
  const { stdout, stderr, code, error } = await new Promise<{ stdout: string; stderr: string; code: number | null; error?: Error }>((resolve) => {
    const child = spawn(program, ['get'], {
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 10_000,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { if (out.length < 1 << 20) out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { if (err.length < 4096) err += d; });
    child.on('error', (e) => resolve({ stdout: out, stderr: err, code: null, error: e }));
    child.on('close', (c) => resolve({ stdout: out, stderr: err, code: c }));
    child.stdin.on('error', () => { /* the helper may exit before reading */ });
    child.stdin.end(serverUrl);
  });
  if (options.signal?.aborted) throw new ImageError('Aborted', 'the operation was aborted', { cause: options.signal.reason });
  if (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ImageError('PermissionDenied', missing
      ? `credential helper ${program} is not installed (named by the auth file for ${serverUrl})`
      : `credential helper ${program} failed to run: ${(error as NodeJS.ErrnoException).code ?? error.message}`, {
      cause: error,
      hint: 'install the helper, or remove it from the auth file and use --creds',
    });
  }
  // Helpers print "credentials not found in native keychain" on stdout or stderr with status 1.
  const said = `${stdout}\n${stderr}`;
  if (code !== 0) {
    if (/credentials not found/i.test(said)) return undefined;
    throw new ImageError('PermissionDenied', `credential helper ${program} exited with status ${code} for ${serverUrl}`, {
      hint: 'run it by hand (echo SERVER | ' + program + ' get) to see why',
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new ImageError('PermissionDenied', `credential helper ${program} printed something that is not JSON`, {
      hint: 'check the helper\'s version',
    });
  }
  const { Username, Secret } = (parsed ?? {}) as { Username?: unknown; Secret?: unknown };
  if (typeof Secret !== 'string' || Secret === '') return undefined;
  if (Username === '<token>') return { identityToken: Secret };
  return { username: typeof Username === 'string' ? Username : '', password: Secret };
}
