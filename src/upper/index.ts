/**
 * The writable upper layer: an in-memory or on-disk upper over any lower tree, and committing it
 * as an OCI layer.
 * @packageDocumentation
 */
export * from './upper-tree.js';
export * from './extent-content.js';
export * from './journal.js';
export * from './records.js';
export * from './rename-check.js';
export * from './layer-diff.js';
export * from './tar-writer.js';
export * from './layer-writer.js';
export * from './commit.js';
export * from './commit-ref.js';
export { UpperState, type DirState, type UNode } from './upper-state.js';
export { UpperApply } from './upper-apply.js';
