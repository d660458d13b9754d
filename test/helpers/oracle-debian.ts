// A real multi-layer image made from a Debian bookworm minbase rootfs (debootstrap), for the
// oracle tests. The debootstrap output is cached as one tar between runs on the same machine
// (IMAGEFS_TEST_CACHE, default /var/cache/imagefs-test); from nothing it takes about a minute.
import { existsSync } from 'node:fs';
import { appendFile, chmod, chown, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Cap, capabilityXattr, charDevice, dir, fifo, file, hardlink, opaque, runTool, symlink, whiteout, writeTar, type TarRecord,
} from '../../src/testing/builder/index.js';

/** The mirror debootstrap installs from (IMAGEFS_DEBIAN_MIRROR overrides it). */
export const DEBIAN_MIRROR = process.env.IMAGEFS_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';

/** Where the rootfs tar is cached between runs. */
export function testCacheDir(): string {
  return process.env.IMAGEFS_TEST_CACHE ?? '/var/cache/imagefs-test';
}

/** Unmounts whatever debootstrap left mounted under `dir` (proc, sys) so that removing it is safe. */
async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/mounts', 'utf8')).split('\n').map((l) => l.split(' ')[1] ?? '');
  for (const m of mounts.filter((p) => p.startsWith(dir + '/')).sort().reverse()) await runTool('umount', ['-l', m]).catch(() => {});
}

/**
 * The path of a tar of a Debian bookworm minbase rootfs, made with
 * `debootstrap --variant=minbase bookworm DIR` and `tar --xattrs --numeric-owner --sort=name -C DIR -c .`,
 * cached under {@link testCacheDir}. Throws a clear error when debootstrap fails (mirror unreachable).
 */
export async function debianRootfsTar(): Promise<string> {
  const cache = testCacheDir();
  const path = join(cache, 'debian-bookworm-minbase.tar');
  if (existsSync(path)) return path;
  await mkdir(cache, { recursive: true });
  const work = await mkdtemp(join(cache, 'build-'));
  try {
    const rootfs = join(work, 'rootfs');
    try {
      // debootstrap reports on stdout: send it to stderr, which runTool's error carries.
      await runTool('sh', ['-c', 'exec debootstrap "$@" 1>&2', 'sh', '--variant=minbase', 'bookworm', rootfs, DEBIAN_MIRROR]);
    } catch (e) {
      throw new Error(`debootstrap could not build a bookworm minbase rootfs from ${DEBIAN_MIRROR}; the Debian oracle needs that mirror ` +
        `(and root, and the debootstrap package): ${(e as Error).message.slice(-800)}`, { cause: e });
    }
    await unmountUnder(work);
    const tmpTar = join(work, 'rootfs.tar');
    await runTool('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '--sort=name', '-C', rootfs, '-cf', tmpTar, '.']);
    await rename(tmpTar, path);
    return path;
  } finally {
    await unmountUnder(work);
    await rm(work, { recursive: true, force: true });
  }
}

/** Layer 2: what a `umoci repack` after these changes to the unpacked base records (whiteouts included). */
async function changeRootfs(rootfs: string): Promise<void> {
  const p = (rel: string): string => join(rootfs, rel);
  for (const d of ['usr/share/doc', 'usr/share/man', 'var/cache/debconf']) await rm(p(d), { recursive: true });
  for (const f of ['etc/motd', 'usr/bin/rgrep']) await rm(p(f));
  await writeFile(p('etc/hostname'), 'imagefs-oracle\n');
  await runTool('setfattr', ['-n', 'user.imagefs', '-v', 'layer2', p('etc/hostname')]);
  await chmod(p('etc/issue'), 0o600);
  await chown(p('home'), 1000, 1000);
  await appendFile(p('etc/debian_version'), 'imagefs\n');
  await rm(p('var/mail'), { recursive: true }); // a directory becomes a file
  await writeFile(p('var/mail'), 'not a directory any more\n');
  await rm(p('etc/issue.net')); // a file becomes a directory
  await mkdir(p('etc/issue.net'));
  await writeFile(p('etc/issue.net/inside'), 'x\n');
  await mkdir(p('usr/local/bin'), { recursive: true });
  await writeFile(p('usr/local/bin/suid'), '#!/bin/sh\necho suid\n');
  await chmod(p('usr/local/bin/suid'), 0o4755);
}

/** Layer 3, hand-made: an opaque marker after its siblings, a capability, cross-layer hardlinks, devices, long names. */
export function handLayer(): TarRecord[] {
  return [
    dir('etc/apt', { mode: 0o755 }),
    file('etc/apt/sources.list', `deb ${DEBIAN_MIRROR} bookworm main\n`),
    dir('etc/apt/apt.conf.d'),
    file('etc/apt/apt.conf.d/99imagefs', 'APT::Install-Recommends "false";\n', { mtime: 1_700_000_000.25 }),
    opaque('etc/apt'),
    file('usr/bin/ping', '#!/bin/sh\necho ping\n', { mode: 0o755, xattrs: { 'security.capability': capabilityXattr([Cap.NET_RAW]) } }),
    hardlink('usr/bin/perl-hardlink', 'usr/bin/perl'),
    hardlink('usr/local/bin/suid-hardlink', 'usr/local/bin/suid'),
    whiteout('usr/lib/os-release'),
    dir('srv/data', { mode: 0o2770, uid: 1000, gid: 1000, xattrs: { 'user.purpose': 'oracle', 'trusted.imagefs': new Uint8Array([0, 1, 255]) } }),
    file('srv/data/blob.bin', { seed: 6, size: 70_000 }, { uid: 1000, gid: 1000, mode: 0o640 }),
    charDevice('dev/imagefs0', 240, 1, { mode: 0o600 }),
    fifo('run/imagefs.fifo', { mode: 0o620 }),
    file(`opt/${'n'.repeat(200)}`, 'a long name\n', { longName: 'gnu' }),
    symlink('opt/to-ping', '/usr/bin/ping'),
  ];
}

/** The Debian image in an OCI layout: what each tag holds. */
export interface DebianLayout {
  /** The layout directory (use `oci:${layout}:final`). */
  layout: string;
  /** Three layers: the rootfs, a umoci repack of changes, {@link handLayer}. */
  tag: 'final';
}

/**
 * Builds a 3-layer image under `work` with umoci: `raw add-layer` of the rootfs tar (umoci
 * gzips it), then `unpack` + changes + `repack` (whiteouts, modes, owners, a user xattr), then
 * `raw add-layer` of {@link handLayer}.
 */
export async function buildDebianLayout(work: string): Promise<DebianLayout> {
  const rootTar = await debianRootfsTar();
  const layout = join(work, 'layout');
  await runTool('umoci', ['init', '--layout', layout]);
  await runTool('umoci', ['new', '--image', `${layout}:empty`]);
  await runTool('umoci', ['raw', 'add-layer', '--image', `${layout}:empty`, '--tag', 'base', rootTar]);
  const bundle = join(work, 'repack-bundle');
  await runTool('umoci', ['unpack', '--image', `${layout}:base`, bundle]);
  await changeRootfs(join(bundle, 'rootfs'));
  await runTool('umoci', ['repack', '--image', `${layout}:changed`, bundle]);
  await rm(bundle, { recursive: true });
  const hand = join(work, 'hand-layer.tar');
  await writeFile(hand, writeTar(handLayer()));
  await runTool('umoci', ['raw', 'add-layer', '--image', `${layout}:changed`, '--tag', 'final', hand]);
  return { layout, tag: 'final' };
}
