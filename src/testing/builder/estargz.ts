import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { encodeRecord, type TarRecord } from './tar-writer.js';
import { sha256Digest } from './digest.js';

/** The layer annotation carrying the digest of the uncompressed TOC JSON. */
export const ESTARGZ_TOC_DIGEST_ANNOTATION = 'containerd.io/snapshot/stargz/toc.digest';

/** Options of {@link writeEstargz}. */
export interface WriteEstargzOptions {
  /** Bytes of file content per chunk (each chunk is its own gzip member). Default 64 KiB. */
  chunkSize?: number;
  /** Add a landmark file first: `.prefetch.landmark` or `.no.prefetch.landmark` (one byte, 0x0f). Default none. */
  landmark?: 'prefetch' | 'no-prefetch';
  /** Write the older 47-byte footer (extra field without the `SG` subfield header). Default false. */
  legacyFooter?: boolean;
  /** gzip level of every member. Default 6. */
  level?: number;
}

/** What {@link writeEstargz} returns. */
export interface EstargzBlob {
  /** The eStargz blob (a series of gzip members ending with the footer). */
  blob: Uint8Array;
  /** The uncompressed tar (the whole blob gunzipped), including `stargz.index.json`. */
  tar: Uint8Array;
  /** `sha256:` of the uncompressed TOC JSON: the value of {@link ESTARGZ_TOC_DIGEST_ANNOTATION}. */
  tocDigest: string;
  /** `sha256:` of `tar` (the config's diff ID). */
  diffId: string;
  /** Compressed offset of the TOC's gzip member. */
  tocOffset: number;
  /** The TOC document as written. */
  toc: { version: number; entries: Array<Record<string, unknown>> };
}

const TOC_TYPE: Record<TarRecord['type'], string> = { file: 'reg', dir: 'dir', symlink: 'symlink', hardlink: 'hlink', char: 'char', block: 'block', fifo: 'fifo' };

/** RFC 3339 at second precision, as Go's `time.RFC3339` writes it. */
function rfc3339(seconds: number): string {
  return new Date(Math.floor(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The eStargz footer: an empty gzip member whose extra field holds `%016xSTARGZ`. */
export function estargzFooter(tocOffset: number, legacy = false): Uint8Array {
  const payload = new TextEncoder().encode(`${tocOffset.toString(16).padStart(16, '0')}STARGZ`);
  const extra = legacy ? payload : concat([new Uint8Array([0x53, 0x47, 22, 0]), payload]);
  const header = new Uint8Array([0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, extra.length & 0xff, extra.length >> 8]);
  // An empty final stored block, then CRC32 and ISIZE of the empty body (both zero).
  return concat([header, extra, new Uint8Array([0x01, 0x00, 0x00, 0xff, 0xff]), new Uint8Array(8)]);
}

/**
 * Writes an eStargz blob from builder records, the way containerd's `estargz` writer lays it out:
 * every regular file's content is cut into chunks that each start a gzip member of their own
 * (the tar header goes at the end of the member before), other entries share the current member,
 * the TOC `stargz.index.json` is the last tar entry in its own member (with the end-of-archive
 * blocks), and the 51-byte footer ends the blob. The blob gunzipped is a valid tar.
 *
 * @example
 * ```ts
 * const e = writeEstargz([dir('etc'), file('etc/hosts', '127.0.0.1 localhost\n')], { chunkSize: 4096 });
 * const layer = { blob: e.blob, compression: 'gzip', annotations: { [ESTARGZ_TOC_DIGEST_ANNOTATION]: e.tocDigest } };
 * ```
 */
export function writeEstargz(records: readonly TarRecord[], options: WriteEstargzOptions = {}): EstargzBlob {
  const chunkSize = options.chunkSize ?? 64 * 1024;
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) throw new TypeError(`writeEstargz: chunkSize must be a positive integer, got ${chunkSize}`);
  const level = options.level ?? 6;
  const members: Uint8Array[] = [];
  const tarParts: Uint8Array[] = [];
  let compressed = 0;
  let open: Uint8Array[] = [];
  const write = (bytes: Uint8Array): void => {
    open.push(bytes);
    tarParts.push(bytes);
  };
  const close = (): void => {
    if (open.length === 0) return;
    const member = gzipSync(concat(open), { level });
    members.push(member);
    compressed += member.length;
    open = [];
  };

  const all: TarRecord[] = [];
  if (options.landmark !== undefined) {
    const name = options.landmark === 'prefetch' ? '.prefetch.landmark' : '.no.prefetch.landmark';
    all.push({ path: name, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, data: new Uint8Array([0x0f]) });
  }
  all.push(...records);

  const entries: Array<Record<string, unknown>> = [];
  for (const r of all) {
    const data = r.type === 'file' ? (r.data ?? new Uint8Array(0)) : new Uint8Array(0);
    const blocks = concat(encodeRecord(r));
    const dataBlocks = Math.ceil(data.length / 512) * 512;
    const entry: Record<string, unknown> = {
      name: r.type === 'dir' ? `${r.path}/` : r.path,
      type: TOC_TYPE[r.type],
      modtime: rfc3339(r.mtime),
      mode: r.mode,
      uid: r.uid,
      gid: r.gid,
    };
    if (r.uname !== undefined) entry.userName = r.uname;
    if (r.gname !== undefined) entry.groupName = r.gname;
    if (r.linkTarget !== undefined) entry.linkName = r.linkTarget;
    if (r.devMajor !== undefined) entry.devMajor = r.devMajor;
    if (r.devMinor !== undefined) entry.devMinor = r.devMinor;
    if (r.xattrs !== undefined) {
      entry.xattrs = Object.fromEntries(Object.entries(r.xattrs).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
    }
    write(blocks.subarray(0, blocks.length - dataBlocks));
    entries.push(entry);
    if (r.type !== 'file') continue;
    entry.size = data.length;
    entry.digest = sha256Digest(data);
    for (let at = 0; at < data.length; at += chunkSize) {
      const chunk = data.subarray(at, Math.min(data.length, at + chunkSize));
      close();
      const target: Record<string, unknown> = at === 0 ? entry : { name: r.path, type: 'chunk' };
      if (at !== 0) entries.push(target);
      target.offset = compressed;
      target.chunkOffset = at;
      target.chunkSize = chunk.length;
      target.chunkDigest = `sha256:${createHash('sha256').update(chunk).digest('hex')}`;
      write(chunk);
    }
    if (dataBlocks > data.length) write(new Uint8Array(dataBlocks - data.length));
  }
  close();

  const toc = { version: 1, entries };
  const tocJson = new TextEncoder().encode(JSON.stringify(toc));
  const tocOffset = compressed;
  const tocRecord: TarRecord = { path: 'stargz.index.json', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, data: tocJson };
  write(concat(encodeRecord(tocRecord)));
  write(new Uint8Array(1024));
  close();
  members.push(estargzFooter(tocOffset, options.legacyFooter === true));
  const tar = concat(tarParts);
  return { blob: concat(members), tar, tocDigest: sha256Digest(tocJson), diffId: sha256Digest(tar), tocOffset, toc };
}
