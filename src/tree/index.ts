/**
 * The tree seam: the read-only tree interface every file system view is built on, and file data.
 * @packageDocumentation
 */
export * from './types.js';
export * from './file-data.js';
