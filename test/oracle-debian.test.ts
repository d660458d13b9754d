import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageFs } from '../src/fs/image-fs.js';
import { openImage } from '../src/open/open-image.js';
import { capabilityXattr, Cap, readDiskTree, runTool, type DiskNode } from '../src/testing/builder/index.js';
import { buildCliBundle, runCli } from './helpers/oracle-cli.js';
import { buildDebianLayout, DEBIAN_MIRROR } from './helpers/oracle-debian.js';
import { diffTrees, imageFsTree, tempDir } from './helpers/overlay-trees.js';

// A Debian bookworm minbase rootfs (debootstrap, cached between runs) made into three layers with
// umoci, then every path compared with `umoci unpack`. Needs root, debootstrap, umoci, GNU tar,
// getfattr/setfattr and the mirror: without them the test FAILS (never skips). From nothing it
// takes about a minute more (debootstrap).

describe(`oracle: Debian bookworm minbase (${DEBIAN_MIRROR})`, () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let ref: string;
  let rootfs: string;
  let fs: ImageFs;
  let expected: Map<string, DiskNode>;
  let cli: { bin: string; cleanup: () => Promise<void> } | undefined;

  beforeAll(async () => {
    expect(process.getuid?.(), 'the Debian oracle needs root (debootstrap, umoci unpack, mknod)').toBe(0);
    tmp = await tempDir('oracle-debian-');
    cli = await buildCliBundle();
    const { layout, tag } = await buildDebianLayout(tmp.dir);
    ref = `oci:${layout}:${tag}`;
    await runTool('umoci', ['unpack', '--image', `${layout}:${tag}`, join(tmp.dir, 'bundle')]);
    rootfs = join(tmp.dir, 'bundle', 'rootfs');
    expected = await readDiskTree(rootfs);
    fs = await openImage(ref);
  }, 240_000);
  afterAll(async () => {
    await fs?.close();
    await cli?.cleanup();
    await tmp?.cleanup();
  });

  it('the reference tree has what the layers put there (so the comparison can fail)', () => {
    expect(expected.size).toBeGreaterThan(5_000);
    expect(expected.get('usr/bin/ping')?.xattrs['security.capability']).toEqual(capabilityXattr([Cap.NET_RAW]));
    expect(expected.get('usr/bin/perl')?.nlink).toBe(3);
    expect([...expected.keys()].filter((p) => p.startsWith('etc/apt/')).sort()).toEqual(['etc/apt/apt.conf.d', 'etc/apt/apt.conf.d/99imagefs', 'etc/apt/sources.list']);
    for (const gone of ['usr/share/doc', 'etc/motd', 'usr/bin/rgrep', 'usr/lib/os-release']) expect(expected.has(gone), gone).toBe(false);
    expect(expected.get('var/mail')?.type).toBe('file');
    expect(expected.get('etc/issue.net')?.type).toBe('dir');
    expect(expected.get('etc/hostname')?.xattrs['user.imagefs']).toEqual(new TextEncoder().encode('layer2'));
    expect(Object.keys(expected.get('srv/data')?.xattrs ?? {}).sort()).toEqual(['trusted.imagefs', 'user.purpose']);
    expect(expected.get('dev/null')).toMatchObject({ type: 'char', devMajor: 1, devMinor: 3 });
  });

  it('ImageFs.walk + readFile equal umoci unpack: type, mode, owner, size, sha256, target, devices, xattrs, mtime, hardlinks', async () => {
    const actual = await imageFsTree(fs);
    expect(actual.size).toBe(expected.size);
    expect(diffTrees(expected, actual, { links: true, mtime: true })).toEqual([]);
    expect(fs.warnings).toEqual([]);
    const st = await fs.stat('/usr/bin/perl-hardlink');
    expect([st.ino, st.nlink]).toEqual([(await fs.stat('/usr/bin/perl')).ino, 3]);
    expect(await fs.getxattr('/opt/to-ping', 'security.capability')).toEqual(Buffer.from(capabilityXattr([Cap.NET_RAW])));
    expect(await fs.readFile('/etc/os-release').catch((e: NodeJS.ErrnoException) => e.code)).toBe('ENOENT');
  });

  it('`imagefs export` (the bundled executable) writes the same tree as umoci unpack', async () => {
    const out = join(tmp.dir, 'export');
    const r = await runCli(cli!.bin, ['export', ref, out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^exported to .*: \d+ dirs, \d+ files \(\d+ bytes\), \d+ symlinks, [1-9]\d* hardlinks, [1-9]\d* devices, 1 fifos, [1-9]\d* xattrs\n$/);
    expect(diffTrees(expected, await readDiskTree(out), { links: true, mtime: true })).toEqual([]);
  });
});
