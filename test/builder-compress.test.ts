import { gunzipSync, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { compress, compressibleBytes, crc32, file, randomBytes, runTool, writeTar, type Compression } from '../src/testing/builder/index.js';

/** Splits a gzip stream into members with node:zlib as the deflate oracle; returns each member's size. */
function gzipMembers(blob: Uint8Array): number[] {
  const sizes: number[] = [];
  let at = 0;
  while (at < blob.length) {
    expect([blob[at], blob[at + 1], blob[at + 2]]).toEqual([0x1f, 0x8b, 8]);
    const flags = blob[at + 3]!;
    let p = at + 10;
    if (flags & 4) p += 2 + (blob[p]! | (blob[p + 1]! << 8));
    if (flags & 8) while (blob[p++] !== 0);
    if (flags & 16) while (blob[p++] !== 0);
    if (flags & 2) p += 2;
    const { engine } = inflateRawSync(blob.subarray(p), { info: true }) as unknown as { engine: { bytesWritten: number } };
    const end = p + engine.bytesWritten + 8;
    sizes.push(end - at);
    at = end;
  }
  return sizes;
}

function countMarkers(blob: Uint8Array): number {
  return Buffer.from(blob).toString('latin1').split('\u0000\u0000\u00ff\u00ff').length - 1;
}

// A tar of ~600 KiB mixing incompressible and text-like data.
const tar = writeTar([file('random.bin', { seed: 3, size: 300_000 }), file('text.txt', { seed: 4, size: 300_000, kind: 'text' })]);

async function decompress(blob: Uint8Array, family: 'gzip' | 'zstd' | 'none'): Promise<Uint8Array> {
  if (family === 'gzip') return new Uint8Array(gunzipSync(blob));
  if (family === 'zstd') return (await runTool('zstd', ['-d', '-q', '-c'], { input: blob })).stdout;
  return blob;
}

describe('compress', () => {
  const cases: Array<[Compression, 'gzip' | 'zstd' | 'none']> = [
    ['none', 'none'],
    ['gzip', 'gzip'],
    [{ kind: 'gzip', level: 1 }, 'gzip'],
    [{ kind: 'gzip', level: 9 }, 'gzip'],
    ['gzip-multi', 'gzip'],
    ['gzip-sync', 'gzip'],
    ['pigz', 'gzip'],
    ['gnu-gzip', 'gzip'],
    ['zstd', 'zstd'],
    [{ kind: 'zstd', level: 10 }, 'zstd'],
  ];
  for (const [c, family] of cases) {
    it(`round trips ${JSON.stringify(c)} and is deterministic`, async () => {
      const blob = await compress(tar, c);
      const back = await decompress(blob, family);
      expect(Buffer.from(back).equals(Buffer.from(tar))).toBe(true);
      if (family !== 'none') expect(blob.length).toBeLessThan(tar.length);
      const again = await compress(tar, c);
      expect(Buffer.from(again).equals(Buffer.from(blob))).toBe(true);
    });
  }

  it('gzip levels differ in output (level 1 is larger than 9 on text)', async () => {
    const text = compressibleBytes(9, 200_000);
    const l1 = await compress(text, { kind: 'gzip', level: 1 });
    const l9 = await compress(text, { kind: 'gzip', level: 9 });
    expect(l1.length).toBeGreaterThan(l9.length);
    await expect(compress(text, { kind: 'gzip', level: 10 })).rejects.toThrow(/level/);
  });

  it('gzip-multi writes exactly N members that each decompress to a slice', async () => {
    const blob = await compress(tar, { kind: 'gzip-multi', members: 5 });
    const sizes = gzipMembers(blob);
    expect(sizes.length).toBe(5);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(blob.length);
    let at = 0;
    let out = 0;
    const part = Math.ceil(tar.length / 5);
    for (const s of sizes) {
      const member = gunzipSync(blob.subarray(at, at + s));
      expect(member.equals(Buffer.from(tar.subarray(out, out + part)))).toBe(true);
      at += s;
      out += member.length;
    }
    expect(out).toBe(tar.length);
    expect(gzipMembers(await compress(tar, 'gzip'))).toHaveLength(1);
  });

  it('gzip-sync is one member with a byte-aligned 00 00 ff ff marker per flushed part', async () => {
    const every = 32 * 1024;
    const blob = await compress(tar, { kind: 'gzip-sync', flushEvery: every });
    expect(gzipMembers(blob)).toHaveLength(1);
    const parts = Math.ceil(tar.length / every);
    expect(countMarkers(blob)).toBeGreaterThanOrEqual(parts);
    // The trailer is the CRC-32 and size of the tar.
    const view = Buffer.from(blob.subarray(blob.length - 8));
    expect(view.readUInt32LE(0)).toBe(crc32(tar));
    expect(view.readUInt32LE(4)).toBe(tar.length);
    // GNU gzip output of the same data has (almost surely) none of these markers between blocks.
    const gnu = await compress(tar, 'gnu-gzip');
    expect(countMarkers(gnu)).toBeLessThan(3);
  });

  it('gzip-sync parts are independently inflatable with the previous 32 KiB as dictionary (pgzip style)', async () => {
    const data = randomBytes(11, 3 * 4096 + 100);
    const every = 4096;
    const blob = await compress(data, { kind: 'gzip-sync', flushEvery: every });
    // Find the second marker and resume inflation right after it, with the preceding output as window.
    const raw = Buffer.from(blob.subarray(10, blob.length - 8));
    const firstMarker = raw.indexOf(Buffer.from([0, 0, 0xff, 0xff]));
    expect(firstMarker).toBeGreaterThan(0);
    const head = inflateRawSync(raw.subarray(0, firstMarker + 4), { finishFlush: 2 /* Z_SYNC_FLUSH */ });
    expect(head.length).toBe(every);
    const rest = inflateRawSync(raw.subarray(firstMarker + 4), { dictionary: Buffer.from(data.subarray(0, every)) });
    expect(Buffer.from(rest).equals(Buffer.from(data.subarray(every)))).toBe(true);
  });

  it('crc32 matches gzip\'s trailer from node:zlib', async () => {
    const blob = await compress(tar, 'gzip');
    expect(Buffer.from(blob.subarray(blob.length - 8)).readUInt32LE(0)).toBe(crc32(tar));
  });
});
