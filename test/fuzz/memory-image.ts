// An ImageSource over blobs held in memory, for fuzz targets that open layers without a registry.
import type { Descriptor, ImageSource, ResolvedImage } from '../../src/image/types.js';
import { BufferSource, type ReadAtSource } from '../../src/source/read-at.js';

/** An ImageSource whose only ability is `openBlob` over `blobs` (by digest). */
export function memoryImageSource(blobs: ReadonlyMap<string, Uint8Array>): ImageSource {
  return {
    reference: 'fuzz:memory',
    resolve: (): Promise<ResolvedImage> => Promise.reject(new Error('memoryImageSource cannot resolve')),
    openBlob: async (descriptor: Descriptor): Promise<ReadAtSource> => {
      const blob = blobs.get(descriptor.digest);
      if (blob === undefined) throw new Error(`no blob ${descriptor.digest}`);
      return new BufferSource(blob);
    },
    close: async () => {},
  } as unknown as ImageSource;
}
