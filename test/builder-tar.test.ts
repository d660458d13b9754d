import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BLOCK_SIZE,
  capabilityXattr,
  Cap,
  encodeGnuSparseExtension,
  encodeHeader,
  encodePaxRecords,
  extendedHeader,
  file,
  fixHeaderChecksum,
  formatPaxTime,
  formatPaxTimeNs,
  gnuLongHeader,
  headerChecksum,
  kitchenSinkLayers,
  randomBytes,
  rawNameBytes,
  runTool,
  sparseFile,
  splitUstarPath,
  writeBase256,
  writeTar,
  type TarRecord,
} from '../src/testing/builder/index.js';

interface Parsed {
  header: tarStream.Header & { pax?: Record<string, string> };
  data: Buffer;
}

async function parseWithTarStream(tar: Uint8Array, chunk = 321): Promise<Parsed[]> {
  const extract = tarStream.extract();
  const chunks: Buffer[] = [];
  for (let i = 0; i < tar.length; i += chunk) chunks.push(Buffer.from(tar.subarray(i, i + chunk)));
  Readable.from(chunks).pipe(extract);
  const out: Parsed[] = [];
  for await (const entry of extract) {
    const parts: Buffer[] = [];
    for await (const c of entry) parts.push(c as Buffer);
    out.push({ header: entry.header as Parsed['header'], data: Buffer.concat(parts) });
  }
  return out;
}

const TS_TYPE: Record<TarRecord['type'], string> = { file: 'file', dir: 'directory', symlink: 'symlink', hardlink: 'link', char: 'character-device', block: 'block-device', fifo: 'fifo' };

describe('random', () => {
  it('is deterministic per seed and differs between seeds', () => {
    expect(Buffer.from(randomBytes(7, 1001)).equals(Buffer.from(randomBytes(7, 1001)))).toBe(true);
    expect(Buffer.from(randomBytes(7, 64)).equals(Buffer.from(randomBytes(8, 64)))).toBe(false);
    // A prefix of a longer run is the shorter run.
    expect(Buffer.from(randomBytes(7, 1001).subarray(0, 13)).equals(Buffer.from(randomBytes(7, 13)))).toBe(true);
  });
});

describe('tar header codec', () => {
  it('writes a valid checksum, ustar magic and octal fields', () => {
    const h = encodeHeader({ name: 'etc/', mode: 0o755, uid: 1, gid: 2, size: 0, mtime: 1_700_000_000, typeflag: '5', format: 'ustar' });
    expect(h.length).toBe(BLOCK_SIZE);
    const stored = parseInt(Buffer.from(h.subarray(148, 154)).toString('latin1'), 8);
    expect(stored).toBe(headerChecksum(h));
    expect(h[154]).toBe(0);
    expect(h[155]).toBe(0x20);
    expect(Buffer.from(h.subarray(257, 265)).toString('latin1')).toBe('ustar\u000000');
    expect(Buffer.from(h.subarray(100, 108)).toString('latin1')).toBe('0000755\u0000');
    expect(Buffer.from(h.subarray(136, 148)).toString('latin1')).toBe(`${(1_700_000_000).toString(8).padStart(11, '0')}\u0000`);
  });

  it('uses base-256 for numbers beyond octal in GNU format', () => {
    const h = encodeHeader({ name: 'x', mode: 0o644, uid: 4_000_000, gid: 0, size: 0, mtime: 0, typeflag: '0', format: 'gnu' });
    expect(h[108]).toBe(0x80);
    expect(Buffer.from(h.subarray(109, 116)).readUIntBE(1, 6)).toBe(4_000_000);
    expect(Buffer.from(h.subarray(257, 265)).toString('latin1')).toBe('ustar  \u0000');
  });

  it('encodes PAX records whose length prefix is exact, across the digit boundary', () => {
    for (let n = 80; n < 120; n++) {
      const rec = encodePaxRecords([['path', 'p'.repeat(n)]]);
      const text = Buffer.from(rec).toString('latin1');
      expect(parseInt(text.slice(0, text.indexOf(' ')), 10)).toBe(rec.length);
      expect(text.endsWith('\n')).toBe(true);
    }
    const bin = encodePaxRecords([['SCHILY.xattr.security.capability', capabilityXattr([Cap.NET_RAW])]]);
    expect(bin.length).toBe(parseInt(Buffer.from(bin).toString('latin1'), 10));
    expect(Buffer.from(bin).includes(Buffer.from('0100000200200000000000000000000000000000', 'hex'))).toBe(true);
  });

  it('formats PAX times and splits ustar paths', () => {
    expect(formatPaxTime(1_700_000_000)).toBe('1700000000');
    expect(formatPaxTime(1_700_000_000.5)).toBe('1700000000.5');
    expect(formatPaxTime(1.25)).toBe('1.25');
    expect(splitUstarPath(`${'a'.repeat(120)}/b`)).toEqual({ prefix: 'a'.repeat(120), name: 'b' });
    expect(splitUstarPath('c'.repeat(130))).toBeUndefined();
  });
});

describe('writeTar', () => {
  const records = kitchenSinkLayers().flat();
  const tar = writeTar(records);

  it('ends with two zero blocks, is block aligned and deterministic', () => {
    expect(tar.length % BLOCK_SIZE).toBe(0);
    expect(tar.subarray(tar.length - 1024).every((b) => b === 0)).toBe(true);
    expect(Buffer.from(writeTar(records)).equals(Buffer.from(tar))).toBe(true);
    expect(writeTar([file('a', 'x')], { recordSize: 10240 }).length).toBe(10240);
  });

  it('contains PAX (x), GNU long name (L) and long link (K) headers and a ustar prefix split', () => {
    const flags = new Map<string, number>();
    let prefixed = 0;
    for (let at = 0; at + BLOCK_SIZE <= tar.length - 1024; ) {
      const h = tar.subarray(at, at + BLOCK_SIZE);
      const flag = String.fromCharCode(h[156]!);
      flags.set(flag, (flags.get(flag) ?? 0) + 1);
      if (h[345] !== 0 && flag === '0') prefixed++;
      const size = parseInt(Buffer.from(h.subarray(124, 135)).toString('latin1'), 8);
      at += BLOCK_SIZE + Math.ceil(size / BLOCK_SIZE) * BLOCK_SIZE;
    }
    expect(flags.get('x')).toBeGreaterThanOrEqual(5);
    expect(flags.get('L')).toBeGreaterThanOrEqual(1);
    expect(flags.get('K')).toBe(1);
    expect(prefixed).toBe(1);
    for (const f of ['0', '1', '2', '3', '4', '5', '6']) expect(flags.get(f)).toBeGreaterThan(0);
  });

  it('reads back in tar-stream (fed in 321-byte chunks) with every name, type, link and content', async () => {
    const parsed = await parseWithTarStream(tar);
    expect(parsed.length).toBe(records.length);
    records.forEach((r, i) => {
      const { header, data } = parsed[i]!;
      expect(header.name.replace(/\/$/, '')).toBe(r.path);
      expect(header.type).toBe(TS_TYPE[r.type]);
      expect(header.mode).toBe(r.mode);
      if (r.uid < 0o7777777 || r.longName === 'gnu') expect(header.uid).toBe(r.uid);
      else expect(header.pax?.uid).toBe(String(r.uid));
      if (r.linkTarget !== undefined) expect(header.linkname).toBe(r.linkTarget);
      if (r.type === 'char' || r.type === 'block') expect([header.devmajor, header.devminor]).toEqual([r.devMajor, r.devMinor]);
      expect(data.equals(Buffer.from(r.data ?? new Uint8Array(0)))).toBe(true);
      for (const [k, v] of Object.entries(r.xattrs ?? {})) {
        if (k.startsWith('user.')) expect(header.pax?.[`SCHILY.xattr.${k}`]).toBe(Buffer.from(v).toString());
      }
    });
    expect(parsed.find((p) => p.header.name === 'srv/frac-mtime')?.header.pax?.mtime).toBe('1700000000.5');
  });

  describe('GNU tar as a second reader', () => {
    let tmp: string;
    beforeAll(async () => {
      tmp = await mkdtemp(join(tmpdir(), 'builder-tar-'));
    });
    afterAll(async () => {
      await rm(tmp, { recursive: true, force: true });
    });

    it('lists the same names, owners and link targets', async () => {
      const path = join(tmp, 'l.tar');
      await writeFile(path, tar);
      const { stdout } = await runTool('tar', ['--numeric-owner', '-tvf', path]);
      const lines = Buffer.from(stdout).toString('utf8').trim().split('\n');
      expect(lines.length).toBe(records.length);
      records.forEach((r, i) => {
        const line = lines[i]!;
        expect(line).toContain(` ${r.uid}/${r.gid} `);
        const shown = r.type === 'dir' ? `${r.path}/` : r.path;
        expect(line).toContain(` ${shown}`);
        if (r.type === 'symlink') expect(line.endsWith(` -> ${r.linkTarget}`)).toBe(true);
        if (r.type === 'hardlink') expect(line.endsWith(` link to ${r.linkTarget}`)).toBe(true);
        expect(line[0]).toBe({ file: '-', dir: 'd', symlink: 'l', hardlink: 'h', char: 'c', block: 'b', fifo: 'p' }[r.type]);
      });
    });

    it('extracts binary security.capability xattrs bit for bit (tar --xattrs)', async () => {
      const path = join(tmp, 'cap.tar');
      const cap = capabilityXattr([Cap.NET_RAW, Cap.NET_BIND_SERVICE], { inheritable: [Cap.SYS_ADMIN] });
      await writeFile(path, writeTar([file('ping', 'x', { xattrs: { 'security.capability': cap } })]));
      const out = join(tmp, 'x');
      await runTool('mkdir', [out]);
      await runTool('tar', ['--xattrs', "--xattrs-include=*", '-xpf', path, '-C', out]);
      const { stdout } = await runTool('getfattr', ['-n', 'security.capability', '-e', 'hex', '--absolute-names', join(out, 'ping')]);
      expect(Buffer.from(stdout).toString()).toContain(`security.capability=0x${Buffer.from(cap).toString('hex')}`);
      // magic v2+effective | permitted lo (bits 10, 13) | inheritable lo (bit 21) | hi words
      expect(Buffer.from(cap).toString('hex')).toBe('01000002' + '00240000' + '00002000' + '00000000' + '00000000');
    });
  });
});

describe('writer features for hostile and exact archives', () => {
  const latin1 = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

  it('formats nanosecond PAX times as Go reads them, and base-256 negative numbers', () => {
    expect(formatPaxTimeNs(1_700_000_000_123_456_789n)).toBe('1700000000.123456789');
    expect(formatPaxTimeNs(-1_500_000_000n)).toBe('-1.500000000');
    expect(formatPaxTimeNs(-500_000_000n)).toBe('-0.500000000');
    expect(formatPaxTimeNs(0n)).toBe('0.000000000');
    const field = new Uint8Array(12);
    writeBase256(field, 0, 12, -1);
    expect([...field]).toEqual(new Array(12).fill(0xff));
    writeBase256(field, 0, 12, -100000);
    expect(Buffer.from(field).readIntBE(6, 6)).toBe(-100000);
    expect(field[0]).toBe(0xff);
    writeBase256(field, 0, 8, 2 ** 32 - 1);
    expect([...field.subarray(0, 8)]).toEqual([0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    const h = encodeHeader({ name: 'old', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: -86400, atime: 5, ctime: 6, typeflag: '0', format: 'gnu' });
    expect(h[136]).toBe(0xff);
    expect(latin1(h.subarray(345, 356))).toBe('00000000005');
    expect(latin1(h.subarray(357, 368))).toBe('00000000006');
  });

  it('writes names as exact bytes (Uint8Array or raw-byte strings)', () => {
    const raw = Uint8Array.of(0x61, 0xe9, 0xff);
    expect([...rawNameBytes('a\udce9\udcff')]).toEqual([...raw]);
    const r = file(raw, 'x');
    expect(r.path).toBe('a\udce9\udcff');
    const tar = writeTar([r]);
    expect([...tar.subarray(0, 4)]).toEqual([0x61, 0xe9, 0xff, 0]);
  });

  it('writes raw blocks verbatim: several x headers, global headers, GNU L/K, hostile payloads, endBlocks', async () => {
    const tar = writeTar([
      extendedHeader([['path', 'ignored'], ['uid', '5']]),
      extendedHeader([['path', 'from-pax']]),
      file('hdr-name', 'x'),
      extendedHeader([['comment', 'global']], { type: 'g' }),
      gnuLongHeader('L', 'from-gnu-L'),
      file('short', 'y'),
    ]);
    const parsed = await parseWithTarStream(tar);
    expect(parsed.map((p) => p.header.name)).toEqual(['from-pax', 'from-gnu-L']);
    expect(String.fromCharCode(tar[512 * 2 + 156]!)).toBe('x');
    const hostile = extendedHeader(new TextEncoder().encode('11 path=ab\n\0\0\0'));
    expect(latin1(hostile.subarray(512, 512 + 14))).toBe('11 path=ab\n\0\0\0');
    expect(writeTar([file('a', 'x')], { endBlocks: 0 }).length).toBe(1024);
    expect(writeTar([file('a', 'x')], { endBlocks: 1 }).length).toBe(1536);
    const fixed = encodeHeader({ name: 'n', mode: 0, uid: 0, gid: 0, size: 0, mtime: 0, typeflag: '0', format: 'ustar' });
    fixed[0] = 0x6d;
    expect(parseInt(latin1(fixHeaderChecksum(fixed).subarray(148, 154)), 8)).toBe(headerChecksum(fixed));
  });

  it('writes sparse files in the four GNU formats', () => {
    const layout = { size: 10_000, segments: [[1024, 'a'.repeat(512)], [4096, 'tail']] as Array<[number, string]> };
    const old = writeTar([sparseFile('s', { ...layout, format: 'gnu-old' })]);
    expect(String.fromCharCode(old[156]!)).toBe('S');
    expect(latin1(old.subarray(257, 265))).toBe('ustar  \0');
    expect(parseInt(latin1(old.subarray(483, 494)), 8)).toBe(10_000);
    expect(parseInt(latin1(old.subarray(124, 135)), 8)).toBe(516);
    const ext = encodeGnuSparseExtension([1, 2, 3, 4], true);
    expect(latin1(ext.subarray(12, 24))).toBe('00000000002\0');
    expect(ext[504]).toBe(1);
    const v00 = latin1(writeTar([sparseFile('s', { ...layout, format: 'pax-0.0' })]));
    expect(v00).toContain('GNU.sparse.offset=1024\n');
    expect(v00).toContain('GNU.sparse.numblocks=3\n'); // the final [10000, 0] segment, as GNU tar writes it
    const v01 = latin1(writeTar([sparseFile('s', { ...layout, format: 'pax-0.1' })]));
    expect(v01).toContain('GNU.sparse.map=1024,512,4096,4,10000,0\n');
    const v10 = writeTar([sparseFile('dir/s', { ...layout, format: 'pax-1.0' })]);
    expect(latin1(v10)).toContain('GNU.sparse.name=dir/s\n');
    expect(latin1(v10.subarray(1024, 1124))).toMatch(/^GNUSparseFile.0\/s\0/);
    expect(latin1(v10.subarray(1536, 1536 + 26))).toBe('3\n1024\n512\n4096\n4\n10000\n0\n');
    const r = sparseFile('s', { ...layout, format: 'pax-1.0' });
    expect(r.data!.length).toBe(10_000);
    expect(latin1(r.data!.subarray(4096, 4100))).toBe('tail');
    expect(() => sparseFile('s', { size: 10, segments: [[8, 'abc']], format: 'pax-0.1' })).toThrow(/outside the size/);
  });
});
