import { describe, expect, it } from 'vitest';
import { MediaType } from '../src/image/media-types.js';
import { buildIndex } from '../src/layer/build-index.js';
import { BufferSource } from '../src/source/read-at.js';
import { capabilityXattr, Cap, compress, dir, file, hardlink, sha256Digest, symlink, writeTar, type Compression, type TarRecord } from '../src/testing/builder/index.js';
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
