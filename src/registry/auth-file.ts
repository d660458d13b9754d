import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ImageError } from '../errors/image-fs-error.js';
import { DOCKER_HUB } from './reference.js';

/**
 * Credentials for one registry: a user name and password (Basic, or exchanged for a token), or an
 * identity token (an OAuth2 refresh token, `identitytoken` in docker's config.json).
 */
export interface Credentials {
  /** The user name (docker writes `<token>` next to an identity token). */
  username?: string;
  /** The password or personal access token. */
  password?: string;
  /** An OAuth2 refresh token, exchanged at the token realm with `grant_type=refresh_token`. */
  identityToken?: string;
}

/** The parts of docker's `config.json` imagefs reads. */
export interface DockerAuthConfig {
  /** Per registry: `auth` (base64 `user:pass`) and/or `identitytoken`. Keys may be URLs. */
  auths?: Record<string, {
    /** base64 of `user:password`. */
    auth?: string;
    /** An OAuth2 refresh token. */
    identitytoken?: string;
    /** A user name written in the clear (some tools do). */
    username?: string;
    /** A password written in the clear (some tools do). */
    password?: string;
  }>;
  /** Per registry: the suffix of a `docker-credential-SUFFIX` helper. */
  credHelpers?: Record<string, string>;
  /** The default helper suffix for registries without their own. */
  credsStore?: string;
}

/**
 * Where the auth file is: `$REGISTRY_AUTH_FILE`, then `$DOCKER_CONFIG/config.json`, then
 * `~/.docker/config.json`.
 */
export function defaultAuthFilePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REGISTRY_AUTH_FILE) return env.REGISTRY_AUTH_FILE;
  if (env.DOCKER_CONFIG) return join(env.DOCKER_CONFIG, 'config.json');
  return join(env.HOME || homedir(), '.docker', 'config.json');
}

/**
 * Reads and validates an auth file. A missing file is an empty config; a file that is not JSON,
 * or whose sections have the wrong shape, is `InvalidArgument` naming the file (never its content).
 */
export async function loadAuthConfig(path: string): Promise<DockerAuthConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ImageError('InvalidArgument', `cannot read the auth file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, {
      cause: e, hint: 'fix its permissions or point --auth-file elsewhere',
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ImageError('InvalidArgument', `the auth file ${path} is not valid JSON`, { hint: 'fix it or point --auth-file elsewhere' });
  }
  return parseAuthConfig(parsed, path);
}

/** Validates the shape of a parsed auth file; see {@link loadAuthConfig}. */
export function parseAuthConfig(parsed: unknown, where = 'auth file'): DockerAuthConfig {
  const fail = (what: string): never => {
    throw new ImageError('InvalidArgument', `the ${where} is malformed: ${what}`, { hint: 'it must look like docker\'s config.json' });
  };
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail('it is not a JSON object');
  const o = parsed as Record<string, unknown>;
  const out: DockerAuthConfig = {};
  if (o.auths !== undefined) {
    if (typeof o.auths !== 'object' || o.auths === null) fail('"auths" is not an object');
    out.auths = {};
    for (const [key, v] of Object.entries(o.auths as Record<string, unknown>)) {
      if (typeof v !== 'object' || v === null) fail(`"auths" entry for ${key} is not an object`);
      const entry = v as Record<string, unknown>;
      const e: NonNullable<DockerAuthConfig['auths']>[string] = {};
      for (const f of ['auth', 'identitytoken', 'username', 'password'] as const) {
        if (entry[f] === undefined || entry[f] === '') continue;
        if (typeof entry[f] !== 'string') fail(`"auths.${key}.${f}" is not a string`);
        e[f] = entry[f] as string;
      }
      out.auths[key] = e;
    }
  }
  if (o.credHelpers !== undefined) {
    if (typeof o.credHelpers !== 'object' || o.credHelpers === null) fail('"credHelpers" is not an object');
    out.credHelpers = {};
    for (const [key, v] of Object.entries(o.credHelpers as Record<string, unknown>)) {
      if (typeof v !== 'string' || !/^[A-Za-z0-9._-]+$/.test(v)) fail(`"credHelpers.${key}" is not a helper name`);
      out.credHelpers[key] = v as string;
    }
  }
  if (o.credsStore !== undefined && o.credsStore !== '') {
    if (typeof o.credsStore !== 'string' || !/^[A-Za-z0-9._-]+$/.test(o.credsStore)) fail('"credsStore" is not a helper name');
    out.credsStore = o.credsStore as string;
  }
  return out;
}

/**
 * Normalises an auth-file key to `HOST[:PORT]`: `https://index.docker.io/v1/` → `docker.io`,
 * `http://reg:5000/` → `reg:5000`.
 */
export function normaliseAuthKey(key: string): string {
  let k = key.trim().toLowerCase().replace(/^[a-z]+:\/\//, '');
  const slash = k.indexOf('/');
  if (slash >= 0) k = k.slice(0, slash);
  if (k === 'index.docker.io' || k === 'registry-1.docker.io') k = DOCKER_HUB;
  return k;
}

/** The server name docker passes to credential helpers for `registry`. */
export function helperServerUrl(registry: string): string {
  return registry === DOCKER_HUB ? 'https://index.docker.io/v1/' : registry;
}

/**
 * The credentials an `auths` entry gives for `registry`, if any: `auth` is base64 `user:pass`,
 * `identitytoken` an OAuth2 refresh token. Throws `InvalidArgument` on a malformed `auth`.
 */
export function credentialsFromAuths(config: DockerAuthConfig, registry: string): Credentials | undefined {
  const wanted = normaliseAuthKey(registry);
  for (const [key, entry] of Object.entries(config.auths ?? {})) {
    if (normaliseAuthKey(key) !== wanted) continue;
    const creds: Credentials = {};
    if (entry.auth !== undefined) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) {
        throw new ImageError('InvalidArgument', `the auth file entry for ${key} has an "auth" that is not base64 of user:password`, {
          hint: 'log in again (docker login / skopeo login) to rewrite it',
        });
      }
      creds.username = decoded.slice(0, colon);
      creds.password = decoded.slice(colon + 1);
    } else if (entry.username !== undefined) {
      creds.username = entry.username;
      if (entry.password !== undefined) creds.password = entry.password;
    }
    if (entry.identitytoken !== undefined) creds.identityToken = entry.identitytoken;
    if (creds.username !== undefined || creds.identityToken !== undefined) return creds;
  }
  return undefined;
}

/** The credential helper (suffix of `docker-credential-NAME`) that serves `registry`, if any. */
export function helperFor(config: DockerAuthConfig, registry: string): string | undefined {
  const wanted = normaliseAuthKey(registry);
  for (const [key, helper] of Object.entries(config.credHelpers ?? {})) {
    if (normaliseAuthKey(key) === wanted) return helper;
  }
  return undefined;
}
