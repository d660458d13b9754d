// Fuzz targets for the tables of contents imagefs trusts once verified: eStargz (mutated TOC JSON
// repacked into a valid blob whose toc.digest annotation names it, then opened and read; mutated
// footers) and zstd:chunked (generated TOCs turned into layouts; mutated footers and position
// annotations). An untouched TOC must serve the layer's exact bytes; a mutated one a result whose
// chunks are consistent, or a typed error.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { ESTARGZ_TOC_DIGEST } from '../../src/estargz/toc.js';
import { openEstargzLayer } from '../../src/estargz/estargz-layer.js';
import { readEstargzFooter } from '../../src/estargz/footer.js';
import { tocToLayout, type EstargzLayout } from '../../src/estargz/toc-entries.js';
import type { Descriptor } from '../../src/image/types.js';
import { BufferSource } from '../../src/source/read-at.js';
import { concatBytes, contentBytes, dir, encodeHeader, estargzFooter, file, symlink, writeEstargz, type EstargzBlob } from '../../src/testing/builder/index.js';
import { parseZstdChunkedFooter, parseZstdChunkedPosition } from '../../src/zstd-chunked/footer.js';
import type { ZstdChunkedToc } from '../../src/zstd-chunked/toc.js';
import { zstdTocToLayout } from '../../src/zstd-chunked/toc-entries.js';
import type { FuzzTarget, Rand } from './harness.js';
import { mutateBytes, mutateJson } from './harness.js';
import { memoryImageSource } from './memory-image.js';

const FILES = { 'd/a.txt': { seed: 1, size: 20_000, kind: 'text' }, 'd/b.bin': { seed: 2, size: 9_000 }, 'd/c': 'small\n' } as const;
let seed: EstargzBlob | undefined;

function estargzSeed(): EstargzBlob {
  seed ??= writeEstargz([dir('d'), ...Object.entries(FILES).map(([p, c]) => file(p, c)), symlink('d/l', 'a.txt')], { chunkSize: 4096, landmark: 'prefetch' });
  return seed;
}

/** The blob of `seed` with its TOC member replaced by one holding `json`, and its descriptor (annotation = the JSON's digest). */
function repack(base: EstargzBlob, json: Uint8Array): { blob: Uint8Array; descriptor: Descriptor } {
  const header = encodeHeader({ name: 'stargz.index.json', mode: 0o644, uid: 0, gid: 0, size: json.length, mtime: 0, typeflag: '0', format: 'ustar' });
  const pad = new Uint8Array((512 - (json.length % 512)) % 512);
  const member = gzipSync(concatBytes([header, json, pad, new Uint8Array(1024)]));
  const blob = concatBytes([base.blob.subarray(0, base.tocOffset), member, estargzFooter(base.tocOffset)]);
  const descriptor: Descriptor = {
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${createHash('sha256').update(blob).digest('hex')}`, size: blob.length,
    annotations: { [ESTARGZ_TOC_DIGEST]: `sha256:${createHash('sha256').update(json).digest('hex')}` },
  };
  return { blob, descriptor };
}

interface EstargzCase { json: Uint8Array; pristine: boolean; blob?: Uint8Array }

/** Mutated eStargz TOCs (and footers), opened lazily and read. */
export const estargzTocTarget: FuzzTarget<EstargzCase> = {
  name: 'eStargz TOC and footer (mutation)',
  ciCases: 600,
  generate: (r: Rand) => {
    const base = estargzSeed();
    const pristine = r.chance(0.05);
    const doc = pristine ? base.toc : mutateJson(base.toc, r);
    const json = new TextEncoder().encode(JSON.stringify(doc) ?? 'null');
    if (!pristine && r.chance(0.15)) {
      // A mutated footer (or tail) instead.
      const { blob } = repack(base, new TextEncoder().encode(JSON.stringify(base.toc)));
      return { json, pristine: false, blob: mutateBytes(blob, r, 1 + r.int(3), (rr, n) => n - 1 - rr.int(Math.min(n, 60))) };
    }
    return { json, pristine };
  },
  run: async (c) => {
    const base = estargzSeed();
    if (c.blob !== undefined) {
      await readEstargzFooter(new BufferSource(c.blob));
      return;
    }
    const { blob, descriptor } = repack(base, c.json);
    const layer = await openEstargzLayer(memoryImageSource(new Map([[descriptor.digest, blob]])), descriptor);
    try {
      for (const e of await layer.entries()) {
        if (e.type !== 'file' || e.size === 0 || e.size > 1 << 20) continue;
        const bytes = await layer.data.readAt(e.dataOffset, e.size);
        const want = (FILES as Record<string, Parameters<typeof contentBytes>[0]>)[e.path];
        if (c.pristine && (want === undefined || !Buffer.from(bytes).equals(Buffer.from(contentBytes(want))))) throw new Error(`wrong bytes for '${e.path}' from an untouched TOC`);
      }
    } finally {
      await layer.close();
    }
  },
};

/** Checks a layout's chunk table: contiguous virtual offsets, positive sizes, members before the TOC. */
function judgeLayout(layout: EstargzLayout, tocOffset: number): void {
  let virtual = 0;
  for (const c of layout.chunks) {
    if (c.virtualOffset !== virtual) throw new Error(`chunk at virtual ${c.virtualOffset}, expected ${virtual}`);
    if (!(c.size > 0) || !Number.isSafeInteger(c.size)) throw new Error(`chunk of size ${c.size}`);
    if (!(c.memberStart >= 0 && c.memberEnd > c.memberStart && c.memberEnd <= tocOffset)) throw new Error(`chunk member ${c.memberStart}-${c.memberEnd} (TOC at ${tocOffset})`);
    virtual += c.size;
  }
  if (virtual !== layout.size) throw new Error(`chunks cover ${virtual} of ${layout.size}`);
  for (const e of layout.entries) {
    if (typeof e.path !== 'string' || !Number.isSafeInteger(e.size) || e.size < 0 || !Number.isSafeInteger(e.mode)) throw new Error(`bad entry ${JSON.stringify(e).slice(0, 200)}`);
  }
}

const D = (r: Rand): string => r.chance(0.9) ? `sha256:${createHash('sha256').update(String(r.int(1e9))).digest('hex')}` : String(r.nastyJson());

/** A generated zstd:chunked TOC: files split in chunks with right or wrong numbers. */
function zstdToc(r: Rand): { toc: ZstdChunkedToc; tocOffset: number } {
  const entries: Array<Record<string, unknown>> = [];
  let offset = 100;
  const n = 1 + r.int(6);
  for (let i = 0; i < n; i++) {
    const name = r.chance(0.9) ? `f${i}` : String(r.nastyJson());
    const kind = r.pick(['reg', 'reg', 'reg', 'dir', 'symlink', 'hardlink', 'char', 'fifo', 'weird']);
    if (kind !== 'reg') {
      entries.push({ type: kind, name, mode: r.chance(0.9) ? 0o755 : r.nastyJson(), linkName: r.chance(0.5) ? 'f0' : r.nastyJson(), devMajor: r.nastyJson(), modtime: r.pick(['2023-11-14T22:13:20Z', 'yesterday', '', '1969-12-31T23:59:59.5Z']) });
      continue;
    }
    const size = r.chance(0.8) ? 1 + r.int(20_000) : r.nastyNumber();
    const chunks = 1 + r.int(3);
    const chunkSize = Math.max(1, Math.floor(Number(size) / chunks) || 1);
    const head: Record<string, unknown> = { type: 'reg', name, size, offset, endOffset: offset + 50 * chunks, digest: D(r), mode: 0o644 };
    if (chunks > 1) Object.assign(head, { chunkSize, chunkDigest: D(r) });
    entries.push(head);
    for (let k = 1; k < chunks; k++) {
      const chunk: Record<string, unknown> = { type: 'chunk', name, offset: offset + 50 * k, chunkOffset: chunkSize * k, chunkDigest: D(r) };
      if (k < chunks - 1) chunk['chunkSize'] = chunkSize;
      if (r.chance(0.2)) chunk['chunkType'] = r.pick(['data', 'zeros', 'x']);
      entries.push(chunk);
    }
    offset += 50 * chunks;
  }
  const toc = (r.chance(0.3) ? mutateJson({ version: 1, entries }, r) : { version: 1, entries }) as ZstdChunkedToc;
  return { toc, tocOffset: r.chance(0.9) ? offset : r.int(offset + 1) };
}

/** Generated zstd:chunked TOCs (and footers, position annotations). */
export const zstdChunkedTocTarget: FuzzTarget<{ toc: ZstdChunkedToc; tocOffset: number; footer: Uint8Array; position: string }> = {
  name: 'zstd:chunked TOC, footer, position (generation)',
  ciCases: 2000,
  generate: (r) => {
    const footer = new Uint8Array(48);
    const v = new DataView(footer.buffer);
    v.setUint32(0, 0x184d2a50, true);
    v.setUint32(4, 40, true);
    for (let i = 0; i < 4; i++) v.setBigUint64(8 + 8 * i, (r.chance(0.7) ? BigInt(r.int(1e6)) : r.chance(0.5) ? BigInt(r.int(2 ** 31)) : BigInt.asUintN(64, BigInt(r.int(2 ** 30)) << BigInt(r.int(40)))), true);
    footer.set(new TextEncoder().encode('GnUlInUx'), 40);
    const position = [r.nastyNumber(), r.nastyNumber(), r.int(100), r.pick([1, 0, 2, -1])].map(String).join(r.chance(0.9) ? ':' : ',');
    return { ...zstdToc(r), footer: r.chance(0.5) ? mutateBytes(footer, r) : footer, position };
  },
  run: (c) => {
    const p = parseZstdChunkedFooter(c.footer);
    if (p !== undefined && ![p.offset, p.length, p.lengthUncompressed, p.type].every((n) => Number.isSafeInteger(n) && n >= 0)) throw new Error(`footer parsed to ${JSON.stringify(p)}`);
    const q = parseZstdChunkedPosition(c.position);
    if (q !== undefined && ![q.offset, q.length, q.lengthUncompressed, q.type].every((n) => Number.isSafeInteger(n) && n >= 0)) throw new Error(`position parsed to ${JSON.stringify(q)}`);
    judgeLayout(zstdTocToLayout(c.toc, { subject: 'fuzz', tocOffset: c.tocOffset }), c.tocOffset);
  },
};

/** Generated eStargz TOCs straight into tocToLayout (cheaper than a repack: more cases). */
export const estargzLayoutTarget: FuzzTarget<{ toc: ZstdChunkedToc; tocOffset: number }> = {
  name: 'eStargz TOC to layout (generation)',
  ciCases: 2000,
  generate: (r) => {
    const { toc, tocOffset } = zstdToc(r);
    // eStargz spells hardlinks 'hlink' and has no endOffset; keep the rest.
    for (const e of Array.isArray(toc.entries) ? toc.entries : []) if (e && typeof e === 'object' && (e as { type?: unknown }).type === 'hardlink' && r.chance(0.8)) (e as { type: string }).type = 'hlink';
    return { toc, tocOffset };
  },
  run: (c) => judgeLayout(tocToLayout(c.toc as never, c.tocOffset, { subject: 'fuzz' }), c.tocOffset),
};
