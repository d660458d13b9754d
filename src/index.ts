/**
 * imagefs: a lazy filesystem over OCI container images. Open any image (a registry reference or
 * `oci:DIR[:TAG]`) with {@link openImage} and read its files through a `node:fs/promises`-like
 * {@link ImageFs}; only the bytes you read travel.
 *
 * @packageDocumentation
 */
// Errors and constants
export * from './errors/index.js';
export { constants, IMAGE_ERROR_CODES, FS_ERROR_CODES } from './constants.js';

// Contracts
export type { ReadAtSource, ReadOptions } from './source/read-at.js';
export { BufferSource } from './source/read-at.js';
export { FileSource, type FileSourceOptions } from './source/file-source.js';
export * from './image/types.js';
export * from './image/media-types.js';
export { hostPlatform, parsePlatform, formatPlatform, selectPlatform, platformMatches } from './image/platform.js';
export type { TarEntry, EntryType } from './tar/entry.js';
export type { LayerContent } from './layer/types.js';

// Opening images
export { openImage, type OpenImageOptions } from './open/open-image.js';
export { openSource } from './open/open-source.js';
export type { LayerStrategyOptions, LazyLayerOptions } from './open/open-layers.js';
export type { ImageFsEvent, ImageFsEventListener, LayerHow } from './open/events.js';

// Sources
export * from './layout/index.js';
export * from './registry/index.js';
export { schema1ToResolvedImage, type Schema1ConversionOptions } from './registry/schema1.js';
export { openWholeLayer, type WholeLayerOptions } from './layer/whole-layer.js';

// Lazy layers: seekable gzip, the index, and where indexes are kept
export { buildIndex, notIndexableReason, DEFAULT_INDEX_READ_SIZE, type BuildIndexOptions, type BuildIndexStats, type BuiltLayerIndex } from './layer/build-index.js';
export { openIndexedLayer, type IndexedLayerContent, type IndexedLayerOptions } from './layer/indexed-layer.js';
export { SpanCachedSource } from './layer/span-cached-source.js';
export { BACKGROUND_CALM_MS, BACKGROUND_PIECE, CompressedSpans, type CompressedSpansOptions, type SpanCacheEvent, type SpanFetchOptions, type SpanFetchStats } from './layer/compressed-spans.js';
export { LazyLayerData } from './layer/lazy-layer-data.js';
export { FetchPriority } from './layer/fetch-priority.js';
export { BACKGROUND_RUN_BYTES, BackgroundDownload, type BackgroundDownloadOptions, type BackgroundProgress } from './layer/background-download.js';
export { compressedRangeKey, tarRangeKey, spanBounds, type SpanBounds } from './layer/span-keys.js';
export { DEFAULT_WHOLE_LAYER_MEMORY } from './layer/whole-layer.js';
export { ProfileRecorder, loadStartupProfile, saveStartupProfile, startupProfileKey, type StartupProfile } from './layer/startup-profile.js';
export * from './estargz/index.js';
export * from './zstd-chunked/index.js';
export * from './index-store/index.js';
export { GzipIndexBuilder, buildGzipIndex, GzipSpanReader, gzipSpanIndex, DEFAULT_SPAN, type GzipIndex, type GzipSpanIndex } from './gzip/index.js';
export type { GzipIndexBuilderOptions, GzipIndexBuilderStats } from './gzip/index-builder.js';
export type { GzipSpanReaderOptions, GzipSpanReaderStats } from './gzip/span-reader.js';
export { inflateEngine, onInflateFallback, SpanPool, defaultSpanPool, type InflateEngine, type InflateEngineStatus, type InflateFallbackListener, type SpanPoolOptions, type SpanJob, type SpanJobResult, type SpanJobFailure } from './gzip/index.js';
export { UncompressedSpanReader, type SpanReaderStats } from './layer/uncompressed-span-reader.js';

// Formats
export { TarStreamParser, parseTar, normalizeTarPath, storedSize, type TarParserOptions, type SparseMap } from './tar/index.js';
export { DEFAULT_TAR_LIMITS, TarUsage, resolveTarLimits, tarLimitError, type TarLimits } from './tar/limits.js';
export { decodeRawName, encodeRawName, displayName } from './tar/raw-name.js';
export * from './layer-index/index.js';
export type { IndexHeader, IndexCounts } from './layer-index/format.js';

// The filesystem
export {
  ImageFs, type ImageFsOptions, type WalkEntry, type XattrOptions, type StatOptions, type ReaddirOptions, type OpendirOptions, type ImageStatFs,
} from './fs/image-fs.js';
export { ImageStats, ImageBigIntStats, ImageDirent, type StatsInit } from './fs/stats.js';
export { ImageDir } from './fs/dir.js';
export type { PathLike, NameEncoding } from './fs/fs-args.js';
export { FileData } from './tree/file-data.js';
export { ROOT_INO, type FsTree, type NodeAttrs, type Timespec, type TreeDirEntry, type FileContent } from './tree/types.js';
export { ImageTree } from './overlay/image-tree.js';
export type { ReadStreamOptions } from './fs/read-stream.js';
export { resolvePath, dirPath, MAX_SYMLINKS, type ResolveOptions as PathResolveOptions, type Resolved } from './fs/resolve.js';
export { ImageFileHandle, HANDLE_CHUNK, type ReadResult, type ReadVResult, type ReadIntoOptions, type OpenedFile } from './fs/file-handle.js';
export { exportTo, type ExportOptions, type ExportSummary } from './fs/export.js';
export { TimeRestore, type TimeRestoreMethod } from './fs/time-restore.js';

// The writable upper layer and commit
export {
  type ImageFsInit, type Closer, type WriteFileOptions, type MkdirOptions, type SetXattrOptions, type CpOptions, type RmOptions,
} from './fs/image-fs.js';
export type { HandleWriter, WriteResult } from './fs/file-handle.js';
export { toTimespec, resolveParent, PATH_MAX, NAME_MAX_BYTES, type TimeLike, type ParentRef } from './fs/write-args.js';
export { WriteOps, type Creator } from './fs/write-ops.js';
export { RenameFlags, isWritableTree, type WritableFsTree, type CreateSpec, type SetAttrs } from './tree/types.js';
export * from './upper/index.js';
export { mergeLayers, type MergeOptions } from './overlay/merge.js';
export { MergedTree, type DentryColumns, type Xattr, type MergedTreeParts, type ExtraTimes } from './overlay/merged-tree.js';
export { InodeTable, BytePool, type InodeAttrs } from './overlay/inode-table.js';
export { MAX_KEPT_WARNINGS, type MergeWarning, type MergeWarningCode } from './overlay/warnings.js';
export { makedev, major, minor } from './overlay/file-type.js';

// Caches
export * from './cache/index.js';

// Eligibility and the full pull
export { analyzeEligibility, gatherFacts, type AnalyzeEligibilityOptions } from './eligibility/analyze.js';
export { validateResolvedImage } from './eligibility/validate-image.js';
export { pullImage, type PullImageOptions } from './layer/full-pull.js';
export { layerTarKey } from './layer/whole-layer.js';
export { imageStreamingMemoryReservation } from './eligibility/memory-reservation.js';
export { applyEligibilityRules, EMPTY_GZIP_LAYER_DIGEST, DEFAULT_MIN_LAZY_LAYER_SIZE, type EligibilityFacts } from './eligibility/rules.js';
export * from './eligibility/report.js';
