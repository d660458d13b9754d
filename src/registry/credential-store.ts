import { defaultAuthFilePath, credentialsFromAuths, helperFor, helperServerUrl, loadAuthConfig, type Credentials, type DockerAuthConfig } from './auth-file.js';
import { runCredentialHelper } from './cred-helper.js';
import type { CredentialsProvider } from './options.js';

/** Options of a {@link CredentialStore}. */
export interface CredentialStoreOptions {
  /** Explicit credentials for the registries of references (not mirrors); win over the auth file. */
  credentials?: Credentials | CredentialsProvider | undefined;
  /** The auth file path, `false` for none, `undefined` for the default lookup. */
  authFile?: string | false | undefined;
  /** The environment (auth file lookup, helper `PATH`). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Finds credentials per registry host, once per host: explicit credentials (for registries, not
 * mirrors), then the auth file's `credHelpers` entry, its `auths` entry, then its `credsStore`.
 * Lookups are cached for the store's lifetime; a failed lookup is not cached.
 */
export class CredentialStore {
  private config: Promise<DockerAuthConfig> | undefined;
  private readonly cache = new Map<string, Promise<Credentials | undefined>>();

  constructor(private readonly options: CredentialStoreOptions = {}) {}

  /** The auth file in use, or undefined when disabled. */
  get authFilePath(): string | undefined {
    if (this.options.authFile === false) return undefined;
    return this.options.authFile ?? defaultAuthFilePath(this.options.env);
  }

  /** The credentials for `registry` (`HOST[:PORT]`); `mirror` true skips the explicit ones. */
  get(registry: string, mirror = false, signal?: AbortSignal): Promise<Credentials | undefined> {
    const key = `${mirror ? 'm' : 'r'}\n${registry}`;
    let p = this.cache.get(key);
    if (!p) {
      p = this.lookup(registry, mirror, signal);
      this.cache.set(key, p);
      p.catch(() => this.cache.delete(key));
    }
    return p;
  }

  private async lookup(registry: string, mirror: boolean, signal?: AbortSignal): Promise<Credentials | undefined> {
    const explicit = this.options.credentials;
    if (!mirror && explicit !== undefined) {
      const c = typeof explicit === 'function' ? await explicit(registry) : explicit;
      if (c !== undefined) return c;
    }
    const path = this.authFilePath;
    if (path === undefined) return undefined;
    this.config ??= loadAuthConfig(path);
    const config = await this.config;
    const env = this.options.env ?? process.env;
    const helper = helperFor(config, registry);
    if (helper !== undefined) return runCredentialHelper(helper, helperServerUrl(registry), { env, ...(signal ? { signal } : {}) });
    const fromAuths = credentialsFromAuths(config, registry);
    if (fromAuths !== undefined) return fromAuths;
    if (config.credsStore !== undefined) return runCredentialHelper(config.credsStore, helperServerUrl(registry), { env, ...(signal ? { signal } : {}) });
    return undefined;
  }
}
