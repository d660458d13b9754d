/**
 * imagefs: a lazy filesystem over OCI container images.
 *
 * @packageDocumentation
 */
export * from './errors/index.js';
export type { ReadAtSource, ReadOptions } from './source/read-at.js';
export { BufferSource } from './source/read-at.js';
export * from './image/types.js';
export * from './image/media-types.js';
export { hostPlatform, parsePlatform, formatPlatform, selectPlatform, platformMatches } from './image/platform.js';
export type { TarEntry, EntryType } from './tar/entry.js';
export type { LayerContent } from './layer/types.js';
