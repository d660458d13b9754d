/**
 * The streaming tar reader: header codec, PAX records, path normalisation and the push parser.
 * @packageDocumentation
 */
export type { EntryType, TarEntry } from './entry.js';
export * from './header.js';
export * from './pax.js';
export * from './path.js';
export * from './parser.js';
