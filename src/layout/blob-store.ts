import { join } from 'node:path';
import { dataLoss, invalidArgument, notFound, throwIfAborted } from '../errors/image-fs-error.js';
import type { Descriptor } from '../image/types.js';
import { FileSource } from '../source/file-source.js';
import type { ReadOptions } from '../source/read-at.js';
import { parseDigest, verifyDigest } from '../image/digest.js';

/** Largest manifest, index or config imagefs reads into memory (bytes). */
export const MAX_METADATA_BLOB = 16 * 1024 * 1024;

/**
 * The `blobs/ALGO/HEX` store of an OCI image layout. Every blob is opened as a
 * {@link FileSource} after its descriptor's digest and size have been checked against the file;
 * metadata blobs are read whole and verified before they are parsed.
 */
export class LayoutBlobStore {
  /** @param dir - the layout directory. */
  constructor(readonly dir: string) {}

  /**
   * The path of a descriptor's blob. The digest is validated first, so a malformed digest can
   * never name a file outside `blobs/`.
   *
   * @param where - names the descriptor in errors ("index.json entry 0", "layer 2").
   */
  pathOf(descriptor: Descriptor, where: string): string {
    const { algorithm, hex } = parseDigest(descriptor.digest, where);
    return join(this.dir, 'blobs', algorithm, hex);
  }

  /**
   * Opens a descriptor's blob for random access. The bytes are not verified here (lazy readers
   * verify what they read); the size is.
   *
   * @throws ImageError `NotFound` when the blob file is missing, `DataLoss` when its size is not
   *   the descriptor's, `InvalidArgument` for an unusable digest or size.
   */
  async open(descriptor: Descriptor, where: string, options: ReadOptions = {}): Promise<FileSource> {
    throwIfAborted(options.signal);
    checkSize(descriptor, where);
    const path = this.pathOf(descriptor, where);
    let source: FileSource;
    try {
      source = await FileSource.open(path, options);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw notFound(`blob ${descriptor.digest} (${where}) is missing: no file ${path}`, {
          subject: path,
          cause: error,
          hint: 'the layout is incomplete; copy the image again (skopeo copy ... oci:DIR:TAG) or run umoci gc only after tagging',
        });
      }
      throw error;
    }
    if (source.size !== descriptor.size) {
      await source.close();
      const kind = source.size < descriptor.size ? 'truncated: it has' : 'larger than its descriptor: it has';
      throw dataLoss(`blob ${path} (${where}) is ${kind} ${source.size} bytes, the descriptor says ${descriptor.size}`, {
        subject: path,
        hint: 'the layout is corrupt; copy the image again',
      });
    }
    return source;
  }

  /**
   * Reads a metadata blob (manifest, index, config) whole and verifies its digest before
   * returning a byte of it.
   *
   * @throws ImageError `InvalidArgument` when it is larger than {@link MAX_METADATA_BLOB}, plus
   *   everything {@link LayoutBlobStore.open} throws and `DataLoss` on a digest mismatch.
   */
  async readVerified(descriptor: Descriptor, where: string, options: ReadOptions = {}): Promise<Uint8Array> {
    checkSize(descriptor, where);
    if (descriptor.size > MAX_METADATA_BLOB) {
      throw invalidArgument(`${where} (${descriptor.digest}) is ${descriptor.size} bytes, more than the ${MAX_METADATA_BLOB} bytes allowed for a manifest, index or config`, {
        subject: descriptor.digest,
        hint: 'this is not an image manifest; check the reference',
      });
    }
    const source = await this.open(descriptor, where, options);
    try {
      const bytes = await source.readAt(0, source.size, options);
      verifyDigest(bytes, descriptor.digest, `blob ${source.path} (${where})`);
      return bytes;
    } finally {
      await source.close();
    }
  }
}

function checkSize(descriptor: Descriptor, where: string): void {
  if (!Number.isSafeInteger(descriptor.size) || descriptor.size < 0) {
    throw invalidArgument(`${where} has size ${String(descriptor.size)}, which is not a byte count`, {
      subject: where,
      hint: 'the manifest or index is malformed; rebuild or copy the image again',
    });
  }
}
