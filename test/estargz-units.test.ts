// eStargz without a registry: the test writer against GNU tar and node:zlib, footer and TOC
// parsing (current and legacy footers), TOC verification, chunk reads and their verification.
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { EstargzChunkReader, parseEstargzFooter, readEstargzFooter, readEstargzToc, tocToLayout, ESTARGZ_TOC_DIGEST } from '../src/estargz/index.js';
import { MediaType } from '../src/image/media-types.js';
import type { Descriptor } from '../src/image/types.js';
import { BufferSource, type ReadAtSource } from '../src/source/read-at.js';
import { parseRfc3339, tocEntryToTarEntry } from '../src/estargz/toc-entries.js';
import { contentBytes, dir, file, hardlink, runTool, sha256Digest, symlink, writeEstargz, charDevice } from '../src/testing/builder/index.js';

const BIG = { seed: 11, size: 50_000 } as const;
const records = [
  dir('etc'),
  file('etc/hosts', '127.0.0.1 localhost\n', { uid: 7, gid: 8, uname: 'u', gname: 'g', mode: 0o640 }),
  file('big.bin', BIG, { xattrs: { 'user.k': 'v' } }),
  file('empty', ''),
  symlink('etc/link', 'hosts'),
  hardlink('etc/hosts2', 'etc/hosts'),
  charDevice('null', 1, 3),
];

function descriptorOf(blob: Uint8Array, tocDigest?: string): Descriptor {
  return { mediaType: MediaType.OCI_LAYER_GZIP, digest: sha256Digest(blob), size: blob.length, ...(tocDigest === undefined ? {} : { annotations: { [ESTARGZ_TOC_DIGEST]: tocDigest } }) };
}

/** A source that counts reads. */
function counting(bytes: Uint8Array): ReadAtSource & { reads: Array<[number, number]> } {
  const inner = new BufferSource(bytes);
  const reads: Array<[number, number]> = [];
  return { size: inner.size, reads, readAt: async (o, l, opts) => { reads.push([o, l]); return inner.readAt(o, l, opts); } };
}

describe('the eStargz test writer', () => {
  it('writes a blob that GNU tar lists and whose gunzip is the tar of diffId', async () => {
    const e = writeEstargz(records, { chunkSize: 4096, landmark: 'prefetch' });
    const tar = new Uint8Array(gunzipSync(e.blob));
    expect(sha256Digest(tar)).toBe(e.diffId);
    expect(Buffer.from(tar).equals(Buffer.from(e.tar))).toBe(true);
    const listed = new TextDecoder().decode((await runTool('tar', ['-t'], { input: tar })).stdout).trim().split('\n');
    expect(listed).toEqual(['.prefetch.landmark', 'etc/', 'etc/hosts', 'big.bin', 'empty', 'etc/link', 'etc/hosts2', 'null', 'stargz.index.json']);
    // the big file is cut into ceil(50000/4096) = 13 chunks, each starting a gzip member
    expect(e.toc.entries.filter((x) => x.name === 'big.bin')).toHaveLength(13);
    expect(e.blob.length - e.tocOffset).toBeGreaterThan(51);
  });
});

describe('footer and TOC', () => {
  it('parses the 51-byte footer and the legacy 47-byte one', async () => {
    const e = writeEstargz(records);
    expect(await readEstargzFooter(new BufferSource(e.blob))).toEqual({ tocOffset: e.tocOffset, footerSize: 51 });
    const legacy = writeEstargz(records, { legacyFooter: true });
    expect(parseEstargzFooter(legacy.blob.subarray(legacy.blob.length - 51))).toEqual({ tocOffset: legacy.tocOffset, footerSize: 47 });
    const toc = await readEstargzToc(new BufferSource(legacy.blob), descriptorOf(legacy.blob, legacy.tocDigest));
    expect(toc.verified).toBe(true);
    expect(parseEstargzFooter(new Uint8Array(51))).toBeUndefined();
    await expect(readEstargzFooter(new BufferSource(gunzipSync(e.blob)))).rejects.toMatchObject({ code: 'DataLoss' });
  });

  it('reads the TOC with two reads, verifies it against the annotation, and reports unverified without one', async () => {
    const e = writeEstargz(records, { chunkSize: 4096 });
    const src = counting(e.blob);
    const read = await readEstargzToc(src, descriptorOf(e.blob, e.tocDigest));
    expect(src.reads).toEqual([[e.blob.length - 51, 51], [e.tocOffset, e.blob.length - 51 - e.tocOffset]]);
    expect(read.verified).toBe(true);
    expect(read.digest).toBe(e.tocDigest);
    expect(read.toc).toEqual(e.toc);
    const bare = await readEstargzToc(new BufferSource(e.blob), descriptorOf(e.blob));
    expect(bare.verified).toBe(false);
    const wrong = `sha256:${'0'.repeat(64)}`;
    await expect(readEstargzToc(new BufferSource(e.blob), descriptorOf(e.blob, wrong))).rejects.toMatchObject({ code: 'DataLoss' });
    // a corrupt TOC member
    const bad = e.blob.slice();
    bad[e.tocOffset + 20] ^= 0xff;
    await expect(readEstargzToc(new BufferSource(bad), descriptorOf(bad, e.tocDigest))).rejects.toMatchObject({ code: 'DataLoss' });
  });
});

describe('entries and chunk reads', () => {
  it('converts the TOC to tar entries and reads every file byte-exact over the virtual stream', async () => {
    const e = writeEstargz(records, { chunkSize: 4096, landmark: 'no-prefetch' });
    const layout = tocToLayout(e.toc as never, e.tocOffset, { subject: 'x' });
    const byPath = new Map(layout.entries.map((x) => [x.path, x]));
    expect([...byPath.keys()]).toEqual(['etc', 'etc/hosts', 'big.bin', 'empty', 'etc/link', 'etc/hosts2', 'null']);
    expect(byPath.get('etc/hosts')).toMatchObject({ type: 'file', mode: 0o640, uid: 7, gid: 8, uname: 'u', gname: 'g', mtime: 1_700_000_000, mtimeNsec: 0, size: 20, dataOffset: 0 });
    expect(byPath.get('big.bin')).toMatchObject({ size: BIG.size, dataOffset: 20 });
    expect(Buffer.from(byPath.get('big.bin')!.xattrs!['user.k']!).toString()).toBe('v');
    expect(byPath.get('etc/link')).toMatchObject({ type: 'symlink', linkTarget: 'hosts' });
    expect(byPath.get('etc/hosts2')).toMatchObject({ type: 'hardlink', linkTarget: 'etc/hosts', size: 0 });
    expect(byPath.get('null')).toMatchObject({ type: 'char', devMajor: 1, devMinor: 3 });
    expect(layout.size).toBe(20 + BIG.size);
    expect(tocToLayout(e.toc as never, e.tocOffset, { subject: 'x', showLandmarks: true }).entries[0]!.path).toBe('.no.prefetch.landmark');

    const src = counting(e.blob);
    const reader = new EstargzChunkReader(layout.chunks, layout.size, src, { subject: 'x', cacheBytes: 0 });
    const big = contentBytes(BIG);
    expect(Buffer.from(await reader.readAt(20, BIG.size)).equals(Buffer.from(big))).toBe(true);
    // all 13 members are adjacent: one coalesced read
    expect(src.reads).toHaveLength(1);
    src.reads.length = 0;
    // a read across a chunk boundary inside the big file: 2 chunks, 1 range
    const part = await reader.readAt(20 + 4000, 200);
    expect(Buffer.from(part).equals(Buffer.from(big.subarray(4000, 4200)))).toBe(true);
    expect(src.reads).toHaveLength(1);
    expect(src.reads[0]![1]).toBe(layout.chunks[2]!.memberEnd - layout.chunks[1]!.memberStart);
    expect(new TextDecoder().decode(await reader.readAt(0, 20))).toBe('127.0.0.1 localhost\n');
    expect(reader.stats.fetches).toBe(3);
  });

  it('refuses a chunk whose bytes fail their digest or do not inflate (DataLoss), serving no byte', async () => {
    const e = writeEstargz(records, { chunkSize: 4096 });
    const layout = tocToLayout(e.toc as never, e.tocOffset, { subject: 'x' });
    const lying = layout.chunks.map((c, i) => (i === 3 ? { ...c, digest: `sha256:${createHash('sha256').update('x').digest('hex')}` } : c));
    const reader = new EstargzChunkReader(lying, layout.size, new BufferSource(e.blob), { subject: 'x' });
    await expect(reader.readAt(0, layout.size)).rejects.toMatchObject({ code: 'DataLoss' });
    expect((await reader.readAt(0, 20)).length).toBe(20); // other chunks still read
    const bad = e.blob.slice();
    bad[layout.chunks[2]!.memberStart + 15] ^= 0x55;
    const broken = new EstargzChunkReader(layout.chunks, layout.size, new BufferSource(bad), { subject: 'x' });
    await expect(broken.readAt(layout.chunks[2]!.virtualOffset, 10)).rejects.toMatchObject({ code: 'DataLoss' });
  });

  it('rejects a TOC whose chunks cannot be verified (InvalidArgument)', () => {
    const e = writeEstargz(records, { chunkSize: 4096 });
    const toc = structuredClone(e.toc);
    delete toc.entries.find((x) => x.type === 'chunk')!.chunkDigest;
    expect(() => tocToLayout(toc as never, e.tocOffset, { subject: 'x' })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });
});

describe('TOC modtime: RFC 3339 to integer seconds and nanoseconds, exactly', () => {
  it('keeps all nine fraction digits (Date.parse would round to milliseconds)', () => {
    const entry = tocEntryToTarEntry({ name: 'f', type: 'reg', size: 0, modtime: '2023-11-14T22:13:20.123456789Z' }, 'x');
    expect([entry.mtime, entry.mtimeNsec]).toEqual([1_700_000_000, 123_456_789]);
    expect('atime' in entry || 'ctime' in entry).toBe(false);
  });

  it.each([
    ['2023-11-14T22:13:20Z', 1_700_000_000, 0],
    ['2023-11-14T22:13:20.5Z', 1_700_000_000, 500_000_000],
    ['2023-11-14T22:13:20.000000001Z', 1_700_000_000, 1],
    ['2023-11-14T22:13:20.1234567891234Z', 1_700_000_000, 123_456_789], // Go keeps nine digits
    ['2023-11-14T23:13:20.25+01:00', 1_700_000_000, 250_000_000],
    ['2023-11-14T16:43:20.999999999-05:30', 1_700_000_000, 999_999_999],
    ['1970-01-01T00:00:00Z', 0, 0],
    ['1969-12-31T23:59:59.5Z', -1, 500_000_000],
    ['0001-01-01T00:00:00Z', -62_135_596_800, 0], // Go's zero time; not 1901 as Date.UTC would make it
    ['0050-06-01T00:00:00Z', -62_135_596_800 + 18_048 * 86_400, 0], // 49 years with 12 leap days, then Jan-May
    ['2024-02-29T12:00:00Z', 1_709_208_000, 0],
    ['9999-12-31T23:59:59.999999999Z', 253_402_300_799, 999_999_999],
  ])('%s is %d s + %d ns', (text, sec, nsec) => {
    expect(parseRfc3339(text)).toEqual({ sec, nsec });
  });

  it.each(['2023-02-29T00:00:00Z', '2023-13-01T00:00:00Z', '2023-11-14T24:00:00Z', '2023-11-14T22:60:00Z', '2023-11-14T22:13:60Z', '2023-11-14T22:13:20', '2023-11-14 22:13:20Z', '2023-11-14T22:13:20.Z', '2023-11-14T22:13:20+24:00', '2023-11-14t22:13:20z'])(
    'refuses %s', (text) => {
      expect(parseRfc3339(text)).toBeUndefined();
    },
  );

  it('falls back to what Date.parse reads, then to the epoch, as before', () => {
    const loose = tocEntryToTarEntry({ name: 'f', type: 'dir', modtime: '2023-11-14T22:13:20.123' }, 'x'); // no zone: local time to Date.parse
    expect(loose.mtimeNsec).toBe(123_000_000);
    expect(loose.mtime).toBe(Math.floor(Date.parse('2023-11-14T22:13:20.123') / 1000));
    const junk = tocEntryToTarEntry({ name: 'f', type: 'dir', modtime: 'yesterday' }, 'x');
    expect([junk.mtime, junk.mtimeNsec]).toEqual([0, 0]);
    const none = tocEntryToTarEntry({ name: 'f', type: 'dir' }, 'x');
    expect([none.mtime, none.mtimeNsec]).toEqual([0, 0]);
  });
});
