import { describe, expect, it } from 'vitest';
import { MediaType } from '../src/image/media-types.js';
import { encodeIndex } from '../src/layer-index/encode.js';
import type { LayerIndex } from '../src/layer-index/layer-index.js';
import { buildIndex } from '../src/layer/build-index.js';
import { BufferSource } from '../src/source/read-at.js';
import type { TarEntry } from '../src/tar/entry.js';
import { decodeRawName } from '../src/tar/raw-name.js';
import { capabilityXattr, Cap, compress, dir, file, hardlink, sha256Digest, sparseFile, symlink, writeTar, type Compression, type TarRecord } from '../src/testing/builder/index.js';
import { validateIndex } from '../src/testing/validate-index.js';

const MiB = 1024 * 1024;
const RECORDS: TarRecord[] = [dir('usr'), dir('usr/lib')];
for (let i = 0; i < 24; i++) RECORDS.push(file(`usr/lib/f${i}`, { seed: i + 7, size: 48 * 1024 + i * 997, kind: i % 3 === 0 ? 'random' : 'text' }));
RECORDS.push(
  file(`usr/share/${'long-name-'.repeat(14)}`, 'long', { longName: 'gnu' }),
  file('usr/bin/ping', { seed: 99, size: 3000 }, { mode: 0o4755, xattrs: { 'security.capability': capabilityXattr([Cap.NET_RAW]) } }),
  hardlink('usr/bin/ping6', 'usr/bin/ping'),
  symlink('usr/bin/p', 'ping'),
);
const TAR = writeTar(RECORDS);

const CASES: Array<[string, Compression, string]> = [
  ['gzip -1', { kind: 'gzip', level: 1 }, MediaType.OCI_LAYER_GZIP],
  ['gzip -6 (GNU)', 'gnu-gzip', MediaType.OCI_LAYER_GZIP],
  ['gzip -9', { kind: 'gzip', level: 9 }, MediaType.OCI_LAYER_GZIP],
  ['pigz', 'pigz', MediaType.OCI_LAYER_GZIP],
  ['multi-member', { kind: 'gzip-multi', members: 5 }, MediaType.OCI_LAYER_GZIP],
  ['sync-flushed (Go style)', { kind: 'gzip-sync', flushEvery: 16 * 1024 }, MediaType.OCI_LAYER_GZIP],
  ['uncompressed', 'none', MediaType.OCI_LAYER],
];

describe('validateIndex: every checkpoint, span digest and entry of a built index is right', () => {
  it.each(CASES)('%s, read in odd chunk sizes', async (_name, compression, mediaType) => {
    const blob = await compress(TAR, compression);
    const descriptor = { mediaType, digest: sha256Digest(blob), size: blob.length };
    for (const readSize of [321, 65_537, 4 * MiB]) {
      const built = await buildIndex(new BufferSource(blob), descriptor, { span: 96 * 1024, readSize });
      expect(built.stats.checkpoints, `readSize ${readSize}`).toBeGreaterThan(3);
      expect(validateIndex(built.bytes, blob), `readSize ${readSize}`).toEqual([]);
    }
  });

  it('refuses an index checked against another layer or against altered bytes', async () => {
    const blob = await compress(TAR, 'gzip');
    const descriptor = { mediaType: MediaType.OCI_LAYER_GZIP, digest: sha256Digest(blob), size: blob.length };
    const built = await buildIndex(new BufferSource(blob), descriptor, { span: 96 * 1024 });
    const other = await compress(TAR, { kind: 'gzip', level: 1 });
    expect(() => validateIndex(built.bytes, other)).toThrow(/digest|layer/i);
    const corrupt = Uint8Array.from(blob);
    corrupt[Math.floor(blob.length / 2)]! ^= 0xff;
    const bound = await buildIndex(new BufferSource(blob), descriptor, { span: 96 * 1024 });
    // The same index against a blob whose bytes changed: bound to the digest, so it refuses.
    expect(() => validateIndex(bound.bytes, corrupt)).toThrow();
  });
});

describe('checkpoint windows are trimmed to what the next 32 KiB of output refers to', () => {
  it('keeps no window on random data, the whole window on text, and every checkpoint resumes exactly', async () => {
    const text = writeTar([file('t.txt', { seed: 5, size: 4 * MiB, kind: 'text' })]);
    const random = writeTar([file('r.bin', { seed: 6, size: 4 * MiB })]);
    for (const [tar, expectEmpty] of [[text, false], [random, true]] as const) {
      const blob = await compress(tar, 'gnu-gzip');
      const descriptor = { mediaType: MediaType.OCI_LAYER_GZIP, digest: sha256Digest(blob), size: blob.length };
      const built = await buildIndex(new BufferSource(blob), descriptor, { span: 256 * 1024 });
      const windows = built.index.checkpointPositions().slice(1).map((_, i) => built.index.window(i + 1)?.length ?? 0);
      expect(windows.length, 'checkpoints after the first').toBeGreaterThan(1);
      // Random bytes have no back-references, so no history is kept; text refers back across the
      // whole 32 KiB, so its windows stay whole. Either way every checkpoint resumes exactly.
      expect(windows.every((w) => w === (expectEmpty ? 0 : 32 * 1024)), windows.join(',')).toBe(true);
      expect(validateIndex(built.bytes, blob)).toEqual([]);
    }
  });
});

describe('validateIndex compares exact times, sparse maps and raw names', () => {
  const raw = Uint8Array.of(0x61, 0xff, 0xfe);
  const records: TarRecord[] = [
    dir(raw, { mtimeNs: 1_700_000_000_123_456_789n, atimeNs: 1_700_000_100_000_000_001n, ctimeNs: 1_700_000_200_999_999_999n }),
    file(Uint8Array.of(0x61, 0xff, 0xfe, 0x2f, 0x62, 0xe9), 'x', { mtimeNs: -1_500_000_000n }),
    symlink('link', Uint8Array.of(0x2e, 0x2e, 0x2f, 0xc3, 0x28)),
    sparseFile('holes-1.0', { size: 1 << 20, segments: [[4096, 'abc'], [65536, { seed: 1, size: 700 }]], format: 'pax-1.0' }),
    sparseFile('holes-old', { size: 300_000, segments: [[0, 'head'], [200_000, 'tail']], format: 'gnu-old' }),
    file('after', 'z'),
  ];

  /** The index again, with its entries changed by `edit` (layer, checkpoints and digests kept). */
  function reencode(index: LayerIndex, edit: (entries: TarEntry[]) => void): Uint8Array {
    const entries = index.entries().map((e) => ({ ...e }));
    edit(entries);
    const checkpoints = index.checkpointPositions().map((_, i) => index.checkpoint(i));
    const spanDigests = checkpoints.map((_, i) => index.spanDigest(i).slice());
    return encodeIndex({ layer: index.layer, entries, checkpoints, spanDigests });
  }

  it('accepts the index built from the layer, and names each field an altered index gets wrong', async () => {
    const blob = await compress(writeTar(records), 'gzip');
    const descriptor = { mediaType: MediaType.OCI_LAYER_GZIP, digest: sha256Digest(blob), size: blob.length };
    const built = await buildIndex(new BufferSource(blob), descriptor, { span: 64 * 1024 });
    const entries = built.index.entries();
    // The layer has what the checks are about, so that they compare something.
    const at = (path: string): number => entries.findIndex((e) => e.path === path);
    const rawDir = at(decodeRawName(raw));
    expect(entries[rawDir]).toMatchObject({ mtime: 1_700_000_000, mtimeNsec: 123_456_789, atime: 1_700_000_100, atimeNsec: 1, ctime: 1_700_000_200, ctimeNsec: 999_999_999 });
    expect(entries[at(`${decodeRawName(raw)}/b\udce9`)]).toMatchObject({ mtime: -2, mtimeNsec: 500_000_000 });
    expect(entries[at('holes-1.0')]!.sparse).toEqual([4096, 3, 65536, 700]);
    expect(entries[at('holes-old')]!.sparse).toEqual([0, 4, 200_000, 4]);
    expect(validateIndex(built.bytes, blob)).toEqual([]);

    const hole = at('holes-old');
    const cases: Array<[RegExp, (e: TarEntry[]) => void]> = [
      [/mtimeNsec is 123456788/, (e) => { e[rawDir]!.mtimeNsec -= 1; }],
      [/mtime is -1,/, (e) => { e[rawDir + 1]!.mtime += 1; }],
      [/atime is undefined/, (e) => { delete e[rawDir]!.atime; delete e[rawDir]!.atimeNsec; }],
      [/atimeNsec is 2/, (e) => { e[rawDir]!.atimeNsec = 2; }],
      [/ctime is 1700000201/, (e) => { e[rawDir]!.ctime! += 1; }],
      [/ctimeNsec is 0/, (e) => { e[rawDir]!.ctimeNsec = 0; }],
      [/atime is 0/, (e) => { e[at('after')]!.atime = 0; e[at('after')]!.atimeNsec = 0; }],
      [/sparse is \[0, 4, 200000, 5\]/, (e) => { e[hole]!.sparse = [0, 4, 200_000, 5]; }],
      [/sparse is none/, (e) => { delete e[hole]!.sparse; }],
      [/path is a\ufffd\ufffd/, (e) => { e[rawDir]!.path = 'a\ufffd\ufffd'; }],
      [/linkTarget is \.\.\/\ufffd\(/, (e) => { e[at('link')]!.linkTarget = '../\ufffd('; }],
    ];
    for (const [expected, edit] of cases) {
      const problems = validateIndex(reencode(built.index, edit), blob);
      expect(problems.some((p) => expected.test(p)), `${String(expected)} in ${JSON.stringify(problems)}`).toBe(true);
    }
  });
});
