/**
 * The eStargz table of contents (`stargz.index.json`): fetched through the footer, inflated,
 * and verified against the layer's `containerd.io/snapshot/stargz/toc.digest` annotation.
 * @module
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { dataLoss, invalidArgument } from '../errors/image-fs-error.js';
import type { Descriptor } from '../image/types.js';
import type { ReadAtSource, ReadOptions } from '../source/read-at.js';
import { decodeNumber, decodeString } from '../tar/header.js';
import { readEstargzFooter, type EstargzFooter } from './footer.js';

const gunzipAsync = promisify(gunzip);

/** The layer annotation carrying `sha256:` of the uncompressed TOC JSON. */
export const ESTARGZ_TOC_DIGEST = 'containerd.io/snapshot/stargz/toc.digest';
/** The tar name of the TOC. */
export const ESTARGZ_TOC_NAME = 'stargz.index.json';
/** Default bound on the TOC JSON size (uncompressed). */
export const DEFAULT_MAX_TOC_SIZE = 128 * 1024 * 1024;

/** One entry of an eStargz TOC, as the JSON has it (every field optional in the JSON). */
export interface EstargzTocEntry {
  /** Path in the layer (normalised on conversion). */
  name: string;
  /** Entry type; `chunk` continues the previous `reg` entry of the same name. */
  type: 'dir' | 'reg' | 'symlink' | 'hlink' | 'char' | 'block' | 'fifo' | 'chunk';
  /** File size (`reg` only). */
  size?: number;
  /** Modification time, RFC 3339. */
  modtime?: string;
  /** Symlink target, or the hardlink's target path. */
  linkName?: string;
  /** Permission and mode bits (masked to `0o7777` on conversion). */
  mode?: number;
  /** Owner. */
  uid?: number;
  /** Group. */
  gid?: number;
  /** Owner name. */
  userName?: string;
  /** Group name. */
  groupName?: string;
  /** Device major number (char, block). */
  devMajor?: number;
  /** Device minor number (char, block). */
  devMinor?: number;
  /** Name → base64 value. */
  xattrs?: Record<string, string>;
  /** sha256 of the whole file content. */
  digest?: string;
  /** Compressed offset of the gzip member whose output starts with this chunk's bytes. */
  offset?: number;
  /** Offset of this chunk in the file. */
  chunkOffset?: number;
  /** 0 or absent: up to the next chunk or the end of the file. */
  chunkSize?: number;
  /** sha256 of the uncompressed chunk. */
  chunkDigest?: string;
}

/** An eStargz TOC document. */
export interface EstargzToc {
  /** Always 1. */
  version: number;
  /** Entries in tar order. */
  entries: EstargzTocEntry[];
}

/** What {@link readEstargzToc} read. */
export interface EstargzTocRead extends EstargzFooter {
  /** The parsed TOC. */
  toc: EstargzToc;
  /** `sha256:` of the uncompressed TOC JSON. */
  digest: string;
  /**
   * True when the TOC matched the descriptor's toc.digest annotation. False when the descriptor
   * has no such annotation: nothing trusted vouches for the TOC, so its chunk digests must not be
   * used to verify reads (the caller should read the layer whole instead).
   */
  verified: boolean;
}

/** The toc.digest annotation of a layer descriptor, when it has one. */
export function estargzTocDigestOf(descriptor: Descriptor): string | undefined {
  const value = descriptor.annotations?.[ESTARGZ_TOC_DIGEST];
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Reads the TOC of an eStargz blob: the footer (one read of 51 bytes), then the TOC's gzip member
 * (one read from the footer's offset to the footer), inflated; the tar entry must be
 * `stargz.index.json`. When the descriptor carries the toc.digest annotation, the JSON's sha256
 * must equal it (`verified: true`); without it the TOC is returned unverified.
 *
 * @param source - the compressed blob.
 * @param descriptor - the layer descriptor (digest for messages, annotation for verification).
 * @throws ImageError `DataLoss` (no footer, corrupt member, not a TOC, digest mismatch),
 *   `InvalidArgument` (a TOC that is not version 1 JSON with entries, or over `maxTocSize`).
 * @example
 * ```ts
 * const { toc, verified } = await readEstargzToc(blob, descriptor);
 * ```
 */
export async function readEstargzToc(source: ReadAtSource, descriptor: Descriptor, options: ReadOptions & { maxTocSize?: number } = {}): Promise<EstargzTocRead> {
  const subject = descriptor.digest;
  const signal = options.signal === undefined ? {} : { signal: options.signal };
  const maxTocSize = options.maxTocSize ?? DEFAULT_MAX_TOC_SIZE;
  const footer = await readEstargzFooter(source, { ...signal, subject });
  const compressed = await source.readAt(footer.tocOffset, source.size - footer.footerSize - footer.tocOffset, signal);
  let tar: Uint8Array;
  try {
    tar = await gunzipAsync(compressed, { maxOutputLength: maxTocSize + 4096 });
  } catch (cause) {
    if ((cause as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw invalidArgument(`the eStargz TOC of the layer is larger than ${maxTocSize} bytes`, { subject, cause, hint: 'raise maxTocSize, or read the layer whole' });
    }
    throw dataLoss(`the eStargz TOC member at ${footer.tocOffset} does not inflate: ${(cause as Error).message}`, { subject, cause, hint: 'the blob is corrupt; push it again' });
  }
  const name = tar.length >= 512 ? decodeString(tar, 0, 100) : '';
  const size = tar.length >= 512 ? decodeNumber(tar, 124, 12) : NaN;
  if (name !== ESTARGZ_TOC_NAME || !Number.isSafeInteger(size) || 512 + size > tar.length) {
    throw dataLoss(`the gzip member at ${footer.tocOffset} does not hold ${ESTARGZ_TOC_NAME} (found '${name}')`, { subject, hint: 'the blob is corrupt or not eStargz; push it again' });
  }
  if (size > maxTocSize) throw invalidArgument(`the eStargz TOC of the layer is ${size} bytes, over ${maxTocSize}`, { subject, hint: 'raise maxTocSize, or read the layer whole' });
  const json = tar.subarray(512, 512 + size);
  const digest = `sha256:${createHash('sha256').update(json).digest('hex')}`;
  const expected = estargzTocDigestOf(descriptor);
  if (expected !== undefined && expected !== digest) {
    throw dataLoss(`the eStargz TOC of the layer has digest ${digest}, but its toc.digest annotation says ${expected}`, { subject, hint: 'the layer or its manifest annotation is wrong; rebuild the image' });
  }
  let toc: EstargzToc;
  try {
    toc = JSON.parse(new TextDecoder().decode(json)) as EstargzToc;
  } catch (cause) {
    throw invalidArgument(`the eStargz TOC is not JSON: ${(cause as Error).message}`, { subject, cause });
  }
  if (typeof toc !== 'object' || toc === null || toc.version !== 1 || !Array.isArray(toc.entries)) {
    throw invalidArgument(`the eStargz TOC is not a version 1 TOC with entries (version ${String((toc as { version?: unknown } | null)?.version)})`, { subject, hint: 'read the layer whole' });
  }
  return { ...footer, toc, digest, verified: expected !== undefined };
}
