import type { Descriptor, ImageSource } from '../image/types.js';
import type { RegistryClientOptions, RegistryEvent } from '../registry/options.js';
import { RegistrySource } from '../registry/registry-source.js';

/** The keys of {@link RegistryClientOptions}, to pick them out of a larger options object. */
const CLIENT_OPTION_KEYS: ReadonlyArray<keyof RegistryClientOptions> = [
  'credentials', 'authFile', 'env', 'insecure', 'mirrors', 'maxConcurrentPerHost', 'connectionsPerOrigin',
  'connectTimeoutMs', 'idleTimeoutMs', 'retries', 'retryBaseDelayMs', 'retryMaxDelayMs', 'retryBudgetMs',
  'mergeGapBytes', 'maxMergedBytes', 'maxManifestBytes', 'userAgent', 'dispatcher', 'onEvent',
];

/**
 * The registry client options found in `options` (which may hold more, such as `openImage`'s),
 * without the others (the client refuses unknown keys).
 */
export function pickClientOptions(options: object): RegistryClientOptions {
  const out: Record<string, unknown> = {};
  for (const key of CLIENT_OPTION_KEYS) {
    const value = (options as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = value;
  }
  return out as RegistryClientOptions;
}

/** True when the source is a registry source (it can fetch manifests and verified blobs). */
export function isRegistrySource(source: ImageSource): source is RegistrySource {
  return source instanceof RegistrySource
    || (typeof (source as Partial<RegistrySource>).fetchManifest === 'function' && typeof (source as Partial<RegistrySource>).readBlobVerified === 'function');
}

/** The blob the probe reads: the first layer of at least 2 bytes that the registry serves itself. */
export function probeTarget(layers: readonly Descriptor[]): Descriptor | undefined {
  return layers.find((l) => l.size >= 2 && (l.urls?.length ?? 0) === 0);
}

/** Options of {@link probeRangeSupport}. */
export interface RangeProbeOptions extends RegistryClientOptions {
  /** Cancels the probe. */
  signal?: AbortSignal;
}

/**
 * Asks the registry behind `reference` whether it honours HTTP Range: one request for byte 1 of
 * `blob` (`Range: bytes=1-1`) through a client of its own (so its events can be watched; it is
 * closed afterwards). A 206 answer means yes; a 200 with the whole blob (the client's
 * `range-ignored` event) means no. Errors (missing blob, auth) propagate.
 *
 * @param reference - the registry reference of the image.
 * @param blob - a blob of the image's repository, at least 2 bytes long.
 * @param options - the registry client options the image is pulled with, and an AbortSignal.
 * @returns `true` when the registry answered with a partial response.
 * @example
 * ```ts
 * const ok = await probeRangeSupport('127.0.0.1:5000/app:1', image.layers[0]!);
 * ```
 */
export async function probeRangeSupport(reference: string, blob: Descriptor, options: RangeProbeOptions = {}): Promise<boolean> {
  const { signal, ...rest } = options;
  const clientOptions = pickClientOptions(rest);
  let ignored = false;
  const userListener = clientOptions.onEvent;
  const onEvent = (event: RegistryEvent): void => {
    if (event.type === 'range-ignored') ignored = true;
    userListener?.(event);
  };
  const probe = new RegistrySource(reference, { ...clientOptions, onEvent });
  try {
    const opened = await probe.openBlob(blob, signal === undefined ? {} : { signal });
    await opened.readAt(1, 1, signal === undefined ? {} : { signal });
    await opened.close();
    return !ignored;
  } finally {
    await probe.close();
  }
}
