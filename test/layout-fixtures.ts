// Shared fixtures of the layout, whole-layer and CLI tests: temp dirs and small built layouts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, dir, file, hardlink, symlink, writeLayout, type BuiltImage } from '../src/testing/builder/index.js';

/** A temp directory and its cleanup. */
export async function tempDir(prefix: string): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `imagefs-${prefix}-`));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** Bytes of the binary file in the single-layer fixture. */
export const BINARY_SIZE = 300_000;

/** A single-layer image with a bit of everything the CLI prints. */
export async function singleLayerImage(): Promise<BuiltImage> {
  return buildImage({
    layers: [{
      entries: [
        dir('etc'),
        file('etc/hostname', 'box\n', { uid: 7, gid: 8, mode: 0o640, mtime: 1_600_000_000 }),
        file('etc/.wh.gone', ''),
        dir('bin', { mode: 0o755 }),
        file('bin/ping', 'PING', { mode: 0o4755, xattrs: { 'security.capability': new Uint8Array([1, 0, 0, 2, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) } }),
        hardlink('bin/ping6', 'bin/ping'),
        symlink('bin/sh', '/bin/busybox'),
        file('bin/busybox', { seed: 3, size: BINARY_SIZE }),
        symlink('usrbin', 'bin'),
        file('data/deep/x.txt', 'x'),
      ],
    }],
  });
}

/** Writes a layout holding `items` under their tags and returns its directory. */
export async function layoutWith(path: string, items: Array<{ image: Parameters<typeof writeLayout>[1][number]['image']; tag?: string }>): Promise<string> {
  await writeLayout(path, items);
  return path;
}
