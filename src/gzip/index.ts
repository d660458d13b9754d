/**
 * Seekable gzip (zran) on native zlib: build an index while streaming a layer, then read any
 * uncompressed range by fetching and inflating only the spans it needs. See docs/inflater.md.
 * @module
 */
export type { Checkpoint, GzipIndex, GzipSpanIndex } from './checkpoint.js';
export { gzipSpanIndex, spanRange } from './checkpoint.js';
export { buildGzipIndex, DEFAULT_SPAN, GzipIndexBuilder } from './index-builder.js';
export type { GzipIndexBuilderOptions, GzipIndexBuilderStats } from './index-builder.js';
export { GzipSpanReader } from './span-reader.js';
export type { GzipSpanReaderOptions, GzipSpanReaderStats } from './span-reader.js';
export { inflateFrom } from './inflate-from.js';
export { validateCheckpoints } from './validate.js';
export { nativeInflateProblem } from './native-inflate.js';
export { createInflater, inflateEngine, onInflateFallback, setInflateEngine } from './inflater.js';
export type { Inflater, InflateEngine, InflateEngineStatus, InflateFallbackListener } from './inflater.js';
export { JsInflater } from './js-inflate.js';
export { inflateFromAsync } from './inflate-async.js';
export type { InflateAsyncOptions, InflateAsyncResult } from './inflate-async.js';
export { defaultSpanPool, SpanPool } from './span-pool.js';
export type { SpanJob, SpanJobFailure, SpanJobResult, SpanPoolOptions } from './span-pool.js';
