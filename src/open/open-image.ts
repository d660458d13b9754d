import pLimit from 'p-limit';
import { MemoryCache } from '../cache/memory-cache.js';
import { NoCache } from '../cache/no-cache.js';
import type { BlobCache } from '../cache/types.js';
import { BackgroundDownload } from '../layer/background-download.js';
import { FetchPriority } from '../layer/fetch-priority.js';
import { loadStartupProfile, ProfileRecorder, saveStartupProfile } from '../layer/startup-profile.js';
import type { IndexedLayerContent } from '../layer/indexed-layer.js';
import { ImageError, ImageFsError, throwIfAborted } from '../errors/image-fs-error.js';
import { tryParseDigest } from '../image/digest.js';
import type { IndexStore } from '../index-store/index-store.js';
import { checkProfileSpans } from '../index-store/profile-check.js';
import { planLayerModes } from '../eligibility/open-plan.js';
import { validateResolvedImage } from '../eligibility/validate-image.js';
import { ImageFs, type ImageFsOptions } from '../fs/image-fs.js';
import { ImageTree } from '../overlay/image-tree.js';
import { mergeLayers } from '../overlay/merge.js';
import type { ImageSource, Platform, ResolvedImage } from '../image/types.js';
import type { LayerContent } from '../layer/types.js';
import type { RegistryClientOptions } from '../registry/options.js';
import { UpperTree, type UpperOptions } from '../upper/upper-tree.js';
import type { ImageFsEventListener } from './events.js';
import { layerIndexStore, openLayers, type LayerStrategyOptions, type LazyLayerOptions } from './open-layers.js';
import { openSource } from './open-source.js';

/** Options of {@link openImage}. Sizes are in bytes, times in milliseconds. */
export interface OpenImageOptions extends RegistryClientOptions, LayerStrategyOptions, Pick<ImageFsOptions, 'strict' | 'onWarning'> {
  /** The platform to pick from a multi-platform image. Default: the host's. */
  platform?: Platform;
  /** Cancels opening (resolving, downloading, merging). */
  signal?: AbortSignal;
  /** Receives what happened (pulling, each layer's path, fallbacks, pulled). */
  onImageEvent?: ImageFsEventListener;
  /** The image, when the caller has resolved the source already (saves fetching the manifest again). */
  resolved?: ResolvedImage;
  /** Most layers opened at once. Default 4. */
  layerConcurrency?: number;
  /** Receives the background download when `background` starts one (to await `done`, read `progress`). */
  onBackground?: (download: BackgroundDownload) => void;
  /**
   * With a persistent `cache`: record the spans read in the first `profileWindowMs` after open (a
   * startup profile, kept in the cache as `startup-profile/<image digest>` when the image is closed,
   * the first one kept wins), and let the background download fetch the spans of a kept profile
   * first, in order. When the cache keeps none for the image, a profile stored in the registry next
   * to the indexes (`imagefs index --push --profile`) is used instead, bound to the image as the
   * indexes are (SECURITY.md), checked against the layers' indexes, and fetched after open without
   * holding it up (events `profile-used` / `profile-ignored`). Default true.
   */
  profile?: boolean;
  /** How long after open reads are recorded into the startup profile, ms. Default 10000. */
  profileWindowMs?: number;
  /**
   * Makes the file system writable: a directory for an upper kept on disk (made when missing,
   * reused when imagefs made it for this image, refused otherwise), or {@link UpperOptions}
   * (`{}` keeps it in memory). Without it every write fails with `EROFS`.
   */
  upper?: string | UpperOptions;
}

/**
 * Opens an image as a read-only {@link ImageFs}: resolves the reference, makes every layer
 * readable (lazily through a seekable index where there is one, whole and verified otherwise)
 * and merges them as containerd would unpack them.
 *
 * @param ref - `oci:DIR[:TAG]`, a registry reference, or an {@link ImageSource} (then owned:
 *   closing the ImageFs closes it)
 * @example
 * ```ts
 * const fs = await openImage('oci:./layout:latest');
 * console.log(await fs.readFile('/etc/os-release', 'utf8'));
 * await fs.close();
 * ```
 */
export async function openImage(ref: string | ImageSource, options: OpenImageOptions = {}): Promise<ImageFs> {
  const source = typeof ref === 'string' ? openSource(ref, registryOptionsOf(options)) : ref;
  const started = performance.now();
  const emit = options.onImageEvent ?? (() => {});
  let layers: LayerContent[] = [];
  let spanCache: MemoryCache | undefined; // made here, so closed with the image
  let compressedCache: MemoryCache | undefined;
  const profileLookup = new AbortController(); // a registry profile being fetched stops with the image
  try {
    emit({ type: 'pulling', reference: source.reference });
    const resolved = options.resolved ?? (await source.resolve({ platform: options.platform, signal: options.signal }));
    validateResolvedImage(resolved); // one diff_id per layer, known digest algorithms (InvalidArgument naming the descriptor)
    // auto: the eligibility analysis decides which layers must be whole and says why (never silent).
    // Every layer whole in the disk cache (a finished pull or background download): no range will be
    // asked of the registry, so its Range support need not be probed (a second open stays off the network).
    const cached = options.cache !== undefined && !(options.cache instanceof NoCache)
      && (await Promise.all(resolved.layers.map((l) => options.cache!.has(l.digest).catch(() => false)))).every(Boolean);
    const plan = (options.mode ?? 'auto') === 'auto'
      ? await planLayerModes(source, resolved, {
        ...registryOptionsOf(options),
        ...(cached ? { probeRange: false } : {}),
        ...(options.minLazyLayerSize === undefined ? {} : { minLazyLayerSize: options.minLazyLayerSize }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        onFallback: (reasons) => emit({ type: 'fallback', reference: source.reference, reasons }),
      })
      : undefined;
    spanCache = options.spanCache === undefined ? new MemoryCache() : undefined;
    const withSpans = spanCache === undefined ? options : { ...options, spanCache };
    const layerOptions = plan === undefined || plan.whole.size === 0 ? withSpans : { ...withSpans, wholeLayers: plan.whole };
    compressedCache = options.compressedCache === undefined ? new MemoryCache() : undefined;
    const memory = options.compressedCache ?? compressedCache!;
    const store = options.cache === undefined || options.cache instanceof NoCache ? undefined : options.cache;
    const priority = new FetchPriority();
    let warned = false;
    const warn = (message: string): void => {
      if (!warned) emit({ type: 'cache-warning', reference: source.reference, message });
      warned = true;
    };
    const recorder = store !== undefined && options.profile !== false ? new ProfileRecorder(options.profileWindowMs) : undefined;
    const lazy: LazyLayerOptions = {
      ...(recorder === undefined ? {} : { onForeground: (digest: string, span: number) => recorder.note(digest, span) }),
      compressedCache: memory,
      priority,
      readaheadMaxBytes: options.readaheadMaxBytes ?? (store !== undefined ? DEFAULT_READAHEAD : Math.floor((memory instanceof MemoryCache ? memory.maxBytes : DEFAULT_READAHEAD) / 4)),
      onStoreError: (error) => warn(`the cache could not keep a span (${(error as Error).message}); reads go on from the network`),
      onCache: (e) => emit(e.from === 'network'
        ? { type: 'cache-miss', layer: e.layerDigest, span: e.span, bytes: e.bytes }
        : { type: 'cache-hit', layer: e.layerDigest, span: e.span, bytes: e.bytes, from: e.from }),
      ...(store === undefined ? {} : { store }),
    };
    const indexStore = layerIndexStore(source, options, emit);
    layers = await openLayers(source, resolved, { ...layerOptions, indexStore }, pLimit(options.layerConcurrency ?? 4), emit, lazy);
    throwIfAborted(options.signal);
    const tree = await mergeLayers(layers, { signal: options.signal, strict: options.strict, onWarning: options.onWarning });
    // The background download's order: the profile kept in the cache, else one stored in the
    // registry next to the indexes (fetched after open returns; the download waits for it).
    const kept = store !== undefined && options.profile !== false && options.background === true ? await loadStartupProfile(store, resolved.digest) : undefined;
    const first = kept !== undefined ? kept.spans
      : store !== undefined && options.profile !== false && options.background === true
        ? registryProfile(indexStore, resolved, layers, source.reference, priority, emit, profileLookup.signal)
        : undefined;
    const background = options.background === true ? startBackground(source.reference, resolved.digest, layers, store, priority, emit, warn, first) : undefined;
    if (background !== undefined) options.onBackground?.(background);
    const owned = [...layers, source, ...(spanCache ? [spanCache] : []), ...(compressedCache ? [compressedCache] : [])];
    const closer = {
      close: async () => {
        profileLookup.abort();
        await background?.stop();
        if (recorder !== undefined && store !== undefined) await saveStartupProfile(store, resolved.digest, recorder.profile());
        await Promise.all(owned.map((c) => c.close()));
      },
    };
    const imageTree = new ImageTree(tree, layers.map((l) => l.data));
    const upper = options.upper === undefined ? undefined
      : UpperTree.open(imageTree, { fingerprint: resolved.digest, ...(typeof options.upper === 'string' ? { dir: options.upper } : options.upper) });
    const upperCloser = upper === undefined ? [] : [{ close: async () => upper.close() }];
    const fs = new ImageFs(upper ?? imageTree, { dev: devOf(resolved), closers: [...upperCloser, closer] });
    const lazyCount = layers.filter((l) => l.mode === 'lazy').length;
    if (lazyCount > 0) emit({ type: 'streaming', reference: source.reference, digest: resolved.digest, lazy: lazyCount, layers: layers.length });
    emit({ type: 'pulled', reference: source.reference, digest: resolved.digest, ms: performance.now() - started, streaming: lazyCount > 0 });
    return fs;
  } catch (error) {
    profileLookup.abort();
    await Promise.allSettled([...layers.map((l) => l.close()), source.close(), spanCache?.close(), compressedCache?.close()]);
    throw error;
  }
}

const DEFAULT_READAHEAD = 64 * 1024 * 1024;

/** Starts the background download of the lazily read layers into `store` (none without a store). */
function startBackground(
  reference: string, digest: string, layers: readonly LayerContent[], store: BlobCache | undefined,
  priority: FetchPriority, emit: ImageFsEventListener, warn: (message: string) => void,
  first?: ReadonlyArray<readonly [string, number]> | Promise<ReadonlyArray<readonly [string, number]> | undefined>,
): BackgroundDownload | undefined {
  if (store === undefined) {
    warn('background download needs a persistent cache (the cache option, or --cache DIR): nothing is downloaded in the background');
    return undefined;
  }
  const spans = layers.flatMap((l) => ('spans' in l ? [(l as IndexedLayerContent).spans] : []));
  const started = performance.now();
  const download = new BackgroundDownload(spans, {
    priority,
    ...(first === undefined ? {} : { first }),
    onProgress: (p) => emit({ type: 'progress', reference, ...p }),
  });
  download.done.then(
    () => emit({ type: 'downloaded', reference, digest, bytes: download.progress.bytes, fetched: download.progress.fetched, ms: performance.now() - started }),
    (error: unknown) => {
      if ((error as { code?: string }).code !== 'Aborted') warn(`the background download stopped: ${(error as Error).message}`);
    },
  );
  download.start();
  return download;
}

/**
 * The spans of the startup profile stored in the registry next to `image`'s indexes, checked
 * against the lazily read layers (a span of a layer of another image, or beyond its layer's
 * index, discards the profile; spans of layers read whole here are dropped), or undefined. Never
 * rejects: a profile is only a hint, so whatever is wrong with it is a `profile-ignored` event.
 * Its requests wait for the foreground fetches running when it starts.
 */
async function registryProfile(
  store: IndexStore, image: ResolvedImage, layers: readonly LayerContent[], reference: string,
  priority: FetchPriority, emit: ImageFsEventListener, signal: AbortSignal,
): Promise<Array<[string, number]> | undefined> {
  const counts = new Map<string, number>();
  for (const l of layers) if ('spans' in l) counts.set((l as IndexedLayerContent).spans.layerDigest, (l as IndexedLayerContent).spans.count);
  if (counts.size === 0) return undefined;
  let digest: string | undefined;
  try {
    await new Promise((resolve) => setImmediate(resolve)); // let the caller's first read start
    await priority.idle();
    throwIfAborted(signal);
    const found = await store.findProfile(image, { signal });
    if (found === undefined) return undefined;
    digest = found.artifact.digest;
    const spans = checkProfileSpans(found.profile, image.layers.map((l) => l.digest), counts, 'skip');
    emit({ type: 'profile-used', reference, imageDigest: image.digest, digest, spans: spans.length, binding: found.binding });
    return spans;
  } catch (error) {
    if (signal.aborted) return undefined; // the image was closed meanwhile
    const subject = error instanceof ImageError ? error.subject : undefined;
    digest ??= subject !== undefined && tryParseDigest(subject) !== undefined ? subject : undefined;
    emit({
      type: 'profile-ignored', reference, imageDigest: image.digest, ...(digest === undefined ? {} : { digest }),
      code: ImageFsError.is(error) ? error.code : 'Internal', why: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}

/** The options of openImage that are not the registry client's (the client rejects unknown ones). */
const OPEN_IMAGE_ONLY = new Set<string>([
  'platform', 'signal', 'onImageEvent', 'resolved', 'layerConcurrency', 'strict', 'onWarning',
  'mode', 'indexing', 'minLazyLayerSize', 'indexCache', 'registryIndexes', 'indexStore', 'span',
  'cache', 'wholeLayers', 'spanCache', 'compressedCache', 'readaheadMaxBytes', 'background', 'onBackground', 'wholeLayerMemoryBytes', 'profile', 'profileWindowMs',
  'upper',
]);

/** The registry client options among `options`. */
function registryOptionsOf(options: OpenImageOptions): RegistryClientOptions {
  return Object.fromEntries(Object.entries(options).filter(([key]) => !OPEN_IMAGE_ONLY.has(key))) as RegistryClientOptions;
}

/** A stable device number for an image: from its manifest digest. */
function devOf(image: ResolvedImage): number {
  return parseInt(image.digest.slice(-8), 16) >>> 0 || 1;
}
