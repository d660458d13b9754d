import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

// Made when a test file first imports this module (vitest evaluates modules per test file, at
// collection time, where registering a hook is allowed), removed after that file's tests.
const home = mkdtempSync(join(tmpdir(), 'imagefs-home-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

/**
 * A HOME for CLI runs in tests: an empty directory of this test file (no docker config, so no
 * credentials), where the default cache (`$XDG_CACHE_HOME/imagefs`) also lands. Tests never write
 * into the real home or a fixed path.
 */
export function testHome(): { HOME: string; XDG_CACHE_HOME: string } {
  return { HOME: home, XDG_CACHE_HOME: join(home, '.cache') };
}
