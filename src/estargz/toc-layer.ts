import type { Descriptor } from '../image/types.js';
import type { LayerContent } from '../layer/types.js';
import type { ReadOptions } from '../source/read-at.js';
import type { TarEntry } from '../tar/entry.js';
import type { EstargzChunkReader, EstargzReaderStats } from './chunk-reader.js';

/** A lazy layer served through its own table of contents (eStargz, zstd:chunked). */
export interface TocLayerContent<Toc> extends LayerContent {
  readonly mode: 'lazy';
  /** The verified TOC. */
  readonly toc: Toc;
  /** Fetches and bytes fetched by `data` so far. */
  readonly stats: EstargzReaderStats;
}

/**
 * The one implementation of {@link TocLayerContent}: entries converted from the TOC, bytes read
 * chunk by chunk (each verified against its digest) by an {@link EstargzChunkReader}.
 */
export class TocLayer<Toc> implements TocLayerContent<Toc> {
  readonly mode = 'lazy' as const;

  /**
   * @param descriptor - the layer descriptor.
   * @param toc - the verified table of contents.
   * @param list - its entries as tar entries (handed out as copies).
   * @param data - the chunk reader over the layer blob.
   */
  constructor(
    readonly descriptor: Descriptor,
    readonly toc: Toc,
    private readonly list: readonly TarEntry[],
    readonly data: EstargzChunkReader,
  ) {}

  /** Counters of the chunk reader. */
  get stats(): EstargzReaderStats {
    return this.data.stats;
  }

  /** The entries, as copies (callers may keep or change them). */
  async entries(_options?: ReadOptions): Promise<readonly TarEntry[]> {
    return this.list.map((e) => ({ ...e }));
  }

  /** Closes the chunk reader and its blob. */
  async close(): Promise<void> {
    await this.data.close();
  }
}
