/** What {@link registryConfig} needs to write a distribution 2.8 config. */
export interface RegistryConfigInput {
  /** `127.0.0.1:PORT`. */
  addr: string;
  /** The storage root directory. */
  storageDir: string;
  /** An htpasswd (bcrypt) file: turns on Basic auth. */
  htpasswdFile?: string;
  /** Turns on token auth. */
  token?: {
    /** The token endpoint URL. */
    realm: string;
    /** The token audience. */
    service: string;
    /** The token issuer name. */
    issuer: string;
    /** A PEM file with the issuer's certificate. */
    rootCertBundle: string;
  };
  /** The `redirect` storage middleware's base URL. */
  redirectBaseUrl?: string;
  /** Accept schema 1 manifests (`compatibility.schema1.enabled`). */
  schema1?: boolean;
}

/**
 * Renders a distribution 2.8 config. The text is JSON, which is valid YAML, so no YAML writer is
 * needed. Upload purging and the storage health check are off so that the process does no
 * background work in tests.
 *
 * @example
 * ```ts
 * await writeFile('config.yml', registryConfig({ addr: '127.0.0.1:5000', storageDir: '/tmp/s' }));
 * ```
 */
export function registryConfig(input: RegistryConfigInput): string {
  const config: Record<string, unknown> = {
    version: '0.1',
    log: { level: 'warn', accesslog: { disabled: true }, formatter: 'text' },
    storage: {
      filesystem: { rootdirectory: input.storageDir },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: { addr: input.addr, secret: 'imagefs-test-bench-secret' },
  };
  if (input.htpasswdFile !== undefined) {
    config['auth'] = { htpasswd: { realm: 'imagefs-test-registry', path: input.htpasswdFile } };
  } else if (input.token !== undefined) {
    const t = input.token;
    config['auth'] = { token: { realm: t.realm, service: t.service, issuer: t.issuer, rootcertbundle: t.rootCertBundle } };
  }
  if (input.redirectBaseUrl !== undefined) {
    config['middleware'] = { storage: [{ name: 'redirect', options: { baseurl: input.redirectBaseUrl } }] };
  }
  if (input.schema1 === true) config['compatibility'] = { schema1: { enabled: true } };
  return `${JSON.stringify(config, null, 2)}\n`;
}
