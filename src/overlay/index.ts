export * from './entry-path.js';
export * from './file-type.js';
export * from './inode-table.js';
export * from './merge-builder.js';
export * from './merged-tree.js';
export * from './merge.js';
export * from './warnings.js';
export * from './image-tree.js';
