import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ImageError } from '../../errors/index.js';
import { startBlobFileServer, type BlobFileServer } from './blob-file-server.js';
import { freePort } from './free-port.js';
import { registryConfig } from './registry-config.js';
import { spawnRegistryProcess, type RegistryProcess } from './registry-process.js';
import { DEFAULT_TEST_USER, type RegistryCredentials } from './credentials.js';
import { startTokenIssuer, type TokenIssuer, type TokenIssuerOptions } from './token-issuer.js';

const run = promisify(execFile);


/** Options of {@link startRegistry}. */
export interface StartRegistryOptions {
  /** `none` (default), `basic` (htpasswd) or `token` (a {@link TokenIssuer} started alongside). */
  auth?: 'none' | 'basic' | 'token';
  /** The user for `basic` and `token`. Default {@link DEFAULT_TEST_USER}. */
  credentials?: RegistryCredentials;
  /** More options of the token issuer (`auth: 'token'`); its `users` are added to `credentials`'s user. */
  tokenIssuer?: TokenIssuerOptions;
  /** Blob GET/HEAD answer 307 to a second local server that serves the storage directory. */
  redirect?: boolean;
  /** Accept schema 1 manifests (`compatibility.schema1.enabled`). */
  schema1?: boolean;
  /** How long to wait for `GET /v2/`, in ms. Default 20000. */
  startTimeoutMs?: number;
  /** The registry binary. Default `docker-registry`. */
  binary?: string;
}

/** A running CNCF distribution 2.8 registry on 127.0.0.1. */
export interface TestRegistry {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** `127.0.0.1:PORT`, for image references (`127.0.0.1:PORT/repo:tag`). */
  readonly host: string;
  /** The storage root (blobs live in `docker/registry/v2/blobs/sha256/XX/HEX/data`). */
  readonly storageDir: string;
  /** The credentials, when `auth` is `basic` or `token`. */
  readonly auth?: RegistryCredentials;
  /** The token issuer, when `auth` is `token` (its `requests` count token requests). */
  readonly tokenIssuer?: TokenIssuer;
  /** The redirect target, when `redirect` is on (its `requests` list what it served). */
  readonly blobServer?: BlobFileServer;
  /** The registry process id (for checks that it is gone after `stop()`). */
  readonly pid: number;
  /** The registry's log so far (last 64 KiB). */
  log(): string;
  /** Stops the registry and its helpers and removes its temporary directories. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts `docker-registry serve` (CNCF distribution 2.8) on a free 127.0.0.1 port with its storage
 * in a fresh temporary directory, and waits until it answers `GET /v2/`. Everything it starts
 * (token issuer, redirect target) and every temporary file goes away with `stop()`.
 *
 * Fails with `FailedPrecondition` when the binary (or `htpasswd` for basic auth) is missing, and
 * with `Unavailable` (the registry's log in the message) when it does not come up.
 *
 * @example
 * ```ts
 * const reg = await startRegistry({ auth: 'token' });
 * try { await pushLayout(reg, { layoutDir, repo: 'demo/app', destTag: 'v1' }); }
 * finally { await reg.stop(); }
 * ```
 */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<TestRegistry> {
  const auth = options.auth ?? 'none';
  const credentials = options.credentials ?? { ...DEFAULT_TEST_USER };
  const workDir = await mkdtemp(join(tmpdir(), 'imagefs-registry-'));
  const storageDir = join(workDir, 'storage');
  const cleanups: Array<() => Promise<void>> = [() => rm(workDir, { recursive: true, force: true })];
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  };
  try {
    const config: Parameters<typeof registryConfig>[0] = { addr: '', storageDir, schema1: options.schema1 === true };
    let tokenIssuer: TokenIssuer | undefined;
    let blobServer: BlobFileServer | undefined;
    if (auth === 'basic') {
      config.htpasswdFile = join(workDir, 'htpasswd');
      await writeFile(config.htpasswdFile, await htpasswdLine(credentials));
    } else if (auth === 'token') {
      const users = { [credentials.username]: { password: credentials.password }, ...options.tokenIssuer?.users };
      tokenIssuer = await startTokenIssuer({ ...options.tokenIssuer, users });
      cleanups.push(() => tokenIssuer?.stop() ?? Promise.resolve());
      const rootCertBundle = join(workDir, 'token-root.pem');
      await writeFile(rootCertBundle, tokenIssuer.certPem);
      config.token = { realm: tokenIssuer.realm, service: tokenIssuer.service, issuer: tokenIssuer.issuer, rootCertBundle };
    }
    if (options.redirect === true) {
      blobServer = await startBlobFileServer(storageDir);
      cleanups.push(() => blobServer?.stop() ?? Promise.resolve());
      config.redirectBaseUrl = blobServer.url;
    }
    const configFile = join(workDir, 'config.yml');
    let proc: RegistryProcess | undefined;
    let port = 0;
    for (let attempt = 1; proc === undefined; attempt++) {
      port = await freePort();
      await writeFile(configFile, registryConfig({ ...config, addr: `127.0.0.1:${port}` }));
      try {
        proc = await spawnRegistryProcess(options.binary ?? 'docker-registry', configFile, `http://127.0.0.1:${port}`, options.startTimeoutMs ?? 20_000);
      } catch (e) {
        if (attempt >= 3 || !/address already in use/.test((e as Error).message)) throw e;
      }
    }
    const started = proc;
    cleanups.push(() => started.stop());
    let stopping: Promise<void> | undefined;
    const registry: TestRegistry = {
      url: `http://127.0.0.1:${port}`,
      host: `127.0.0.1:${port}`,
      storageDir,
      ...(auth === 'none' ? {} : { auth: credentials }),
      ...(tokenIssuer === undefined ? {} : { tokenIssuer }),
      ...(blobServer === undefined ? {} : { blobServer }),
      pid: started.pid,
      log: () => started.log(),
      stop: () => (stopping ??= cleanup()),
    };
    return registry;
  } catch (e) {
    await cleanup();
    throw e;
  }
}

async function htpasswdLine(c: RegistryCredentials): Promise<string> {
  try {
    const { stdout } = await run('htpasswd', ['-Bbn', c.username, c.password]);
    return stdout;
  } catch (e) {
    throw new ImageError('FailedPrecondition', 'cannot write an htpasswd file: the htpasswd tool failed or is missing', {
      cause: e,
      hint: 'install it: apt-get install -y apache2-utils',
    });
  }
}
