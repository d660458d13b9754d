import type { Timespec } from '../tree/types.js';
import { encodeRawName } from '../tar/raw-name.js';

/** One entry of a layer tar as {@link tarHeader} writes it. */
export interface LayerTarEntry {
  /** Relative path (raw-name string), no leading `/`; directories without a trailing `/`. */
  path: string;
  /** Tar type: `0` file, `1` hardlink, `2` symlink, `3` char, `4` block, `5` directory, `6` FIFO. */
  type: '0' | '1' | '2' | '3' | '4' | '5' | '6';
  /** Permission and special bits. */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of data that follow (files only). */
  size: number;
  mtime: Timespec;
  /** Written as PAX `atime` when given. */
  atime?: Timespec;
  /** Written as PAX `ctime` when given. */
  ctime?: Timespec;
  /** Symlink target or hardlink target path (raw-name string). */
  linkTarget?: string;
  devMajor?: number;
  devMinor?: number;
  /** Extended attributes, as PAX `SCHILY.xattr.NAME` records. */
  xattrs?: readonly (readonly [string, Uint8Array])[];
}

const BLOCK = 512;

/**
 * The header blocks of one entry: a PAX extended header when anything does not fit ustar (names
 * over 100 bytes, link targets over 100, nanoseconds or negative times, atime/ctime, ids or sizes
 * past octal, xattrs), then the ustar header. Times in PAX are formatted as Go's archive/tar does
 * (`SEC.NNNNNNNNN` with trailing zeros trimmed), so Go readers (containerd, umoci) read them exactly.
 *
 * @example
 * ```ts
 * const head = tarHeader({ path: 'etc/motd', type: '0', mode: 0o644, uid: 0, gid: 0, size: 6, mtime: { sec: 1, nsec: 5 } });
 * ```
 */
export function tarHeader(e: LayerTarEntry): Uint8Array {
  const name = encodeRawName(e.type === '5' ? `${e.path}/` : e.path);
  const link = e.linkTarget === undefined ? new Uint8Array(0) : encodeRawName(e.linkTarget);
  const pax: [string, Uint8Array][] = [];
  const text = (s: string): Uint8Array => Buffer.from(s, 'utf8');
  if (name.length > 100) pax.push(['path', name]);
  if (link.length > 100) pax.push(['linkpath', link]);
  if (e.mtime.nsec !== 0 || e.mtime.sec < 0 || e.mtime.sec > 0o77777777777) pax.push(['mtime', text(paxTime(e.mtime))]);
  if (e.atime !== undefined) pax.push(['atime', text(paxTime(e.atime))]);
  if (e.ctime !== undefined) pax.push(['ctime', text(paxTime(e.ctime))]);
  if (e.uid > 0o7777777) pax.push(['uid', text(String(e.uid))]);
  if (e.gid > 0o7777777) pax.push(['gid', text(String(e.gid))]);
  if (e.size > 0o77777777777) pax.push(['size', text(String(e.size))]);
  for (const [k, v] of e.xattrs ?? []) pax.push([`SCHILY.xattr.${k}`, v]);
  const main = ustar(e, name, link);
  if (pax.length === 0) return main;
  const body = paxRecords(pax);
  const paxName = Buffer.concat([Buffer.from('PaxHeaders.0/'), Buffer.from(name.subarray(Math.max(0, name.length - 80)))]);
  const head = ustar({ path: '', type: '0', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: { sec: 0, nsec: 0 } }, paxName.subarray(0, 100), new Uint8Array(0), 'x');
  return Buffer.concat([head, body, new Uint8Array(padding(body.length)), main]);
}

/**
 * Zero bytes that pad `size` bytes of data to whole blocks.
 *
 * @example
 * ```ts
 * padding(700); // 324
 * ```
 */
export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/**
 * The two zero blocks that end an archive.
 *
 * @example
 * ```ts
 * out.write(TAR_END);
 * ```
 */
export const TAR_END = new Uint8Array(BLOCK * 2);

/**
 * A time as Go's archive/tar formats PAX times.
 *
 * @example
 * ```ts
 * paxTime({ sec: -2, nsec: 500_000_000 }); // '-1.5'
 * ```
 */
export function paxTime(t: Timespec): string {
  if (t.nsec === 0) return String(t.sec);
  let sec = t.sec;
  let nsec = t.nsec;
  let sign = '';
  if (sec < 0) { sign = '-'; sec = -(sec + 1); nsec = 1e9 - nsec; }
  return `${sign}${sec}.${String(nsec).padStart(9, '0')}`.replace(/0+$/, '');
}

function paxRecords(records: readonly [string, Uint8Array][]): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of records) {
    const rest = Buffer.byteLength(k) + v.length + 3; // ' ', '=', '\n'
    let len = rest + String(rest).length;
    if (String(len).length !== String(rest).length) len = rest + String(len).length;
    parts.push(Buffer.concat([Buffer.from(`${len} ${k}=`), Buffer.from(v), Buffer.from('\n')]));
  }
  return Buffer.concat(parts);
}

function ustar(e: LayerTarEntry, name: Uint8Array, link: Uint8Array, type: string = e.type): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.set(name.subarray(0, 100), 0);
  numeric(h, 100, 8, e.mode & 0o7777);
  numeric(h, 108, 8, Math.min(e.uid, 0o7777777));
  numeric(h, 116, 8, Math.min(e.gid, 0o7777777));
  numeric(h, 124, 12, e.size > 0o77777777777 ? 0 : e.size);
  numeric(h, 136, 12, Math.max(0, Math.min(e.mtime.sec, 0o77777777777)));
  h.write(type, 156, 'latin1');
  h.set(link.subarray(0, 100), 157);
  h.write('ustar\u000000', 257, 'latin1');
  numeric(h, 329, 8, e.devMajor ?? 0);
  numeric(h, 337, 8, e.devMinor ?? 0);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1');
  return h;
}

/** An octal field (NUL-terminated), or base-256 when the value does not fit. */
function numeric(h: Buffer, at: number, width: number, value: number): void {
  const octal = value.toString(8);
  if (octal.length <= width - 1) {
    h.write(octal.padStart(width - 1, '0'), at, 'latin1');
    return;
  }
  let v = BigInt(value);
  for (let i = width - 1; i > 0; i--) { h[at + i] = Number(v & 0xffn); v >>= 8n; }
  h[at] = 0x80;
}
