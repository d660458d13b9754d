import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildImage,
  compareTrees,
  expectedTree,
  kitchenSinkLayers,
  readDiskTree,
  runTool,
  writeLayout,
  type Compression,
} from '../src/testing/builder/index.js';

// Oracle: umoci (Go archive/tar + OCI whiteout rules) unpacks what the builder wrote, as root.
describe('builder images unpacked by umoci', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'builder-umoci-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  async function unpack(tag: string, layout: string): Promise<string> {
    const out = join(tmp, `bundle-${tag}`);
    await runTool('umoci', ['unpack', '--image', `${layout}:${tag}`, out]);
    return join(out, 'rootfs');
  }

  it('runs as root (umoci unpack needs it to chown, mknod and set security.* xattrs)', () => {
    expect(process.getuid?.()).toBe(0);
  });

  it('matches the intended tree for every entry type, long name style, xattr and whiteout', async () => {
    const layers = kitchenSinkLayers();
    const compressions: Compression[] = [{ kind: 'gzip-sync', flushEvery: 4096 }, 'gnu-gzip', 'none'];
    const img = await buildImage({ layers: layers.map((entries, i) => ({ entries, compression: compressions[i]! })) });
    const layout = join(tmp, 'layout');
    await writeLayout(layout, [{ image: img, tag: 'sink' }]);
    const rootfs = await unpack('sink', layout);

    const expected = expectedTree(layers);
    const actual = await readDiskTree(rootfs);
    expect(compareTrees(expected, actual, { dirMtime: true })).toEqual([]);

    // The comparator is not vacuous: a wrong expectation shows up.
    const wrong = expectedTree(layers);
    wrong.get('usr/bin/ping')!.mode = 0o755;
    wrong.get('srv/frac-mtime')!.mtime += 0.25;
    wrong.get('var/cache')!.xattrs['user.dir'] = new TextEncoder().encode('nope');
    wrong.delete('tmp');
    expect(compareTrees(wrong, actual)).toEqual([
      'tmp: unexpected path (dir)',
      'usr/bin/ping: mode want 755 got 4755',
      'var/cache: xattr user.dir want 6e6f7065 got 636163686532',
      'srv/frac-mtime: mtime want 1700000000.75 got 1700000000.5',
    ]);

    // Spot checks that would catch a comparator that compares nothing.
    expect(actual.get('etc/motd')).toBeUndefined();
    expect(actual.get('etc/keep')).toBeUndefined();
    expect(actual.get('var/cache/old1')).toBeUndefined();
    expect(actual.get('var/cache/new')?.type).toBe('file');
    expect(Buffer.from(actual.get('usr/bin/ping-hl')!.xattrs['security.capability']!).toString('hex')).toBe('0100000200200000000000000000000000000000');
    expect(actual.get('usr/bin/ping-hl')!.ino).toBe(actual.get('usr/bin/ping')!.ino);
    expect(actual.get('dev/loop0')).toMatchObject({ type: 'block', devMajor: 7, devMinor: 0, gid: 6 });
    expect(actual.get('srv/big-uid-gnu')).toMatchObject({ uid: 4_000_000, gid: 4_000_001 });
    expect(actual.get('replace-me')?.type).toBe('file');
  });

  it('applies an opaque marker only to lower layers even when it follows the new children', async () => {
    const { dir, file, opaque } = await import('../src/testing/builder/index.js');
    const layers = [
      [dir('d'), file('d/lower', 'l')],
      [file('d/upper', 'u'), dir('d/sub'), file('d/sub/x', 'x'), opaque('d')],
    ];
    const img = await buildImage({ layers: layers.map((entries) => ({ entries })) });
    const layout = join(tmp, 'layout-opq');
    await writeLayout(layout, [{ image: img, tag: 'opq' }]);
    const actual = await readDiskTree(await unpack('opq', layout));
    expect([...actual.keys()].sort()).toEqual(['d', 'd/sub', 'd/sub/x', 'd/upper']);
    expect(compareTrees(expectedTree(layers), actual)).toEqual([]);
  });
});
