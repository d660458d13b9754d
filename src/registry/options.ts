import type { Dispatcher } from 'undici';
import type { Credentials } from './auth-file.js';

/** Returns the credentials for a registry host (`HOST[:PORT]`, `docker.io` for Docker Hub), or none. */
export type CredentialsProvider = (registry: string) => Credentials | undefined | Promise<Credentials | undefined>;

/** Something the client did, for logs and `--debug`. URLs are redacted; no secret is ever included. */
export type RegistryEvent =
  | {
    /** An HTTP request got its answer (sent only when a listener is set). */
    type: 'request';
    /** The HTTP method. */
    method: string;
    /** The URL, redacted. */
    url: string;
    /** The status received. */
    status: number;
    /** Milliseconds until the headers arrived. */
    ms: number;
  }
  | {
    /** A call is about to be retried. */
    type: 'retry';
    /** What the call does, e.g. `fetching manifest a:b`. */
    what: string;
    /** The URL, redacted. */
    url: string;
    /** The attempt that failed (1 = the first). */
    attempt: number;
    /** The wait before the next attempt, in ms (a `Retry-After`, or backoff with jitter). */
    delayMs: number;
    /** Why: `HTTP 503`, `ECONNRESET`, ... */
    reason: string;
  }
  | {
    /** A redirect was followed. */
    type: 'redirect';
    /** Where from, redacted. */
    from: string;
    /** Where to, redacted. */
    to: string;
    /** True when the target is another origin (Authorization was dropped). */
    crossOrigin: boolean;
  }
  | {
    /** A Bearer token was obtained. */
    type: 'token';
    /** The registry (or mirror) host. */
    registry: string;
    /** The scope it was asked for. */
    scope: string;
    /** Its lifetime in seconds, as the realm said. */
    expiresInS: number;
  }
  | {
    /** A mirror failed and the next endpoint is tried. */
    type: 'mirror-fallback';
    /** The mirror's base URL. */
    mirror: string;
    /** The error code of its failure. */
    reason: string;
  }
  | {
    /** A range request was answered 200 with the whole blob; only the needed bytes were read. */
    type: 'range-ignored';
    /** The URL, redacted. */
    url: string;
  };

/**
 * Options of a {@link RegistryClient}. Every field is optional; sizes are in bytes and times in
 * milliseconds. Validated at construction: a wrong value throws a TypeError naming the field.
 */
export interface RegistryClientOptions {
  /**
   * Credentials for the registries named in references (never sent to mirrors): one set for all
   * of them, or a function of the registry host. Take precedence over the auth file.
   */
  credentials?: Credentials | CredentialsProvider;
  /**
   * The docker `config.json` to read credentials from, or `false` for none. Default:
   * `$REGISTRY_AUTH_FILE`, then `$DOCKER_CONFIG/config.json`, then `~/.docker/config.json`.
   */
  authFile?: string | false;
  /** The environment for auth file lookup and credential helpers. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /**
   * Speak plain HTTP to these registries (`true`: to all). Loopback registries (127.0.0.0/8, ::1,
   * localhost) always get plain HTTP. Default `false`.
   */
  insecure?: boolean | string[];
  /**
   * Mirrors per registry host, tried in order before the registry itself for pulls, for instance
   * `{ 'docker.io': ['http://127.0.0.1:5001'] }`. Each is a base URL with a scheme. The key `'*'`
   * mirrors every registry (after its own mirrors). `readRegistriesConf` reads them from
   * containers-registries.conf. A mirror that answers a range with the whole blob (a pull-through
   * mirror filling its cache) is closed at once and the range read from the next endpoint.
   */
  mirrors?: Record<string, string[]>;
  /** Most requests in flight per host. Default 8. */
  maxConcurrentPerHost?: number;
  /** Keep-alive connections per origin. Default 8. */
  connectionsPerOrigin?: number;
  /** Time to connect, in ms. Default 10 000. */
  connectTimeoutMs?: number;
  /** Longest wait for headers, or between two body chunks, in ms. Default 30 000. */
  idleTimeoutMs?: number;
  /** Retries after the first attempt, for network errors, 5xx and 429. Default 4. */
  retries?: number;
  /** First backoff delay in ms (doubled each retry, with full jitter). Default 200. */
  retryBaseDelayMs?: number;
  /** Longest single backoff, including a `Retry-After`, in ms. Default 10 000. */
  retryMaxDelayMs?: number;
  /** Longest total time spent on one call's attempts, in ms. Default 60 000. */
  retryBudgetMs?: number;
  /** Reads closer than this many bytes are merged into one range request. Default 0 (only adjacent). */
  mergeGapBytes?: number;
  /** The largest merged range request, in bytes. Default 1 MiB. */
  maxMergedBytes?: number;
  /** The largest manifest or config accepted, in bytes. Default 4 MiB. */
  maxManifestBytes?: number;
  /** The `User-Agent` header. Default `imagefs`. */
  userAgent?: string;
  /** An undici dispatcher to use instead of the client's own keep-alive Agent (not closed by the client). */
  dispatcher?: Dispatcher;
  /** Receives events (requests, retries, redirects, tokens). Must not throw. */
  onEvent?: (event: RegistryEvent) => void;
}

/** {@link RegistryClientOptions} with every default filled in. */
export interface ResolvedClientOptions {
  credentials: Credentials | CredentialsProvider | undefined;
  authFile: string | false | undefined;
  env: NodeJS.ProcessEnv;
  insecure: boolean | string[];
  mirrors: Record<string, string[]>;
  maxConcurrentPerHost: number;
  connectionsPerOrigin: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  retries: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  retryBudgetMs: number;
  mergeGapBytes: number;
  maxMergedBytes: number;
  maxManifestBytes: number;
  userAgent: string;
  dispatcher: Dispatcher | undefined;
  onEvent: ((event: RegistryEvent) => void) | undefined;
}

const INTEGERS: Array<[keyof RegistryClientOptions, number, number]> = [
  // name, minimum, default
  ['maxConcurrentPerHost', 1, 8],
  ['connectionsPerOrigin', 1, 8],
  ['connectTimeoutMs', 1, 10_000],
  ['idleTimeoutMs', 1, 30_000],
  ['retries', 0, 4],
  ['retryBaseDelayMs', 0, 200],
  ['retryMaxDelayMs', 0, 10_000],
  ['retryBudgetMs', 0, 60_000],
  ['mergeGapBytes', 0, 0],
  ['maxMergedBytes', 1, 1 << 20],
  ['maxManifestBytes', 1024, 4 << 20],
];

const KNOWN = new Set<string>([...INTEGERS.map(([k]) => k), 'credentials', 'authFile', 'env', 'insecure', 'mirrors', 'userAgent', 'dispatcher', 'onEvent']);

function fail(field: string, what: string): never {
  throw new TypeError(`RegistryClient option '${field}' ${what}`);
}

/** Validates options and fills in defaults. Throws a TypeError naming the first wrong field. */
export function resolveClientOptions(options: RegistryClientOptions = {}): ResolvedClientOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('RegistryClient options must be an object');
  for (const key of Object.keys(options)) if (!KNOWN.has(key)) fail(key, 'is not a known option');
  const ints: Record<string, number> = {};
  for (const [name, min, def] of INTEGERS) {
    const v = options[name];
    if (v === undefined) ints[name] = def;
    else if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) fail(name, `must be an integer >= ${min} (got ${String(v)})`);
    else ints[name] = v;
  }
  const { credentials, authFile, env, insecure, mirrors, userAgent, dispatcher, onEvent } = options;
  if (credentials !== undefined && typeof credentials !== 'function') {
    if (typeof credentials !== 'object' || credentials === null) fail('credentials', 'must be { username, password }, { identityToken } or a function');
    for (const f of ['username', 'password', 'identityToken'] as const) {
      if (credentials[f] !== undefined && typeof credentials[f] !== 'string') fail(`credentials.${f}`, 'must be a string');
    }
    if (credentials.username === undefined && credentials.identityToken === undefined) fail('credentials', 'needs a username or an identityToken');
  }
  if (authFile !== undefined && authFile !== false && (typeof authFile !== 'string' || authFile === '')) fail('authFile', 'must be a path or false');
  if (env !== undefined && (typeof env !== 'object' || env === null)) fail('env', 'must be an object');
  if (insecure !== undefined && typeof insecure !== 'boolean' && !(Array.isArray(insecure) && insecure.every((h) => typeof h === 'string'))) {
    fail('insecure', 'must be a boolean or an array of registry hosts');
  }
  if (mirrors !== undefined) {
    if (typeof mirrors !== 'object' || mirrors === null || Array.isArray(mirrors)) fail('mirrors', 'must map registry hosts to arrays of URLs');
    for (const [host, list] of Object.entries(mirrors)) {
      if (!Array.isArray(list)) fail(`mirrors.${host}`, 'must be an array of URLs');
      for (const url of list) {
        let u: URL | undefined;
        try { u = new URL(url); } catch { /* handled below */ }
        if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) fail(`mirrors.${host}`, `has '${String(url)}', which is not an http(s) URL`);
      }
    }
  }
  if (userAgent !== undefined && (typeof userAgent !== 'string' || userAgent === '')) fail('userAgent', 'must be a non-empty string');
  if (dispatcher !== undefined && (typeof dispatcher !== 'object' || dispatcher === null || typeof (dispatcher as Dispatcher).dispatch !== 'function')) {
    fail('dispatcher', 'must be an undici Dispatcher');
  }
  if (onEvent !== undefined && typeof onEvent !== 'function') fail('onEvent', 'must be a function');
  return {
    credentials,
    authFile,
    env: env ?? process.env,
    insecure: insecure ?? false,
    mirrors: mirrors ?? {},
    userAgent: userAgent ?? 'imagefs',
    dispatcher,
    onEvent,
    ...ints,
  } as unknown as ResolvedClientOptions;
}
