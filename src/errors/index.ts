export * from './image-fs-error.js';
export * from './registry-error.js';
export * from './fs-error.js';
