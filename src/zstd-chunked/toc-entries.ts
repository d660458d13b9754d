/**
 * From a zstd:chunked TOC to imagefs's {@link TarEntry} list and the chunk table (the same
 * {@link EstargzChunk} table the eStargz reader uses): a virtual stream of the regular files'
 * contents end to end, each chunk mapped to its zstd frames in the blob.
 * @module
 */
import { invalidArgument } from '../errors/image-fs-error.js';
import { MAX_TOC_CHUNK_SIZE, tocEntryToTarEntry, type EstargzChunk, type EstargzLayout } from '../estargz/toc-entries.js';
import type { EstargzTocEntry } from '../estargz/toc.js';
import type { TarEntry } from '../tar/entry.js';
import type { ZstdChunkedToc, ZstdChunkedTocEntry } from './toc.js';

const SHA256 = /^sha256:[0-9a-f]{64}$/;

function num(value: unknown, what: string, subject: string): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalidArgument(`the zstd:chunked TOC has a bad ${what}: ${String(value)}`, { subject, hint: 'read the layer whole' });
  return value;
}

/**
 * Converts a (verified) zstd:chunked TOC into entries and a chunk table. Each regular file gets a
 * synthetic `dataOffset` (the sum of the sizes of the regular files before it). Its parts (the
 * `reg` entry and the `chunk` entries after it) must cover it in order; a part's frames run from
 * its `offset` to its own `endOffset` (`chunk` entries), else the next part's `offset`, else the
 * file's `endOffset`.
 * Each part is verified by its `chunkDigest`, or, for a file of one part, by the file's `digest`.
 *
 * @param toc - the TOC.
 * @param options - `subject` names the layer in errors; `tocOffset` bounds chunk offsets.
 * @throws ImageError `InvalidArgument` for a TOC that cannot serve verified reads (a part without
 *   a sha256, chunks out of order, `zeros` chunks, offsets past the TOC).
 */
export function zstdTocToLayout(toc: ZstdChunkedToc, options: { subject: string; tocOffset: number }): EstargzLayout {
  const { subject, tocOffset } = options;
  const bad = (message: string): never => {
    throw invalidArgument(`the zstd:chunked TOC ${message}`, { subject, hint: 'read the layer whole (mode: full)' });
  };
  if (typeof toc !== 'object' || toc === null || !Array.isArray(toc.entries)) bad('has no list of entries');
  const entries: TarEntry[] = [];
  const chunks: EstargzChunk[] = [];
  let virtual = 0;
  let current: { entry: TarEntry; head: ZstdChunkedTocEntry; parts: ZstdChunkedTocEntry[] } | undefined;

  const finish = (): void => {
    if (current === undefined) return;
    const { entry, head, parts } = current;
    current = undefined;
    entry.dataOffset = virtual;
    const fileEnd = num(head.endOffset, 'endOffset', subject);
    let covered = 0;
    parts.forEach((p, i) => {
      const next = parts[i + 1];
      const chunkOffset = num(p.chunkOffset, 'chunkOffset', subject);
      const size = num(p.chunkSize, 'chunkSize', subject) || (next === undefined ? entry.size : num(next.chunkOffset, 'chunkOffset', subject)) - chunkOffset;
      if (p.chunkType !== undefined && p.chunkType !== 'data') bad(`chunk at ${chunkOffset} of '${entry.path}' has type '${p.chunkType}', which imagefs does not read lazily`);
      if (chunkOffset !== covered || size <= 0) bad(`chunks of '${entry.path}' do not cover it in order (chunk at ${chunkOffset}, expected ${covered})`);
      const digest = p.chunkDigest ?? (parts.length === 1 ? head.digest : undefined);
      if (typeof digest !== 'string' || !SHA256.test(digest)) bad(`chunk at ${chunkOffset} of '${entry.path}' has no sha256 digest, so its bytes cannot be verified`);
      const start = num(p.offset, 'offset', subject);
      // The head's endOffset is the whole file's; a `chunk` entry's (newer writers) is its own.
      const own = p.type === 'chunk' ? num(p.endOffset, 'endOffset', subject) : 0;
      const end = own || (next === undefined ? fileEnd : num(next.offset, 'offset', subject));
      if (start <= 0 || end <= start || end > tocOffset) bad(`chunk at ${chunkOffset} of '${entry.path}' has frames ${start}-${end}, not before the TOC at ${tocOffset}`);
      if (size > MAX_TOC_CHUNK_SIZE) bad(`chunk at ${chunkOffset} of '${entry.path}' is ${size} bytes, over the ${MAX_TOC_CHUNK_SIZE} a chunk may hold (it is inflated in memory to be verified)`);
      chunks.push({ virtualOffset: virtual + chunkOffset, size, memberStart: start, memberEnd: end, digest: digest! });
      covered += size;
    });
    if (covered !== entry.size) bad(`chunks of '${entry.path}' cover ${covered} of its ${entry.size} bytes`);
    if (!Number.isSafeInteger(virtual + entry.size)) bad(`files add up to more than ${Number.MAX_SAFE_INTEGER} bytes`);
    virtual += entry.size;
  };

  for (const e of toc.entries) {
    if (typeof e !== 'object' || e === null || typeof e.name !== 'string') bad('has an entry without a name');
    if (e.type === 'chunk') {
      if (current === undefined || current.head.name !== e.name) bad(`has a chunk of '${e.name}' that does not follow its file`);
      current!.parts.push(e);
      continue;
    }
    finish();
    const entry = tocEntryToTarEntry({ ...e, type: e.type === 'hardlink' ? 'hlink' : e.type } as EstargzTocEntry, subject);
    entries.push(entry);
    if (entry.type === 'file' && entry.size > 0) current = { entry, head: e, parts: [e] };
  }
  finish();
  return { entries, chunks, size: virtual };
}
