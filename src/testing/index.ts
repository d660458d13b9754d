/**
 * The imagefs test bench: a deterministic image builder, a real registry launcher (CNCF
 * distribution with basic auth, bearer tokens, redirects and schema 1 variants), push helpers and
 * a fault-injecting proxy. Import from `imagefs/testing`.
 *
 * @packageDocumentation
 */
export * from './builder/index.js';
export * from './registry/index.js';
export { runCacheConformance, fixtureBytes, ESCAPING_KEYS, type ConformanceOptions, type ConformanceExpect } from './cache-conformance.js';
export { validateIndex } from './validate-index.js';
