/**
 * zstd:chunked interop: layers written by containers/storage (podman, buildah, skopeo
 * `--dest-compress-format zstd:chunked`) are read lazily through their own TOC, verified against
 * the layer's manifest-checksum annotation.
 * @module
 */
export { findZstdChunkedToc, parseZstdChunkedFooter, parseZstdChunkedPosition, ZSTD_CHUNKED_POSITION_ANNOTATIONS, zstdChunkedPositionOf, type ZstdChunkedPosition } from './footer.js';
export { DEFAULT_MAX_ZSTD_TOC_SIZE, readZstdChunkedToc, ZSTD_CHUNKED_CHECKSUM_ANNOTATIONS, zstdChunkedChecksumOf, type ZstdChunkedToc, type ZstdChunkedTocEntry, type ZstdChunkedTocRead } from './toc.js';
export { zstdTocToLayout } from './toc-entries.js';
export { isZstdChunkedLayer, openZstdChunkedLayer, type ZstdChunkedLayerContent, type ZstdChunkedLayerOptions } from './zstd-chunked-layer.js';
