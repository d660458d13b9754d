export * from './image-fs.js';
export * from './stats.js';
export * from './file-handle.js';
export * from './file-data.js';
export * from './read-stream.js';
export * from './resolve.js';
export * from './export.js';
export * from './xattr-restore.js';
