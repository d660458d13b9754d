import { homedir } from 'node:os';
import { join } from 'node:path';
import { parsePlatform } from '../image/platform.js';
import type { OptionSpec } from './command-spec.js';
import type { GlobalOptions } from './types.js';
import { UsageError } from './usage-error.js';

/** The options every command accepts, in help order. */
export const GLOBAL_OPTIONS: OptionSpec[] = [
  { name: 'platform', value: 'OS/ARCH[/VARIANT]', description: 'platform to pick from a multi-platform image (default: this host, linux/<arch>)' },
  { name: 'creds', value: 'USER:PASS', description: 'registry credentials (overrides the auth file)' },
  { name: 'auth-file', value: 'PATH', description: 'docker config.json with registry credentials (default: $REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json, ~/.docker/config.json)' },
  { name: 'cache', value: 'DIR', description: 'cache directory, created when missing (default: $XDG_CACHE_HOME/imagefs or ~/.cache/imagefs)' },
  { name: 'no-cache', description: 'use no on-disk cache' },
  { name: 'insecure', description: 'allow plain HTTP and unverified TLS for non-loopback registries' },
  { name: 'mirror', value: 'HOST[:PORT]', repeatable: true, description: 'a registry mirror to try first, for every registry (repeatable; containers-registries.conf mirrors are read too)' },
  { name: 'json', description: 'print one JSON document (inspect, check, index, ls, stat)' },
  { name: 'quiet', short: 'q', description: 'print only the requested data: no progress or notes' },
  { name: 'debug', description: 'print stack traces with errors' },
  { name: 'help', short: 'h', description: 'show help (also: imagefs help CMD)' },
  { name: 'version', short: 'V', description: 'print the version' },
];

/** The default cache directory: `$XDG_CACHE_HOME/imagefs`, else `~/.cache/imagefs`. */
export function defaultCacheDir(env: Record<string, string | undefined>): string {
  const xdg = env['XDG_CACHE_HOME'];
  return xdg ? join(xdg, 'imagefs') : join(env['HOME'] || homedir(), '.cache', 'imagefs');
}

/**
 * The auth file to use: `--auth-file`, else `$REGISTRY_AUTH_FILE`, else
 * `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. Only an explicit `--auth-file` is
 * expected to exist; the others may be missing (then no credentials).
 */
export function defaultAuthFile(env: Record<string, string | undefined>): string {
  if (env['REGISTRY_AUTH_FILE']) return env['REGISTRY_AUTH_FILE'];
  if (env['DOCKER_CONFIG']) return join(env['DOCKER_CONFIG'], 'config.json');
  return join(env['HOME'] || homedir(), '.docker', 'config.json');
}

/**
 * Builds {@link GlobalOptions} from parsed option values.
 *
 * @throws UsageError for a malformed `--platform` or `--creds`, or `--cache` with `--no-cache`.
 */
export function buildGlobalOptions(values: Record<string, string | boolean>, env: Record<string, string | undefined>): GlobalOptions {
  const options: GlobalOptions = {
    insecure: values['insecure'] === true,
    json: values['json'] === true,
    quiet: values['quiet'] === true,
    debug: values['debug'] === true,
  };
  const platform = values['platform'];
  if (typeof platform === 'string') {
    try {
      options.platform = parsePlatform(platform);
    } catch {
      throw new UsageError(`--platform '${platform}' is not OS/ARCH[/VARIANT] (for instance linux/arm64/v8)`);
    }
  }
  const creds = values['creds'];
  if (typeof creds === 'string') {
    const colon = creds.indexOf(':');
    if (colon <= 0) throw new UsageError('--creds must be USER:PASS');
    options.creds = { username: creds.slice(0, colon), password: creds.slice(colon + 1) };
  }
  const authFile = values['auth-file'];
  options.authFile = typeof authFile === 'string' ? authFile : defaultAuthFile(env);
  const cache = values['cache'];
  if (values['no-cache'] === true) {
    if (typeof cache === 'string') throw new UsageError('--cache and --no-cache contradict each other; give one');
  } else {
    options.cacheDir = typeof cache === 'string' ? cache : defaultCacheDir(env);
  }
  const mirror = values['mirror'];
  if (typeof mirror === 'string') {
    const hosts = mirror.split('\n').map((m) => m.trim());
    if (hosts.some((h) => h === '' || /\s/.test(h))) throw new UsageError('--mirror takes HOST[:PORT] (or a URL)');
    options.mirrors = hosts;
  }
  return options;
}
