/**
 * The streaming tar reader: header codec, PAX records, GNU sparse maps, integer times, exact
 * names, path normalisation and the push parser.
 * @packageDocumentation
 */
export type { EntryType, SparseMap, TarEntry } from './entry.js';
export { storedSize } from './entry.js';
export * from './header.js';
export * from './pax.js';
export * from './path.js';
export * from './parser.js';
export * from './raw-name.js';
export * from './sparse.js';
export * from './time.js';
export * from './limits.js';
