/**
 * The eStargz footer: an empty gzip member at the very end of the blob whose FEXTRA field holds
 * `%016xSTARGZ`, the compressed offset of the TOC's gzip member.
 * @module
 */
import { dataLoss } from '../errors/image-fs-error.js';
import type { ReadAtSource, ReadOptions } from '../source/read-at.js';

/** Size of the current footer (extra field with the `SG` subfield header). */
export const ESTARGZ_FOOTER_SIZE = 51;
/** Size of the legacy stargz footer (the extra field is the bare `%016xSTARGZ`). */
export const ESTARGZ_LEGACY_FOOTER_SIZE = 47;

/** What the footer says. */
export interface EstargzFooter {
  /** Compressed offset of the gzip member holding the TOC (`stargz.index.json`). */
  tocOffset: number;
  /** Size of the footer: {@link ESTARGZ_FOOTER_SIZE} or {@link ESTARGZ_LEGACY_FOOTER_SIZE}. */
  footerSize: number;
}

const MAGIC = 'STARGZ';

/** Decodes the 22-byte `%016xSTARGZ` payload, or undefined when it is not one. */
function decodePayload(bytes: Uint8Array): number | undefined {
  if (bytes.length !== 22) return undefined;
  const text = new TextDecoder().decode(bytes);
  if (!text.endsWith(MAGIC) || !/^[0-9a-f]{16}$/i.test(text.slice(0, 16))) return undefined;
  const offset = Number.parseInt(text.slice(0, 16), 16);
  return Number.isSafeInteger(offset) ? offset : undefined;
}

/**
 * Parses a footer from the last bytes of a blob (51 or more; the last 51 are used, and the last 47
 * for a legacy footer). Returns undefined when neither form is there.
 */
export function parseEstargzFooter(tail: Uint8Array): EstargzFooter | undefined {
  const isGzipExtra = (b: Uint8Array): boolean => b[0] === 0x1f && b[1] === 0x8b && b[2] === 0x08 && (b[3]! & 0x04) !== 0;
  if (tail.length >= ESTARGZ_FOOTER_SIZE) {
    const b = tail.subarray(tail.length - ESTARGZ_FOOTER_SIZE);
    const xlen = b[10]! | (b[11]! << 8);
    if (isGzipExtra(b) && xlen === 26 && b[12] === 0x53 && b[13] === 0x47 && (b[14]! | (b[15]! << 8)) === 22) {
      const tocOffset = decodePayload(b.subarray(16, 38));
      if (tocOffset !== undefined) return { tocOffset, footerSize: ESTARGZ_FOOTER_SIZE };
    }
  }
  if (tail.length >= ESTARGZ_LEGACY_FOOTER_SIZE) {
    const b = tail.subarray(tail.length - ESTARGZ_LEGACY_FOOTER_SIZE);
    const xlen = b[10]! | (b[11]! << 8);
    if (isGzipExtra(b) && xlen === 22) {
      const tocOffset = decodePayload(b.subarray(12, 34));
      if (tocOffset !== undefined) return { tocOffset, footerSize: ESTARGZ_LEGACY_FOOTER_SIZE };
    }
  }
  return undefined;
}

/**
 * Reads and parses the footer of an eStargz blob with one read of its last 51 bytes.
 *
 * @param source - the compressed blob.
 * @param options - `subject` names the blob in errors.
 * @throws ImageError `DataLoss` when the blob does not end with an eStargz footer, or the TOC
 *   offset it gives lies outside the blob.
 * @example
 * ```ts
 * const { tocOffset } = await readEstargzFooter(blob);
 * ```
 */
export async function readEstargzFooter(source: ReadAtSource, options: ReadOptions & { subject?: string } = {}): Promise<EstargzFooter> {
  const subject = options.subject;
  const hint = 'the layer is announced as eStargz (toc.digest annotation) but is not one; rebuild it or drop the annotation';
  if (source.size < ESTARGZ_LEGACY_FOOTER_SIZE) {
    throw dataLoss(`the layer is ${source.size} bytes, too short for an eStargz footer`, { ...(subject === undefined ? {} : { subject }), hint });
  }
  const n = Math.min(ESTARGZ_FOOTER_SIZE, source.size);
  const tail = await source.readAt(source.size - n, n, options.signal === undefined ? {} : { signal: options.signal });
  const footer = parseEstargzFooter(tail);
  if (footer === undefined) throw dataLoss('the layer does not end with an eStargz footer', { ...(subject === undefined ? {} : { subject }), hint });
  if (footer.tocOffset >= source.size - footer.footerSize) {
    throw dataLoss(`the eStargz footer puts the TOC at ${footer.tocOffset}, past the blob's data (${source.size - footer.footerSize} bytes)`, { ...(subject === undefined ? {} : { subject }), hint });
  }
  return footer;
}
