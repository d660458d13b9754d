import { readFileSync } from 'node:fs';

/**
 * The version of the imagefs package, read from its package.json: the nearest `package.json`
 * named `imagefs` above this file (`src/cli/` when run from source, `dist/cli/` when built).
 */
export function packageVersion(): string {
  let url = new URL('./', import.meta.url);
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'imagefs' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here; look one level up
    }
    url = new URL('../', url);
  }
  return 'unknown';
}
