import { dataLoss, invalidArgument } from '../errors/image-fs-error.js';
import type { EntryType, TarEntry } from './entry.js';
import { BLOCK_SIZE, decodeHeader, isZeroBlock, padding, type RawHeader } from './header.js';
import { resolveTarLimits, tarLimitError, type TarLimits, type TarUsage } from './limits.js';
import { parsePax, paxOverrides, type PaxOverrides, type PaxRecords } from './pax.js';
import { normalizeTarPath } from './path.js';
import { decodeRawName, encodeRawName } from './raw-name.js';
import {
  compactSparseMap,
  parseSparseMap0x,
  paxSparseFormat,
  readOldGnuSparse,
  sparseDataLength,
  SparseMap1x0Reader,
  validateSparseMap,
  type SparseFormat,
} from './sparse.js';
import { parseGoInt } from './time.js';

/** Options of {@link TarStreamParser}. */
export interface TarParserOptions {
  /** Named in error messages and errors' `subject` (for instance the layer digest). */
  subject?: string;
  /**
   * Largest payload of a metadata entry (PAX header, GNU long name) and largest PAX 1.0 sparse
   * map the parser buffers, in bytes. Default 1 MiB (Go's `maxSpecialFileSize`). A larger one
   * fails with `InvalidArgument`.
   */
  maxMetaSize?: number;
  /**
   * What to do with entries of a type imagefs does not know (for instance GNU `'M'`
   * multi-volume continuations): `'error'` (default) throws `InvalidArgument` naming the entry
   * and its offset; `'skip'` drops the entry (its data is skipped) and carries on.
   */
  unknownTypes?: 'error' | 'skip';
  /** Bounds on metadata (see {@link TarLimits}); unset ones take {@link DEFAULT_TAR_LIMITS}' values. */
  limits?: Partial<TarLimits>;
  /** Counts shared with the parsers of an image's other layers (entries, xattrs), for image-wide limits. */
  usage?: TarUsage;
  /**
   * Receives the stored data of each entry as it streams past, in order, without copying.
   * `position` is the offset of `chunk` within the entry's stored data (for a sparse file: within
   * its segments laid end to end, after its map). The chunk is only valid during the call.
   */
  onData?: (entry: TarEntry, chunk: Uint8Array, position: number) => void;
}

type State = 'header' | 'meta' | 'sparse-ext' | 'sparse-map' | 'data' | 'done';

const TYPES: Record<string, EntryType> = {
  '0': 'file', '7': 'file', S: 'file',
  '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo', D: 'dir',
};
/** Types that never have data records, whatever their size field says (as Go's archive/tar). */
const HEADER_ONLY = new Set(['1', '2', '3', '4', '5', '6']);

/** An entry whose sparse map is still being read (old GNU extension blocks, PAX 1.0 map). */
interface SparseDraft {
  entry: TarEntry;
  headerOffset: number;
  /** Stored bytes of the entry (its size field after PAX), map blocks of PAX 1.0 included. */
  stored: number;
  format: SparseFormat;
  map: number[];
  reader?: SparseMap1x0Reader;
}

/**
 * A push-based, synchronous tar reader that reads every archive as Go's archive/tar reader does
 * (containerd applies layers with it). Feed it the uncompressed layer stream in chunks of any
 * size; it calls `onEntry` for every entry, in order, as soon as the entry's headers (and sparse
 * map) are complete, before its data. It buffers headers, PAX records, GNU long names and sparse
 * maps only, never file data.
 *
 * As Go does:
 * - Headers: octal or base-256 numbers (negative times allowed), both checksum conventions,
 *   ustar / GNU / star / v7 formats, GNU and star atime/ctime.
 * - PAX `x` records apply to the next entry; several `x` in a row: the last one wins entirely.
 *   PAX `g` (global) records are parsed (a malformed one is an error) and otherwise ignored, as
 *   containerd ignores them; a `g` also drops pending `x`, `L` and `K` headers. Records with an
 *   empty value are skipped. GNU `L`/`K` long names win over PAX `path`/`linkpath`.
 * - A `'\0'` entry whose name ends in `/` is a directory. Hardlinks, symlinks, devices,
 *   directories and FIFOs have no data, whatever their size field says.
 * - GNU sparse files (old GNU `'S'`, PAX 0.0, 0.1, 1.0) are `file` entries with their logical
 *   `size` and a `sparse` map (zero-length segments dropped); `dataOffset` is the first stored
 *   byte. A map that is out of order, overlapping, past the size, or that does not account for
 *   exactly the stored bytes is refused.
 * - The archive ends at a zero block followed by a second one (what follows is ignored) or by
 *   the end of the stream; a stream that ends right after an entry's data (even without its final
 *   padding), or after metadata headers, is accepted. A zero block followed by a header, a
 *   partial header and a truncated payload are refused.
 * - Names, link names, GNU long names and PAX `path`/`linkpath` keep their exact bytes (see
 *   `raw-name.ts`); user and group names are decoded as UTF-8.
 *
 * imagefs choices: GNU `'7'` (contiguous) is a file, `'D'` (dumpdir) a directory whose data is
 * skipped, `'V'` (volume label) is dropped; other types throw `InvalidArgument` unless
 * `unknownTypes: 'skip'`. Every refusal is an `ImageError` (`DataLoss`, or `InvalidArgument` for
 * limits and unknown types) naming the entry and the byte offset.
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
  private metaName = '';
  private dataRemaining = 0;
  private padRemaining = 0;
  private dataPosition = 0;
  private current: TarEntry | undefined;
  private draft: SparseDraft | undefined;
  private localPax: PaxRecords | undefined;
  private longName: string | undefined;
  private longLink: string | undefined;
  private zeroBlockAt = -1;
  private count = 0;
  private readonly maxMetaSize: number;
  private readonly limits: TarLimits;
  /** Metadata headers since the last entry, their payload bytes; payload bytes and `g` headers of the stream; xattrs of the stream. */
  private metaInRow = 0;
  private metaBytesEntry = 0;
  private metaBytesStream = 0;
  private globals = 0;
  private xattrs = 0;

  constructor(
    private readonly onEntry: (entry: TarEntry) => void,
    private readonly options: TarParserOptions = {},
  ) {
    this.maxMetaSize = options.maxMetaSize ?? 1024 * 1024;
    this.limits = resolveTarLimits(options.limits);
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
        case 'sparse-ext':
        case 'sparse-map': {
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
          else if (this.state === 'sparse-ext') this.onSparseExtension(block, blockOffset);
          else this.onSparseMapBlock(block, blockOffset);
          break;
        }
      }
    }
  }

  /**
   * Declares the end of the stream.
   *
   * @throws ImageError `DataLoss` when the stream stopped inside a header, a metadata payload, a
   * sparse map or an entry's data.
   */
  end(): void {
    const at = `at offset ${this.offset}`;
    const subject = this.options.subject;
    const hint = 'The layer is truncated; fetch it again and check its digest.';
    switch (this.state) {
      case 'done':
        return;
      case 'data':
        if (this.dataRemaining > 0) {
          const name = this.current ? `'${this.current.path}'` : 'an entry';
          throw dataLoss(`tar stream ends ${at} inside the data of ${name}: ${this.dataRemaining} more bytes were expected`, { subject, hint });
        }
        return;
      case 'meta':
        throw dataLoss(`tar stream ends ${at} inside the extended header '${this.metaName}' whose data started at ${this.metaOffset}`, { subject, hint });
      case 'sparse-ext':
      case 'sparse-map':
        throw dataLoss(`tar stream ends ${at} inside the sparse map of '${this.draft?.entry.path ?? ''}'`, { subject, hint });
      case 'header':
        if (this.blockLength > 0) {
          throw dataLoss(`tar stream ends ${at} inside a header (${this.blockLength} of 512 bytes)`, { subject, hint });
        }
    }
  }

  private toHeader(): void {
    this.state = 'header';
    this.current = undefined;
  }

  private onHeader(block: Uint8Array, headerOffset: number): void {
    const subject = this.options.subject;
    if (this.zeroBlockAt >= 0) {
      if (isZeroBlock(block)) {
        this.state = 'done';
        return;
      }
      throw dataLoss(
        `tar stream has a lone zero block at offset ${this.zeroBlockAt} followed by a header at offset ${headerOffset}; ` +
          `Go's archive/tar (containerd) refuses this`,
        { subject, hint: 'The layer was concatenated or damaged; rebuild it with a standard tar writer.' },
      );
    }
    if (isZeroBlock(block)) {
      this.zeroBlockAt = headerOffset;
      return;
    }
    const raw = decodeHeader(block, headerOffset, subject);
    const type = raw.typeflag;
    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      if (raw.size < 0) throw dataLoss(`tar metadata entry '${raw.name}' ('${type}') at offset ${headerOffset} has a negative size ${raw.size}`, { subject });
      if (raw.size > this.maxMetaSize) {
        throw invalidArgument(
          `tar metadata entry '${raw.name}' ('${type}') at offset ${headerOffset} is ${raw.size} bytes, over the ${this.maxMetaSize}-byte limit`,
          { subject, hint: 'Raise maxMetaSize if this layer is genuine.' },
        );
      }
      this.countMeta(type, raw.size, headerOffset);
      this.metaType = type;
      this.metaName = raw.name;
      this.metaOffset = this.offset;
      this.meta = new Uint8Array(raw.size);
      this.metaLength = 0;
      this.state = 'meta';
      if (raw.size === 0) this.finishMeta();
      return;
    }
    this.startEntry(raw, headerOffset);
  }

  /** Checks a metadata header against the limits before its payload is allocated, then counts it. */
  private countMeta(type: string, size: number, headerOffset: number): void {
    const subject = this.options.subject;
    const l = this.limits;
    const at = `at offset ${headerOffset}`;
    if (this.metaInRow + 1 > l.maxConsecutiveMetaHeaders) {
      throw tarLimitError('maxConsecutiveMetaHeaders', `tar stream has more than ${l.maxConsecutiveMetaHeaders} metadata headers in a row (the last '${type}' ${at})`, subject, l.maxConsecutiveMetaHeaders);
    }
    if (type === 'g' && this.globals + 1 > l.maxGlobalHeaders) {
      throw tarLimitError('maxGlobalHeaders', `tar stream has more than ${l.maxGlobalHeaders} PAX global headers (the last ${at})`, subject, l.maxGlobalHeaders);
    }
    if (this.metaBytesEntry + size > l.maxMetaBytesPerEntry) {
      throw tarLimitError('maxMetaBytesPerEntry', `tar metadata headers before one entry hold more than ${l.maxMetaBytesPerEntry} bytes (the last '${type}' ${at})`, subject, l.maxMetaBytesPerEntry);
    }
    if (this.metaBytesStream + size > l.maxMetaBytesPerStream) {
      throw tarLimitError('maxMetaBytesPerStream', `tar metadata headers of the stream hold more than ${l.maxMetaBytesPerStream} bytes (the last '${type}' ${at})`, subject, l.maxMetaBytesPerStream);
    }
    this.metaInRow++;
    this.metaBytesEntry += size;
    this.metaBytesStream += size;
    if (type === 'g') this.globals++;
  }

  private finishMeta(): void {
    const payload = this.meta;
    const subject = this.options.subject;
    this.meta = new Uint8Array(0);
    const ctx = { offset: this.metaOffset, subject, headerName: this.metaName };
    switch (this.metaType) {
      case 'x':
        // Go: each 'x' replaces the records of any earlier one.
        this.localPax = parsePax(payload, ctx);
        break;
      case 'g':
        // Go returns a 'g' as an entry of its own (containerd ignores it): it consumes the
        // pending 'x', 'L' and 'K' headers, and its records do not reach later entries.
        parsePax(payload, ctx);
        this.localPax = undefined;
        this.longName = undefined;
        this.longLink = undefined;
        break;
      case 'L':
        this.longName = cutAtNul(payload);
        break;
      case 'K':
        this.longLink = cutAtNul(payload);
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
    const pax = this.localPax;
    const longName = this.longName;
    const longLink = this.longLink;
    this.localPax = undefined;
    this.longName = undefined;
    this.longLink = undefined;
    this.metaInRow = 0;
    this.metaBytesEntry = 0;
    const over: PaxOverrides = pax ? paxOverrides(pax, { offset: headerOffset, subject, entry: raw.name }) : {};

    let name = over.path ?? raw.name;
    if (longName) name = longName;
    let link = over.linkpath ?? raw.linkname;
    if (longLink) link = longLink;
    let flag = raw.typeflag;
    if (flag === '\0') flag = name.endsWith('/') ? '5' : '0';
    const headerOnly = HEADER_ONLY.has(flag);
    const stored = headerOnly ? 0 : (over.size ?? raw.size);
    const where = (): string => `tar entry '${normalizeTarPath(name).slice(0, 200)}' at offset ${headerOffset}`;
    if (stored < 0) throw dataLoss(`${where()} has a negative size ${stored}`, { subject });
    this.checkPathBytes(name, where, 'path');
    this.checkPathBytes(link, where, 'link target');
    if (over.xattrs !== undefined) this.countXattrs(Object.keys(over.xattrs).length, where);

    let sparse: SparseFormat | undefined;
    let logical = stored;
    if (flag === 'S') {
      if (raw.format !== 'gnu') {
        throw dataLoss(`${where()} has the GNU sparse type 'S' in a ${raw.format} header (Go accepts it only in GNU headers)`, { subject });
      }
      sparse = 'gnu-old';
      logical = raw.gnuRealSize!;
    } else {
      sparse = paxSparseFormat(pax);
      if (sparse) {
        const sparseName = pax!.get('GNU.sparse.name');
        if (sparseName && sparseName.length > 0) name = decodeRawName(sparseName);
        const sizeRecord = nonEmpty(pax!, 'GNU.sparse.size') ?? nonEmpty(pax!, 'GNU.sparse.realsize');
        if (sizeRecord !== undefined) {
          const n = parseGoInt(sizeRecord[1]);
          if (typeof n !== 'number') {
            throw dataLoss(`${where()} has a malformed PAX record ${sizeRecord[0]}=${JSON.stringify(sizeRecord[1].slice(0, 40))}`, { subject });
          }
          logical = n;
        }
      }
    }

    const type = TYPES[flag];
    if (type === undefined || flag === 'V') {
      if (flag === 'V' || this.options.unknownTypes === 'skip') {
        this.skip(stored, padding(stored));
        return;
      }
      throw invalidArgument(
        `${where()} has unsupported type ${JSON.stringify(flag)}`,
        { subject, hint: 'The layer uses a tar extension imagefs does not read; rebuild it with a standard tar writer.' },
      );
    }
    if (sparse && type !== 'file') {
      throw dataLoss(`${where()} is a ${type} with a GNU sparse map (only files may be sparse)`, { subject });
    }

    const mtime = over.mtime ?? { sec: raw.mtime, nsec: 0 };
    const entry: TarEntry = {
      path: normalizeTarPath(name),
      type,
      mode: raw.mode & 0o7777,
      uid: over.uid ?? raw.uid,
      gid: over.gid ?? raw.gid,
      mtime: mtime.sec,
      mtimeNsec: mtime.nsec,
      size: type === 'file' ? logical : 0,
      dataOffset: this.offset,
    };
    const atime = over.atime ?? (raw.atime !== undefined ? { sec: raw.atime, nsec: 0 } : undefined);
    if (atime) {
      entry.atime = atime.sec;
      entry.atimeNsec = atime.nsec;
    }
    const ctime = over.ctime ?? (raw.ctime !== undefined ? { sec: raw.ctime, nsec: 0 } : undefined);
    if (ctime) {
      entry.ctime = ctime.sec;
      entry.ctimeNsec = ctime.nsec;
    }
    const uname = over.uname ?? raw.uname;
    if (uname) entry.uname = uname;
    const gname = over.gname ?? raw.gname;
    if (gname) entry.gname = gname;
    if (type === 'hardlink') entry.linkTarget = normalizeTarPath(link);
    else if (type === 'symlink') entry.linkTarget = link;
    if (type === 'char' || type === 'block') {
      entry.devMajor = raw.devMajor;
      entry.devMinor = raw.devMinor;
    }
    if (over.xattrs) entry.xattrs = over.xattrs;

    if (!sparse) {
      this.emit(entry, stored);
      return;
    }
    const draft: SparseDraft = { entry, headerOffset, stored, format: sparse, map: [] };
    if (sparse === 'gnu-old') {
      draft.map = raw.gnuSparse!.slice();
      if (raw.gnuIsExtended) {
        this.draft = draft;
        this.state = 'sparse-ext';
        return;
      }
    } else if (sparse === 'pax-0.x') {
      const map = parseSparseMap0x(pax!);
      if (typeof map === 'string') throw dataLoss(`${where()} has a malformed GNU sparse 0.x map: ${map}`, { subject });
      draft.map = map;
    } else {
      draft.reader = new SparseMap1x0Reader();
      this.draft = draft;
      this.needMapBlock(draft, headerOffset + BLOCK_SIZE);
      this.state = 'sparse-map';
      return;
    }
    this.finishSparse(draft);
  }

  /** Throws when `name` is over `maxPathBytes` (counted in bytes: UTF-8, raw bytes one each). */
  private checkPathBytes(name: string, where: () => string, what: string): void {
    const max = this.limits.maxPathBytes;
    if (name.length * 3 <= max) return; // a UTF-16 unit is at most 3 bytes
    const bytes = name.length > max ? name.length : encodeRawName(name).length;
    if (bytes > max) throw tarLimitError('maxPathBytes', `${where()} has a ${what} of ${bytes} bytes`, this.options.subject, max);
  }

  /** Counts the xattrs of one entry against the per-entry and per-stream (or shared) limits. */
  private countXattrs(n: number, where: () => string): void {
    const l = this.limits;
    const subject = this.options.subject;
    if (n > l.maxXattrsPerEntry) throw tarLimitError('maxXattrsPerEntry', `${where()} has ${n} xattrs`, subject, l.maxXattrsPerEntry);
    const usage = this.options.usage;
    const total = (usage === undefined ? this.xattrs : usage.xattrs) + n;
    if (total > l.maxXattrsPerStream) throw tarLimitError('maxXattrsPerStream', `${where()} brings the xattrs read to ${total}`, subject, l.maxXattrsPerStream);
    this.xattrs += n;
    if (usage !== undefined) usage.xattrs += n;
  }

  private onSparseExtension(block: Uint8Array, blockOffset: number): void {
    const draft = this.draft!;
    const bad = readOldGnuSparse(block, 0, 21, draft.map);
    if (bad) throw dataLoss(`tar entry '${draft.entry.path}': the GNU sparse extension block at offset ${blockOffset} is malformed (${bad})`, { subject: this.options.subject });
    if (block[504] !== 0) return;
    this.finishSparse(draft);
  }

  /** Checks that one more block of PAX 1.0 map fits the entry's data and the size limit. */
  private needMapBlock(draft: SparseDraft, at: number): void {
    const read = draft.reader!.length;
    if (read + BLOCK_SIZE > draft.stored) {
      throw dataLoss(
        `tar entry '${draft.entry.path}' at offset ${draft.headerOffset}: its GNU sparse 1.0 map runs past its ${draft.stored} stored bytes (at offset ${at})`,
        { subject: this.options.subject },
      );
    }
    if (read + BLOCK_SIZE > this.maxMetaSize) {
      throw invalidArgument(
        `tar entry '${draft.entry.path}' at offset ${draft.headerOffset}: its GNU sparse 1.0 map is over the ${this.maxMetaSize}-byte limit`,
        { subject: this.options.subject, hint: 'Raise maxMetaSize if this layer is genuine.' },
      );
    }
  }

  private onSparseMapBlock(block: Uint8Array, blockOffset: number): void {
    const draft = this.draft!;
    const reader = draft.reader!;
    const done = reader.push(block);
    const fail = (why: string): Error =>
      dataLoss(`tar entry '${draft.entry.path}' at offset ${draft.headerOffset}: its GNU sparse 1.0 map (block at offset ${blockOffset}) is malformed: ${why}`, {
        subject: this.options.subject,
      });
    if (typeof done === 'string') throw fail(done);
    if (!done) {
      this.needMapBlock(draft, blockOffset + BLOCK_SIZE);
      return;
    }
    const map = reader.map();
    if (typeof map === 'string') throw fail(map);
    draft.map = map;
    this.finishSparse(draft);
  }

  private finishSparse(draft: SparseDraft): void {
    this.draft = undefined;
    const subject = this.options.subject;
    const { entry } = draft;
    const where = `tar entry '${entry.path}' at offset ${draft.headerOffset}`;
    const invalid = validateSparseMap(draft.map, entry.size);
    if (invalid) throw dataLoss(`${where} has an invalid GNU sparse map: ${invalid}`, { subject });
    const stored = draft.stored - (draft.reader?.length ?? 0);
    const mapped = sparseDataLength(draft.map);
    if (mapped !== stored) {
      throw dataLoss(
        `${where} has a GNU sparse map covering ${mapped} bytes but ${stored} bytes of data stored ` +
          `(Go's archive/tar fails reading it: ${mapped > stored ? 'missing' : 'unreferenced'} data)`,
        { subject },
      );
    }
    entry.sparse = compactSparseMap(draft.map);
    entry.dataOffset = this.offset;
    this.emit(entry, stored);
  }

  private emit(entry: TarEntry, stored: number): void {
    const usage = this.options.usage;
    const max = this.limits.maxEntries;
    if ((usage === undefined ? this.count : usage.entries) + 1 > max) {
      throw tarLimitError('maxEntries', `tar entry '${entry.path.slice(0, 200)}' is one entry too many`, this.options.subject, max);
    }
    if (usage !== undefined) usage.entries++;
    this.count++;
    this.onEntry(entry);
    this.skip(stored, padding(stored));
    if (stored > 0) this.current = entry;
  }
}

/** The bytes up to the first NUL, as an exact name. */
function cutAtNul(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return decodeRawName(nul < 0 ? bytes : bytes.subarray(0, nul));
}

/** The key and text of a record when it is present and not empty. */
function nonEmpty(records: PaxRecords, key: string): [string, string] | undefined {
  const value = records.get(key);
  return value && value.length > 0 ? [key, new TextDecoder('latin1').decode(value)] : undefined;
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
