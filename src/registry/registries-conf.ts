/**
 * Mirrors as users configure them for podman, buildah, skopeo and CRI-O: the `[[registry]]`
 * entries of containers-registries.conf (v2 format) and their `[[registry.mirror]]` tables.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { invalidArgument } from '../errors/image-fs-error.js';
import { isLoopbackHost } from './reference.js';

/**
 * Where containers-registries.conf is looked for: `$CONTAINERS_REGISTRIES_CONF`, then `/etc/containers/registries.conf`.
 *
 * @example
 * ```ts
 * registriesConfPath({}); // '/etc/containers/registries.conf'
 * ```
 */
export function registriesConfPath(env: Record<string, string | undefined>): string {
  return env['CONTAINERS_REGISTRIES_CONF'] || '/etc/containers/registries.conf';
}

type Table = Record<string, string | boolean>;

/**
 * The mirrors of a containers-registries.conf (v2) text, as the registry client's `mirrors` option:
 * registry host → mirror URLs in order. A mirror `location` without a scheme is spoken to over
 * HTTPS, or HTTP when the mirror sets `insecure = true` or is on loopback. Registries are keyed by
 * `location` (else `prefix`); entries without mirrors are skipped. Only the keys imagefs needs are
 * read (`location`, `prefix`, `insecure`, `mirror-by-digest-only` is ignored); other TOML is skipped.
 *
 * @throws ImageError `InvalidArgument` for a line that is not TOML imagefs can read, naming the line.
 * @example
 * ```ts
 * parseRegistriesConf('[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "mirror.local:5000"\n');
 * // { 'docker.io': ['https://mirror.local:5000'] }
 * ```
 */
export function parseRegistriesConf(text: string, file = 'registries.conf'): Record<string, string[]> {
  const registries: Array<{ table: Table; mirrors: Table[] }> = [];
  let current: Table | undefined; // the table key = value lines go to; undefined outside the two we read
  let arrayDepth = 0; // inside a multi-line array value: skipped
  for (const [n, raw] of text.split(/\r?\n/).entries()) {
    const line = stripComment(raw).trim();
    if (line === '') continue;
    if (arrayDepth > 0) {
      arrayDepth += brackets(line);
      continue;
    }
    if (line.startsWith('[')) {
      if (line === '[[registry]]') {
        registries.push({ table: {}, mirrors: [] });
        current = registries.at(-1)!.table;
      } else if (line === '[[registry.mirror]]' && registries.length > 0) {
        registries.at(-1)!.mirrors.push({});
        current = registries.at(-1)!.mirrors.at(-1);
      } else {
        current = undefined; // [aliases], [engine], ...: not ours
      }
      continue;
    }
    const m = /^("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=\s*(.+)$/.exec(line);
    if (m === null) throw invalidArgument(`${file} line ${n + 1} is not 'key = value': ${raw.slice(0, 80)}`, { hint: 'fix the file (TOML, containers-registries.conf v2)' });
    const value = m[2]!.trim();
    if (value.startsWith('[')) arrayDepth = Math.max(0, brackets(value));
    if (current === undefined) continue;
    if (value === 'true' || value === 'false') current[m[1]!] = value === 'true';
    else if (/^"([^"\\]|\\.)*"$/.test(value)) current[m[1]!] = JSON.parse(value) as string;
    else if (/^'[^']*'$/.test(value)) current[m[1]!] = value.slice(1, -1);
  }
  const out: Record<string, string[]> = {};
  for (const { table, mirrors } of registries) {
    const host = typeof table['location'] === 'string' && table['location'] !== '' ? table['location'] : table['prefix'];
    if (typeof host !== 'string' || host === '' || mirrors.length === 0) continue;
    const urls = mirrors.flatMap((m) => (typeof m['location'] === 'string' && m['location'] !== '' ? [mirrorUrl(m['location'], m['insecure'] === true)] : []));
    if (urls.length > 0) (out[host.replace(/\/.*$/, '')] ??= []).push(...urls);
  }
  return out;
}

/**
 * Reads the mirrors of the containers-registries.conf at {@link registriesConfPath} (none when the
 * file does not exist).
 *
 * @example
 * ```ts
 * const mirrors = await readRegistriesConf(process.env);
 * ```
 */
export async function readRegistriesConf(env: Record<string, string | undefined>): Promise<Record<string, string[]>> {
  const path = registriesConfPath(env);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  return parseRegistriesConf(text, path);
}

/**
 * `HOST[:PORT][/PATH]` or a URL → a mirror base URL (HTTP for loopback or `insecure`, else HTTPS).
 *
 * @example
 * ```ts
 * mirrorUrl('mirror.local:5000'); // 'https://mirror.local:5000'
 * ```
 */
export function mirrorUrl(location: string, insecure = false): string {
  if (/^https?:\/\//.test(location)) return location;
  const host = location.replace(/\/.*$/, '');
  return `${insecure || isLoopbackHost(host) ? 'http' : 'https'}://${location}`;
}

/** Opening minus closing square brackets outside quotes. */
function brackets(text: string): number {
  let depth = 0;
  let quote: string | undefined;
  for (const c of text) {
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[') depth++;
    else if (c === ']') depth--;
  }
  return depth;
}

function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote !== undefined) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#') return line.slice(0, i);
  }
  return line;
}
