// Fuzz targets for the tar reader: mutated archives (headers, PAX, GNU long names, sparse maps)
// and generated PAX records. Oracle: the same bytes parsed in one chunk and in random chunks give
// the same entries (or the same error), and every entry's data lies inside the archive.
import { storedSize, type TarEntry } from '../../src/tar/entry.js';
import { parsePax } from '../../src/tar/pax.js';
import { parseTar, TarStreamParser } from '../../src/tar/parser.js';
import { dir, extendedHeader, file, fifo, gnuLongHeader, hardlink, charDevice, sparseFile, symlink, writeTar } from '../../src/testing/builder/index.js';
import type { FuzzTarget, Rand } from './harness.js';
import { mutateBytes } from './harness.js';

function seedTars(): Uint8Array[] {
  return [
    writeTar([dir('etc'), file('etc/hosts', '127.0.0.1 localhost\n', { uid: 1000, uname: 'me', xattrs: { 'user.a': 'b' } }), symlink('etc/link', 'hosts'), hardlink('etc/hard', 'etc/hosts'), fifo('p'), charDevice('dev/null', 1, 3)]),
    writeTar([file('a/' + 'long-name/'.repeat(20) + 'f', 'pax long name'), file('b/' + 'x'.repeat(150), 'gnu', { longName: 'gnu' }), file('t', 'times', { mtime: 1.5 })]),
    writeTar([extendedHeader([['comment', 'c']]), extendedHeader([['path', 'wins']]), file('lost', 'x'), gnuLongHeader('L', 'gnu/long/name'), file('short', 'y')]),
    writeTar([sparseFile('s0', { size: 8192, segments: [[0, 'abc'], [4096, 'def']], format: 'pax-0.0' }), sparseFile('s1', { size: 9000, segments: [[1024, 'x'.repeat(512)], [8192, 'z']], format: 'pax-1.0' }), sparseFile('s2', { size: 5000, segments: [[512, 'q']], format: 'gnu-old' })]),
    writeTar([extendedHeader([['SCHILY.xattr.security.capability', '\u0001\u0000\u0000\u0002'], ['uid', '4294967296'], ['mtime', '-1.25']]), file('cap', 'ping')]),
  ];
}

const SEEDS = seedTars();

/** Where most mutations go: the header blocks (first 512 bytes of a block, any block). */
function headerFocus(r: Rand, length: number): number {
  const block = r.int(Math.max(1, Math.floor(length / 512)));
  return Math.min(length - 1, block * 512 + r.pick([r.int(100), 100 + r.int(24), 124 + r.int(12), 136 + r.int(12), 148 + r.int(8), 156, 157 + r.int(100), 257 + r.int(8), 345 + r.int(155), r.int(512)]));
}

/** The entries (or the error message) of `bytes` parsed through chunks of random sizes. */
function parseChunked(bytes: Uint8Array, r: Rand): TarEntry[] {
  const entries: TarEntry[] = [];
  const parser = new TarStreamParser((e) => entries.push(e));
  let at = 0;
  while (at < bytes.length) {
    const n = 1 + r.int(r.chance(0.5) ? 700 : 5000);
    parser.push(bytes.subarray(at, at + n));
    at += n;
  }
  parser.end();
  return entries;
}

function outcome(fn: () => TarEntry[]): { entries?: TarEntry[]; error?: string } {
  try {
    return { entries: fn() };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** Checks the oracle; throws the typed error of the one-shot parse, or a plain Error for a bug. */
function judgeTar(bytes: Uint8Array, r: Rand): void {
  const whole = outcome(() => parseTar(bytes));
  const chunked = outcome(() => parseChunked(bytes, r));
  if (JSON.stringify(whole, replacer) !== JSON.stringify(chunked, replacer)) {
    throw new Error(`one-shot and chunked parses differ: ${JSON.stringify(whole, replacer).slice(0, 300)} vs ${JSON.stringify(chunked, replacer).slice(0, 300)}`);
  }
  if (whole.error !== undefined) {
    parseTar(bytes); // rethrows the (typed) error
    return;
  }
  for (const e of whole.entries!) {
    if (e.dataOffset % 512 !== 0 && e.sparse === undefined) throw new Error(`entry '${e.path}' has data at ${e.dataOffset}, not on a block`);
    if (e.dataOffset + storedSize(e) > bytes.length) throw new Error(`entry '${e.path}' has data past the archive (${e.dataOffset} + ${storedSize(e)} > ${bytes.length})`);
    if (e.path.startsWith('/') || e.path.endsWith('/')) throw new Error(`entry path '${e.path}' is not normalised`);
    if (!Number.isSafeInteger(e.size) || e.size < 0) throw new Error(`entry '${e.path}' has size ${e.size}`);
  }
}

function replacer(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Buffer.from(value).toString('hex') : value;
}

/** Mutated archives. */
export const tarMutationTarget: FuzzTarget<Uint8Array> = {
  name: 'tar headers (mutation)',
  ciCases: 2500,
  generate: (r) => mutateBytes(r.pick(SEEDS), r, 1 + r.int(5), headerFocus),
  run: (bytes, r) => judgeTar(bytes, r),
};

const PAX_KEYS = ['path', 'linkpath', 'size', 'uid', 'gid', 'uname', 'gname', 'mtime', 'atime', 'ctime', 'SCHILY.xattr.user.x', 'SCHILY.xattr.', 'GNU.sparse.major', 'GNU.sparse.minor', 'GNU.sparse.name', 'GNU.sparse.size', 'GNU.sparse.realsize', 'GNU.sparse.map', 'GNU.sparse.offset', 'GNU.sparse.numbytes', 'GNU.sparse.numblocks', 'comment', 'hdrcharset', ''];

function paxValue(r: Rand): string {
  return r.pick([
    '', '0', '1', '-1', '1.5', '-1.25', '1e3', '0x10', ' 1', '9'.repeat(30), '-9223372036854775808', '9223372036854775807', '18446744073709551616',
    '0,0', '0,512,1024,512', '1,2,3', 'a/b', '/abs', '../up', 'x'.repeat(r.int(3000)), 'nul\u0000in', '\u00ff\u00fe', '1.' + '9'.repeat(20), '.5', '-.5', '1.',
  ]);
}

/** One generated PAX payload: records with right or wrong lengths. */
function paxPayload(r: Rand): Uint8Array {
  const parts: string[] = [];
  const n = 1 + r.int(6);
  for (let i = 0; i < n; i++) {
    const key = r.pick(PAX_KEYS);
    const body = ` ${key}=${paxValue(r)}\n`;
    let len = Buffer.byteLength(body);
    len += String(len).length;
    if (String(len).length !== String(len - String(len - 1).length).length) len = Buffer.byteLength(body) + String(len).length;
    const lenText = r.chance(0.8) ? String(len) : r.pick([String(len + 1), String(len - 1), '0', '-5', 'x', '', '99999999', String(len) + ' ']);
    parts.push(lenText + body);
  }
  let text = parts.join('');
  if (r.chance(0.1)) text += '\u0000\u0000';
  return new TextEncoder().encode(text);
}

/** Generated PAX records, parsed alone and in front of an entry. */
export const paxGenerationTarget: FuzzTarget<Uint8Array> = {
  name: 'PAX records (generation)',
  ciCases: 2500,
  generate: (r) => paxPayload(r),
  run: (payload, r) => {
    parsePax(payload, 0);
    const tar = writeTar([extendedHeader(payload, { type: r.chance(0.2) ? 'g' : 'x' }), file('f', 'data'), file('g', 'more')]);
    judgeTar(tar, r);
  },
};
