/**
 * The binary layer index: tar entries, gzip checkpoints and span digests of one layer, encoded
 * compactly and opened lazily (format: docs/index-format.md).
 * @packageDocumentation
 */
export * from './checkpoint.js';
export * from './types.js';
export { encodeIndex, type EncodeIndexOptions } from './encode.js';
export { openIndex, LayerIndex, type OpenIndexOptions } from './layer-index.js';
export { INDEX_MAGIC, INDEX_VERSION } from './format.js';
export { checkIndexBounds } from './bounds.js';
