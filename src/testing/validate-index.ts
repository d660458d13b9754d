import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import { computeDigest } from '../image/digest.js';
import { layerCompression } from '../image/media-types.js';
import { spanRange } from '../gzip/checkpoint.js';
import { validateCheckpoints } from '../gzip/validate.js';
import { openIndex } from '../layer-index/layer-index.js';
import type { TarEntry } from '../tar/entry.js';
import { parseTar } from '../tar/parser.js';

const ENTRY_FIELDS = ['path', 'type', 'mode', 'uid', 'gid', 'uname', 'gname', 'mtime', 'mtimeNsec', 'atime', 'ctime', 'size', 'linkTarget', 'devMajor', 'devMinor', 'dataOffset'] as const;

/** The fields of an entry that are not plain values, as comparable text (nanoseconds of absent times are absent). */
function derived(e: TarEntry | undefined): Record<string, string> {
  return {
    atimeNsec: String(e?.atime === undefined ? undefined : e.atimeNsec ?? 0),
    ctimeNsec: String(e?.ctime === undefined ? undefined : e.ctimeNsec ?? 0),
    sparse: e?.sparse === undefined ? 'none' : `[${e.sparse.join(', ')}]`,
    xattrs: JSON.stringify(Object.entries(e?.xattrs ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

/**
 * Checks an encoded layer index against its layer blob, from first principles: the index opens
 * bound to this blob; every gzip checkpoint re-inflates to exactly what a full node:zlib
 * decompression gives there (windows included); every span digest is the sha256 of its bytes;
 * and the entries equal what parsing the whole decompressed tar gives, data offsets included: every
 * field, times to the nanosecond (atime and ctime when the tar has them), sparse maps and xattrs.
 *
 * @param indexBytes - the index as `buildIndex` encodes it
 * @param blob - the layer blob it claims to describe
 * @returns one line per problem; empty when the index is right
 * @example
 * ```ts
 * const built = await buildIndex(new BufferSource(blob), descriptor);
 * expect(validateIndex(built.bytes, blob)).toEqual([]);
 * ```
 */
export function validateIndex(indexBytes: Uint8Array, blob: Uint8Array): string[] {
  const problems: string[] = [];
  const index = openIndex(indexBytes, { expectedLayer: { digest: computeDigest(blob), compressedSize: blob.length } });
  const compression = layerCompression(index.layer.mediaType);
  const tar = compression === 'gzip' ? zlib.gunzipSync(blob) : blob;
  if (index.layer.uncompressedSize !== tar.length) problems.push(`uncompressed size ${index.layer.uncompressedSize}, the layer has ${tar.length}`);
  const positions = index.checkpointPositions();
  if (compression === 'gzip') {
    const checkpoints = positions.map((_, i) => index.checkpoint(i));
    problems.push(...validateCheckpoints(blob, checkpoints, tar));
  }
  for (let i = 0; i < index.spanDigestCount; i++) {
    const { start, end } = spanRange(positions, blob.length, i);
    const actual = createHash('sha256').update(blob.subarray(start, end)).digest();
    if (!actual.equals(index.spanDigest(i))) problems.push(`span ${i} [${start}, ${end}) does not match its digest`);
  }
  const truth = parseTar(tar);
  const got = index.entries();
  if (got.length !== truth.length) problems.push(`${got.length} entries, the tar has ${truth.length}`);
  truth.forEach((want, i) => {
    const have = got[i];
    for (const field of ENTRY_FIELDS) {
      if (have?.[field] !== want[field]) problems.push(`entry ${i} (${want.path}): ${field} is ${String(have?.[field])}, the tar says ${String(want[field])}`);
    }
    const wantD = derived(want);
    const haveD = derived(have);
    for (const [field, value] of Object.entries(wantD)) {
      if (haveD[field] !== value) problems.push(`entry ${i} (${want.path}): ${field} is ${haveD[field]}, the tar says ${value}`);
    }
  });
  return problems;
}
