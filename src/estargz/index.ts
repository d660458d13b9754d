/**
 * eStargz interop: layers converted by containerd's `estargz` tooling are read lazily through their
 * own TOC (footer and `stargz.index.json`), verified against the layer's toc.digest annotation.
 * @module
 */
export { ESTARGZ_FOOTER_SIZE, ESTARGZ_LEGACY_FOOTER_SIZE, parseEstargzFooter, readEstargzFooter, type EstargzFooter } from './footer.js';
export { DEFAULT_MAX_TOC_SIZE, ESTARGZ_TOC_DIGEST, ESTARGZ_TOC_NAME, estargzTocDigestOf, readEstargzToc, type EstargzToc, type EstargzTocEntry, type EstargzTocRead } from './toc.js';
export { ESTARGZ_LANDMARKS, MAX_TOC_CHUNK_SIZE, tocEntryToTarEntry, tocToLayout, type EstargzChunk, type EstargzLayout } from './toc-entries.js';
export { EstargzChunkReader, type EstargzChunkReaderOptions, type EstargzReaderStats } from './chunk-reader.js';
export { isEstargzLayer, openEstargzLayer, type EstargzLayerContent, type EstargzLayerOptions } from './estargz-layer.js';
export { TocLayer, type TocLayerContent } from './toc-layer.js';
