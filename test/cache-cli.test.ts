// `imagefs pull` and `imagefs cache ls|prune|rm` (issue 11) against the real registry behind the
// fault proxy: pull stores every layer blob verified; a second pull and a later cat fetch no layer
// byte; ls shows sizes; prune trims least recently used entries but never ones in use; rm clears a digest.
import { createHash } from 'node:crypto';
import { readdir, readFile, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDiskCache } from '../src/cache/disk-admin.js';
import { parseByteSize } from '../src/cli/commands/cache.js';
import type { FaultProxy } from '../src/testing/registry/index.js';
import type { BuiltImage } from '../src/testing/builder/index.js';
import { layerBytes, oracle, REPO, startFetchFixture, type FetchFixture, sentByLayers } from './fetch-fixture.js';
import { runCliCapture as cli } from './helpers/run-cli.js';

let fx: FetchFixture;
let tmp: FetchFixture['tmp'];
let proxy: FaultProxy;
let image: BuiltImage;
let cacheDir: string;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  fx = await startFetchFixture('cache-cli');
  ({ tmp, proxy, image } = fx);
  cacheDir = join(tmp.path, 'cache');
}, 120_000);

afterAll(async () => {
  await fx?.stop();
});

function layerBytesSent(): number {
  return sentByLayers(proxy, image);
}

describe('imagefs pull', () => {
  it('stores every layer blob, verified; a second pull and a cat fetch no layer byte', async () => {
    const ref = `${proxy.host}/${REPO}:v1`;
    proxy.reset();
    const r = await cli('pull', ref, '--cache', cacheDir, '--json', '--platform', 'linux/amd64');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { digest: string; bytes: number; fetched: number; layers: Array<{ digest: string; how: string }> };
    expect(doc.digest).toBe(image.descriptor.digest);
    expect(doc.bytes).toBe(layerBytes(image));
    expect(doc.fetched).toBeGreaterThan(0.9 * layerBytes(image));
    expect(layerBytesSent()).toBeLessThanOrEqual(1.02 * layerBytes(image));
    for (const l of image.layers) expect(sha(await readFile(join(cacheDir, 'blobs', 'sha256', l.descriptor.digest.slice(7))))).toBe(l.descriptor.digest.slice(7));

    proxy.reset();
    const again = await cli('pull', ref, '--cache', cacheDir, '--platform', 'linux/amd64');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`^Successfully pulled image ${ref.replace(/[.:/]/g, '\\$&')} \\(.+\\) in \\d+\\.\\ds\\n$`));
    expect(layerBytesSent()).toBe(0);

    proxy.reset();
    const cat = await cli('cat', ref, '/a/zcross.bin', '--cache', cacheDir, '--platform', 'linux/amd64');
    expect(cat.code).toBe(0);
    expect(sha(cat.stdoutBytes)).toBe(sha(oracle(image).get('/a/zcross.bin')!));
    expect(layerBytesSent()).toBe(0);
  }, 120_000);

  it('needs a cache: --no-cache is a usage error', async () => {
    const r = await cli('pull', `${proxy.host}/${REPO}:v1`, '--no-cache');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--no-cache');
  });
});

describe('imagefs cache', () => {
  it('ls lists every layer with its size; rm clears one digest', async () => {
    const ls = await cli('cache', 'ls', '--cache', cacheDir, '--json');
    expect(ls.code).toBe(0);
    const doc = JSON.parse(ls.stdout) as { bytes: number; entries: Array<{ digest: string; bytes: number; kinds: string[] }> };
    for (const l of image.layers) {
      const row = doc.entries.find((e) => e.digest === l.descriptor.digest);
      expect(row?.kinds).toContain('blob');
      expect(row!.bytes).toBeGreaterThanOrEqual(l.blob.length);
    }
    expect(doc.bytes).toBe((await listDiskCache(cacheDir)).reduce((s, e) => s + e.size, 0));
    const text = await cli('cache', 'ls', '--cache', cacheDir);
    expect(text.stdout).toMatch(/^total .+ \(\d+ bytes\) in /m);

    const victim = image.layers[2]!.descriptor.digest;
    const rm = await cli('cache', 'rm', victim, '--cache', cacheDir, '--json');
    expect(rm.code).toBe(0);
    expect((JSON.parse(rm.stdout) as { removed: Array<{ key: string }> }).removed.map((e) => e.key)).toContain(victim);
    expect((await listDiskCache(cacheDir)).some((e) => e.digest === victim)).toBe(false);
    expect((await cli('cache', 'rm', 'not-a-digest', '--cache', cacheDir)).code).toBe(1);
  }, 60_000);

  it('prune --max trims least recently used entries, never ones used in the last 10 minutes', async () => {
    const entries = await listDiskCache(cacheDir);
    expect(entries.length).toBeGreaterThan(2);
    const old = new Date(Date.now() - 3600_000);
    const keep = entries.at(-1)!;
    for (const e of entries) if (e !== keep) await utimes(e.path, old, old);
    const r = await cli('cache', 'prune', '--max', '0', '--cache', cacheDir, '--json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { removed: Array<{ key: string }>; bytes: number };
    expect(doc.removed).toHaveLength(entries.length - 1);
    expect(doc.bytes).toBe(keep.size);
    const left = await listDiskCache(cacheDir);
    expect(left.map((e) => e.key)).toEqual([keep.key]);
    expect(await readdir(join(cacheDir, 'blobs', 'sha256'))).toHaveLength(keep.kind === 'blob' ? 1 : 0);
    expect((await cli('cache', 'prune', '--max', 'lots', '--cache', cacheDir)).code).toBe(2);
    expect(parseByteSize('5G')).toBe(5 * 1024 ** 3);
    expect(parseByteSize('10MiB')).toBe(10 * 1024 ** 2);
  }, 60_000);
});
