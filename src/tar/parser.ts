import { dataLoss, invalidArgument } from '../errors/image-fs-error.js';
import type { EntryType, TarEntry } from './entry.js';
import { BLOCK_SIZE, decodeHeader, decodeString, isZeroBlock, padding, type RawHeader } from './header.js';
import { mergePax, parsePax, paxOverrides, type PaxOverrides, type PaxRecords } from './pax.js';
import { normalizeTarPath } from './path.js';

/** Options of {@link TarStreamParser}. */
export interface TarParserOptions {
  /** Named in error messages and errors' `subject` (for instance the layer digest). */
  subject?: string;
  /**
   * Largest payload of a metadata entry (PAX header, GNU long name) the parser buffers, in bytes.
   * Default 1 MiB. A larger one fails with `InvalidArgument`.
   */
  maxMetaSize?: number;
  /**
   * What to do with entries of a type imagefs does not know (for instance GNU `'M'`
   * multi-volume continuations): `'error'` (default) throws `InvalidArgument` naming the entry
   * and its offset; `'skip'` drops the entry (its data is skipped) and carries on.
   */
  unknownTypes?: 'error' | 'skip';
  /**
   * Receives the data of each entry as it streams past, in order, without copying. `position`
   * is the offset of `chunk` within the entry's data. The chunk is only valid during the call.
   */
  onData?: (entry: TarEntry, chunk: Uint8Array, position: number) => void;
}

type State = 'header' | 'meta' | 'sparse-ext' | 'data' | 'done';

const TYPES: Record<string, EntryType> = {
  '0': 'file', '\0': 'file', '7': 'file', S: 'file',
  '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo', D: 'dir',
};
/** Types that never have data records, whatever their size field says (as Go's archive/tar). */
const HEADER_ONLY = new Set(['1', '2', '3', '4', '5', '6']);

/**
 * A push-based, synchronous tar reader. Feed it the uncompressed layer stream in chunks of any
 * size; it calls `onEntry` for every entry, in order, as soon as the entry's headers are complete
 * (before its data). It buffers headers, PAX records and GNU long names only, never file data.
 *
 * Choices, documented:
 * - The end of the archive is two zero blocks; whatever follows is ignored. A lone zero block
 *   followed by a header is skipped (like `tar --ignore-zeros`). A stream that ends right after
 *   an entry's data, without the zero blocks or even the final padding, is accepted, since some
 *   writers produce it and no entry is lost.
 * - Hardlinks, symlinks, devices, directories and FIFOs have no data records (Go archive/tar's
 *   rule, which containerd uses): their size field is ignored and their size reported as 0.
 * - A `'\0'` entry whose name ends in `/` is a directory (old v7 writers). GNU `'D'` dumpdir is a
 *   directory (its data is skipped). GNU `'V'` volume labels are dropped silently.
 * - Names are decoded as UTF-8 (invalid bytes become U+FFFD).
 *
 * @example
 * ```ts
 * const entries: TarEntry[] = [];
 * const parser = new TarStreamParser((e) => entries.push(e));
 * for await (const chunk of stream) parser.push(chunk);
 * parser.end(); // throws DataLoss when the stream was truncated
 * ```
 */
export class TarStreamParser {
  private state: State = 'header';
  private readonly block = new Uint8Array(BLOCK_SIZE);
  private blockLength = 0;
  /** Stream offset of the next byte to be consumed. */
  private offset = 0;
  private meta: Uint8Array = new Uint8Array(0);
  private metaLength = 0;
  private metaType = '';
  private metaOffset = 0;
  private dataRemaining = 0;
  private padRemaining = 0;
  private dataPosition = 0;
  private current: TarEntry | undefined;
  private pendingSparse: { raw: RawHeader; headerOffset: number } | undefined;
  private globalPax: PaxRecords = new Map();
  private localPax: PaxRecords | undefined;
  private longName: string | undefined;
  private longLink: string | undefined;
  private zeroBlocks = 0;
  private count = 0;
  private readonly maxMetaSize: number;

  constructor(
    private readonly onEntry: (entry: TarEntry) => void,
    private readonly options: TarParserOptions = {},
  ) {
    this.maxMetaSize = options.maxMetaSize ?? 1024 * 1024;
  }

  /** Bytes consumed so far (the stream offset of the next byte). */
  get position(): number {
    return this.offset;
  }

  /** Entries reported so far. */
  get entryCount(): number {
    return this.count;
  }

  /** True once the two zero blocks that end an archive have been seen. */
  get sawEndMarker(): boolean {
    return this.state === 'done';
  }

  /** Consumes the next bytes of the stream. Throws `DataLoss`/`InvalidArgument` on bad input. */
  push(chunk: Uint8Array): void {
    let pos = 0;
    const length = chunk.length;
    while (pos < length) {
      switch (this.state) {
        case 'done':
          this.offset += length - pos;
          return;
        case 'data': {
          if (this.dataRemaining > 0) {
            const n = Math.min(this.dataRemaining, length - pos);
            if (this.options.onData && this.current) {
              this.options.onData(this.current, chunk.subarray(pos, pos + n), this.dataPosition);
            }
            this.dataPosition += n;
            this.dataRemaining -= n;
            this.offset += n;
            pos += n;
          } else {
            const n = Math.min(this.padRemaining, length - pos);
            this.padRemaining -= n;
            this.offset += n;
            pos += n;
          }
          if (this.dataRemaining === 0 && this.padRemaining === 0) this.toHeader();
          break;
        }
        case 'meta': {
          const want = this.meta.length - this.metaLength;
          const n = Math.min(want, length - pos);
          this.meta.set(chunk.subarray(pos, pos + n), this.metaLength);
          this.metaLength += n;
          this.offset += n;
          pos += n;
          if (this.metaLength === this.meta.length) this.finishMeta();
          break;
        }
        case 'header':
        case 'sparse-ext': {
          let block: Uint8Array;
          const blockOffset = this.offset - this.blockLength;
          if (this.blockLength === 0 && length - pos >= BLOCK_SIZE) {
            block = chunk.subarray(pos, pos + BLOCK_SIZE);
            pos += BLOCK_SIZE;
            this.offset += BLOCK_SIZE;
          } else {
            const n = Math.min(BLOCK_SIZE - this.blockLength, length - pos);
            this.block.set(chunk.subarray(pos, pos + n), this.blockLength);
            this.blockLength += n;
            this.offset += n;
            pos += n;
            if (this.blockLength < BLOCK_SIZE) break;
            this.blockLength = 0;
            block = this.block;
          }
          if (this.state === 'header') this.onHeader(block, blockOffset);
          else this.onSparseExtension(block);
          break;
        }
      }
    }
  }

  /**
   * Declares the end of the stream.
   *
   * @throws ImageError `DataLoss` when the stream stopped inside a header, a metadata payload or
   * an entry's data, or after metadata entries that describe no entry.
   */
  end(): void {
    const at = `at offset ${this.offset}`;
    const subject = this.options.subject;
    switch (this.state) {
      case 'done':
        return;
      case 'data':
        if (this.dataRemaining > 0) {
          const name = this.current ? `'${this.current.path}'` : 'an entry';
          throw dataLoss(
            `tar stream ends ${at} inside the data of ${name}: ${this.dataRemaining} more bytes were expected`,
            { subject, hint: 'The layer is truncated; fetch it again and check its digest.' },
          );
        }
        break;
      case 'meta':
        throw dataLoss(`tar stream ends ${at} inside an extended header that started at ${this.metaOffset}`, { subject });
      case 'sparse-ext':
        throw dataLoss(`tar stream ends ${at} inside the sparse map of a GNU sparse entry`, { subject });
      case 'header':
        if (this.blockLength > 0 && !isZeroBlock(padTo512(this.block, this.blockLength))) {
          throw dataLoss(`tar stream ends ${at} inside a header (${this.blockLength} of 512 bytes)`, {
            subject,
            hint: 'The layer is truncated; fetch it again and check its digest.',
          });
        }
    }
    if (this.localPax || this.longName !== undefined || this.longLink !== undefined) {
      throw dataLoss(`tar stream ends ${at} after an extended header with no entry following it`, { subject });
    }
  }

  private toHeader(): void {
    this.state = 'header';
    this.current = undefined;
  }

  private onHeader(block: Uint8Array, headerOffset: number): void {
    const subject = this.options.subject;
    if (isZeroBlock(block)) {
      this.zeroBlocks++;
      if (this.zeroBlocks >= 2) this.state = 'done';
      return;
    }
    this.zeroBlocks = 0;
    const raw = decodeHeader(block, headerOffset, subject);
    const type = raw.typeflag;
    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      if (raw.size > this.maxMetaSize) {
        throw invalidArgument(
          `tar metadata entry '${type}' at offset ${headerOffset} is ${raw.size} bytes, over the ${this.maxMetaSize}-byte limit`,
          { subject, hint: 'Raise maxMetaSize if this layer is genuine.' },
        );
      }
      this.metaType = type;
      this.metaOffset = this.offset;
      this.meta = new Uint8Array(raw.size);
      this.metaLength = 0;
      this.state = 'meta';
      if (raw.size === 0) this.finishMeta();
      return;
    }
    if (type === 'S' && raw.gnuIsExtended) {
      this.pendingSparse = { raw, headerOffset };
      this.state = 'sparse-ext';
      return;
    }
    this.startEntry(raw, headerOffset);
  }

  private onSparseExtension(block: Uint8Array): void {
    // 21 sparse descriptors of 24 bytes, then the isextended flag at byte 504.
    if (block[504] !== 0) return;
    const pending = this.pendingSparse!;
    this.pendingSparse = undefined;
    this.startEntry(pending.raw, pending.headerOffset);
  }

  private finishMeta(): void {
    const payload = this.meta;
    const subject = this.options.subject;
    this.meta = new Uint8Array(0);
    switch (this.metaType) {
      case 'x':
        this.localPax = mergePaxKeepEmpty(this.localPax, parsePax(payload, this.metaOffset, subject));
        break;
      case 'g':
        this.globalPax = mergePax(this.globalPax, parsePax(payload, this.metaOffset, subject));
        break;
      case 'L':
        this.longName = decodeString(payload, 0, payload.length);
        break;
      case 'K':
        this.longLink = decodeString(payload, 0, payload.length);
        break;
    }
    this.skip(0, padding(payload.length));
  }

  private skip(data: number, pad: number): void {
    this.dataRemaining = data;
    this.padRemaining = pad;
    this.dataPosition = 0;
    this.state = 'data';
    if (data === 0 && pad === 0) this.toHeader();
  }

  private startEntry(raw: RawHeader, headerOffset: number): void {
    const subject = this.options.subject;
    const over: PaxOverrides = this.globalPax.size === 0 && !this.localPax
      ? {}
      : paxOverrides(mergePax(this.globalPax, this.localPax), headerOffset, subject);
    const longName = this.longName;
    const longLink = this.longLink;
    this.localPax = undefined;
    this.longName = undefined;
    this.longLink = undefined;

    const rawPath = over.sparseName ?? over.path ?? longName ?? raw.name;
    let flag = raw.typeflag;
    if (flag === '\0' && rawPath.endsWith('/')) flag = '5';
    const storedSize = over.size ?? raw.size;
    const type = TYPES[flag];
    const dataSize = HEADER_ONLY.has(flag) ? 0 : storedSize;
    if (type === undefined || flag === 'V') {
      if (flag === 'V' || this.options.unknownTypes === 'skip') {
        this.skip(dataSize, padding(dataSize));
        return;
      }
      throw invalidArgument(
        `tar entry '${rawPath}' at offset ${headerOffset} has unsupported type ${JSON.stringify(flag)}`,
        { subject, hint: 'The layer uses a tar extension imagefs does not read; rebuild it with a standard tar writer.' },
      );
    }
    const entry: TarEntry = {
      path: normalizeTarPath(rawPath),
      type,
      mode: raw.mode & 0o7777,
      uid: over.uid ?? raw.uid,
      gid: over.gid ?? raw.gid,
      mtime: over.mtime ?? raw.mtime,
      size: type === 'file' ? storedSize : 0,
      dataOffset: this.offset,
    };
    const uname = over.uname ?? raw.uname;
    if (uname) entry.uname = uname;
    const gname = over.gname ?? raw.gname;
    if (gname) entry.gname = gname;
    const link = over.linkpath ?? longLink ?? raw.linkname;
    if (type === 'hardlink') entry.linkTarget = normalizeTarPath(link);
    else if (type === 'symlink') entry.linkTarget = link;
    if (type === 'char' || type === 'block') {
      entry.devMajor = raw.devMajor;
      entry.devMinor = raw.devMinor;
    }
    if (over.xattrs) entry.xattrs = over.xattrs;
    if (flag === 'S' || over.sparse) {
      entry.sparse = true;
      const real = over.sparseRealSize ?? raw.gnuRealSize;
      if (real !== undefined) entry.sparseSize = real;
    }
    this.count++;
    this.onEntry(entry);
    this.skip(dataSize, padding(dataSize));
    if (this.state === 'data') this.current = entry;
  }
}

/** Merges two sets of per-entry records, keeping empty values (they matter against globals). */
function mergePaxKeepEmpty(a: PaxRecords | undefined, b: PaxRecords): PaxRecords {
  if (!a) return b;
  for (const [key, value] of b) a.set(key, value);
  return a;
}

function padTo512(block: Uint8Array, length: number): Uint8Array {
  const copy = new Uint8Array(BLOCK_SIZE);
  copy.set(block.subarray(0, length));
  return copy;
}

/**
 * Parses a whole tar stream held in memory.
 *
 * @throws ImageError `DataLoss` or `InvalidArgument` as {@link TarStreamParser} does.
 *
 * @example
 * ```ts
 * const entries = parseTar(await readFile('layer.tar'));
 * ```
 */
export function parseTar(bytes: Uint8Array, options?: TarParserOptions): TarEntry[] {
  const entries: TarEntry[] = [];
  const parser = new TarStreamParser((e) => entries.push(e), options);
  parser.push(bytes);
  parser.end();
  return entries;
}
