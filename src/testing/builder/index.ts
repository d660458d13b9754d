/**
 * The deterministic test-image builder: declarative tar entries, a tar encoder (ustar, PAX, GNU),
 * layer compressions, in-memory images and OCI layouts. See README.md in this folder.
 * @module
 */
export * from './random.js';
export * from './tar-header.js';
export * from './tar-writer.js';
export * from './entries.js';
export * from './capability.js';
export * from './compress.js';
export * from './digest.js';
export * from './run-tool.js';
export * from './expected-tree.js';
export * from './build-image.js';
export * from './image-index.js';
export * from './write-layout.js';
export * from './dir-image.js';
export * from './schema1.js';
export * from './disk-tree.js';
export * from './compare-trees.js';
export * from './kitchen-sink.js';
export * from './estargz.js';
