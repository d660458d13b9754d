import { Cap, capabilityXattr } from './capability.js';
import { blockDevice, charDevice, dir, fifo, file, hardlink, opaque, symlink, whiteout } from './entries.js';
import type { TarRecord } from './tar-writer.js';

/** A path component of 60 bytes, to make names over ustar's 100-byte limit. */
const LONG = 'l'.repeat(60);

/**
 * Three layers (base first) exercising everything a layer reader must handle:
 * every entry type; modes with setuid, setgid and sticky bits; owners beyond ustar's octal range
 * (PAX `uid` and GNU base-256); a fractional mtime; xattrs including a binary `security.capability`
 * (CAP_NET_RAW) and one on a directory; PAX and GNU long names and link names (> 100 bytes);
 * whiteouts of a file and of a directory; an opaque marker placed after its directory's new
 * children; a hardlink to a file of a lower layer and one within a layer; a directory over a
 * directory (new attributes, children kept); a file replacing a symlink and a directory replaced
 * by a file. Compare an unpacked image with `expectedTree(kitchenSinkLayers())`.
 *
 * @example
 * ```ts
 * const img = await buildImage({ layers: kitchenSinkLayers().map((entries) => ({ entries })) });
 * ```
 */
export function kitchenSinkLayers(): TarRecord[][] {
  const cap = capabilityXattr([Cap.NET_RAW]);
  const layer0: TarRecord[] = [
    dir('etc'),
    file('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n'),
    file('etc/motd', 'welcome\n'),
    file('etc/shadow', 'root:*:19000::::::\n', { mode: 0o640, gid: 42, gname: 'shadow' }),
    dir('etc/keep'),
    file('etc/keep/a', 'a'),
    dir('usr'),
    dir('usr/bin'),
    file('usr/bin/ping', { seed: 1, size: 3000 }, { mode: 0o4755, xattrs: { 'security.capability': cap, 'user.note': 'ping' } }),
    file('usr/bin/tool', { seed: 2, size: 100_000 }, { mode: 0o755 }),
    symlink('usr/bin/ping6', 'ping'),
    symlink('usr/bin/abs', '/usr/bin/tool'),
    dir('var'),
    dir('var/cache', { xattrs: { 'user.dir': 'cache' } }),
    file('var/cache/old1', 'old'),
    dir('var/cache/sub'),
    file('var/cache/sub/x', 'x'),
    dir('dev'),
    charDevice('dev/null', 1, 3, { mode: 0o666 }),
    blockDevice('dev/loop0', 7, 0, { mode: 0o660, gid: 6 }),
    dir('run'),
    fifo('run/initctl', { mode: 0o600 }),
    dir('tmp', { mode: 0o1777 }),
    dir('srv', { mode: 0o2775, uid: 1000, gid: 1000 }),
    file('srv/owned', 'mine', { mode: 0o600, uid: 1000, gid: 1000, uname: 'user', gname: 'user' }),
    file('srv/big-uid-pax', 'p', { uid: 3_000_000, gid: 3_000_001 }),
    file('srv/big-uid-gnu', 'g', { uid: 4_000_000, gid: 4_000_001, longName: 'gnu' }),
    file('srv/frac-mtime', 'f', { mtime: 1_700_000_000.5 }),
    dir('long'),
    dir(`long/${LONG}`),
    file(`long/${LONG}/${LONG}-pax.txt`, 'pax long name', { longName: 'pax' }),
    file(`long/${LONG}/${LONG}-gnu.txt`, 'gnu long name', { longName: 'gnu' }),
    file(`long/${LONG}/${LONG}-ustar.txt`, 'ustar prefix split', { longName: 'ustar' }),
    symlink('long/to-pax', `${LONG}/${LONG}-pax.txt`, { longName: 'pax' }),
    symlink('long/to-gnu', `${LONG}/${LONG}-gnu.txt`, { longName: 'gnu' }),
    hardlink('long/hl-pax', `long/${LONG}/${LONG}-pax.txt`, { longName: 'pax' }),
    dir('replace-me'),
    file('replace-me/child', 'c'),
  ];
  const layer1: TarRecord[] = [
    dir('etc', { mode: 0o750 }),
    whiteout('etc/motd'),
    file('etc/passwd', 'root:x:0:0:root:/root:/bin/ash\nuser:x:1000:1000::/home/user:/bin/sh\n'),
    whiteout('etc/keep'),
    dir('var/cache', { xattrs: { 'user.dir': 'cache2' } }),
    file('var/cache/new', 'new'),
    opaque('var/cache'),
    hardlink('usr/bin/ping-hl', 'usr/bin/ping'),
    file('usr/bin/ping6', 'now a file', { mode: 0o755 }),
    file(`long/${LONG}/${LONG}-pax.txt`, 'replaced pax long name', { longName: 'pax' }),
  ];
  const layer2: TarRecord[] = [
    file('replace-me', 'a file now'),
    file('usr/bin/same-layer', 'same', { mode: 0o700 }),
    hardlink('usr/bin/same-layer-hl', 'usr/bin/same-layer', { longName: 'gnu' }),
    whiteout(`long/${LONG}/${LONG}-gnu.txt`),
  ];
  return [layer0, layer1, layer2];
}
