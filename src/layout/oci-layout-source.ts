import { hostPlatform } from '../image/platform.js';
import type { Descriptor, ImageSource, ResolvedImage, ResolveOptions } from '../image/types.js';
import type { ReadAtSource, ReadOptions } from '../source/read-at.js';
import { LayoutBlobStore } from './blob-store.js';
import { OCI_PREFIX, type OciLayoutRef } from './image-ref.js';
import { chooseLayoutImage, readLayoutIndex } from './layout-index.js';
import { resolveLayoutImage } from './resolve-image.js';

/** Options of {@link OciLayoutSource}. */
export interface OciLayoutSourceOptions {
  /** The `org.opencontainers.image.ref.name` to pick; without it the layout must hold one image. */
  tag?: string;
}

/**
 * An {@link ImageSource} over a local OCI image layout directory (`oci:DIR[:TAG]`, as skopeo and
 * umoci write it). `resolve` reads `oci-layout` and `index.json`, picks the tagged image
 * (following nested indexes), selects the platform from an index (the host's by default), and
 * verifies the manifest and config against their digests before parsing them. `openBlob` opens
 * a blob as a positioned-read {@link ReadAtSource} over its file, after checking its size.
 *
 * Nothing is cached between calls: `resolve` re-reads the layout every time.
 *
 * @example
 * ```ts
 * const source = OciLayoutSource.fromRef(parseImageRef('oci:./layout:v1') as OciLayoutRef);
 * const image = await source.resolve({ platform: parsePlatform('linux/arm64') });
 * const blob = await source.openBlob(image.layers[0]!);
 * await source.close();
 * ```
 */
export class OciLayoutSource implements ImageSource {
  /** The reference, `oci:DIR[:TAG]`. */
  readonly reference: string;
  /** The layout directory. */
  readonly dir: string;
  /** The tag to pick, if any. */
  readonly tag: string | undefined;
  private readonly blobs: LayoutBlobStore;
  private readonly open = new Set<ReadAtSource>();

  /**
   * @param dir - the layout directory.
   * @param options - the tag to pick.
   */
  constructor(dir: string, options: OciLayoutSourceOptions = {}) {
    this.dir = dir;
    this.tag = options.tag;
    this.reference = `${OCI_PREFIX}${dir}${options.tag === undefined ? '' : `:${options.tag}`}`;
    this.blobs = new LayoutBlobStore(dir);
  }

  /** Creates a source from a parsed `oci:` reference. */
  static fromRef(ref: OciLayoutRef): OciLayoutSource {
    return new OciLayoutSource(ref.dir, ref.tag === undefined ? {} : { tag: ref.tag });
  }

  /**
   * Resolves the reference to one platform's manifest and config, both verified.
   *
   * @throws ImageError `NotFound` (no layout, missing blob, absent tag or platform),
   *   `InvalidArgument` (malformed or unsupported content, several images and no tag),
   *   `DataLoss` (digest or size mismatch).
   */
  async resolve(options: ResolveOptions = {}): Promise<ResolvedImage> {
    const index = await readLayoutIndex(this.dir, options);
    const choice = await chooseLayoutImage(this.blobs, index, this.tag, options);
    return resolveLayoutImage(this.blobs, choice, options.platform ?? hostPlatform(), this.reference, options);
  }

  /**
   * Opens a blob for random access. Its size is checked against the descriptor; its bytes are
   * not verified (whole readers verify the digest, lazy readers verify spans).
   *
   * @throws ImageError `NotFound` for a missing blob, `DataLoss` for a size mismatch,
   *   `InvalidArgument` for an unusable digest.
   */
  async openBlob(descriptor: Descriptor, options: ReadOptions = {}): Promise<ReadAtSource> {
    const file = await this.blobs.open(descriptor, `blob ${descriptor.digest}`, options);
    const tracked: ReadAtSource = {
      size: file.size,
      readAt: (offset, length, readOptions) => file.readAt(offset, length, readOptions),
      close: async () => {
        this.open.delete(tracked);
        await file.close();
      },
    };
    this.open.add(tracked);
    return tracked;
  }

  /** Closes every blob opened through this source and not yet closed. */
  async close(): Promise<void> {
    const all = [...this.open];
    this.open.clear();
    await Promise.all(all.map((s) => s.close?.()));
  }
}
