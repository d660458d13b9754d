import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'undici';
import { ImageError } from '../../errors/index.js';

/** A running `docker-registry serve` process. */
export interface RegistryProcess {
  /** The process id. */
  readonly pid: number;
  /** The last 64 KiB the process wrote to stdout/stderr (its log). */
  log(): string;
  /** Stops the process (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
}

const LOG_LIMIT = 64 * 1024;

/**
 * Spawns `binary serve configFile` and waits until `GET baseUrl/v2/` answers 200 or 401. Rejects,
 * with the process's log in the message, when it exits first or does not answer within
 * `timeoutMs`; the process is killed in both cases. A missing binary is `FailedPrecondition`.
 *
 * @example
 * ```ts
 * const p = await spawnRegistryProcess('docker-registry', '/tmp/c/config.yml', 'http://127.0.0.1:5000', 15_000);
 * ```
 */
export async function spawnRegistryProcess(
  binary: string,
  configFile: string,
  baseUrl: string,
  timeoutMs: number,
): Promise<RegistryProcess> {
  const child = spawn(binary, ['serve', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const append = (chunk: Buffer): void => {
    log = (log + chunk.toString('utf8')).slice(-LOG_LIMIT);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<{ code: number | string } | { error: Error }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code: code ?? signal ?? 'unknown' }));
    child.once('error', (error) => resolve({ error }));
  });
  let outcome: { code: number | string } | { error: Error } | undefined;
  void exited.then((o) => {
    outcome = o;
  });
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const proc: RegistryProcess = {
    get pid() {
      return child.pid ?? -1;
    },
    log: () => log,
    stop: once(async () => {
      process.removeListener('exit', killOnExit);
      await stopChild(child, exited);
    }),
  };

  const deadline = Date.now() + timeoutMs;
  let timedOut = false;
  while (outcome === undefined) {
    if (Date.now() > deadline) {
      timedOut = true;
      break;
    }
    const status = await probe(`${baseUrl}/v2/`);
    if (status === 200 || status === 401) return proc;
    await new Promise((r) => setTimeout(r, 50));
  }
  await proc.stop();
  const ended = outcome as { code: number | string } | { error: Error } | undefined;
  if (ended !== undefined && 'error' in ended) {
    const missing = (ended.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ImageError('FailedPrecondition', missing ? `the registry binary '${binary}' is not installed` : `cannot start '${binary}': ${ended.error.message}`, {
      cause: ended.error,
      hint: 'install it: apt-get install -y docker-registry',
    });
  }
  const why = timedOut || ended === undefined ? `did not answer GET /v2/ within ${timeoutMs} ms` : `exited with ${String(ended.code)}`;
  throw new ImageError('Unavailable', `the test registry ${why}; its log:\n${log.trim() || '(empty)'}`, {
    hint: 'check the log above; a port taken by another process shows as "address already in use"',
  });
}

async function probe(url: string): Promise<number> {
  try {
    const res = await request(url, { method: 'GET', headersTimeout: 1_000, bodyTimeout: 1_000 });
    await res.body.dump();
    return res.statusCode;
  } catch {
    return 0;
  }
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => (p ??= fn());
}
