/**
 * Startup profiles: which spans an image's first seconds of use read, kept in the cache so that a
 * later open fetches them first.
 * @module
 */
import type { BlobCache } from '../cache/types.js';
import { putEntry } from '../cache/write-entry.js';

/** The spans read in the first seconds after an image was opened, in the order first read. */
export interface StartupProfile {
  /** Format version (1). */
  version: 1;
  /** `[layer digest, span index]`, in order of first read. */
  spans: Array<[string, number]>;
}

/** The cache key of an image's startup profile: `startup-profile/<image digest>`. */
export function startupProfileKey(imageDigest: string): string {
  return `startup-profile/${imageDigest}`;
}

/** Most spans a profile keeps. */
const MAX_SPANS = 4096;

/**
 * Records the spans foreground reads ask for during `windowMs` after it was made (default 10 s).
 *
 * @example
 * ```ts
 * const recorder = new ProfileRecorder();
 * recorder.note(layer.digest, 3);
 * await saveStartupProfile(cache, image.digest, recorder.profile());
 * ```
 */
export class ProfileRecorder {
  private readonly seen = new Set<string>();
  private readonly order: Array<[string, number]> = [];
  private readonly until: number;

  constructor(windowMs = 10_000) {
    this.until = performance.now() + windowMs;
  }

  /** Notes a foreground read of span `span` of layer `digest` (ignored once the window closed). */
  note(digest: string, span: number): void {
    if (performance.now() > this.until || this.order.length >= MAX_SPANS) return;
    const key = `${digest}/${span}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.order.push([digest, span]);
  }

  /** What was recorded. */
  profile(): StartupProfile {
    return { version: 1, spans: [...this.order] };
  }
}

/**
 * The startup profile of `imageDigest` kept in `cache`, or undefined (none, or not a valid
 * profile: a profile is only a hint, every span it names is still verified when fetched).
 *
 * @example
 * ```ts
 * const profile = await loadStartupProfile(cache, image.digest);
 * ```
 */
export async function loadStartupProfile(cache: BlobCache, imageDigest: string): Promise<StartupProfile | undefined> {
  const source = await cache.get(startupProfileKey(imageDigest)).catch(() => undefined);
  if (source === undefined) return undefined;
  try {
    if (source.size > 1 << 20) return undefined;
    const doc = JSON.parse(Buffer.from(await source.readAt(0, source.size)).toString('utf8')) as Partial<StartupProfile>;
    if (doc.version !== 1 || !Array.isArray(doc.spans)) return undefined;
    const spans = doc.spans.filter((s): s is [string, number] => Array.isArray(s) && typeof s[0] === 'string' && Number.isSafeInteger(s[1]) && s[1] >= 0).slice(0, MAX_SPANS);
    return { version: 1, spans };
  } catch {
    return undefined;
  } finally {
    await source.close?.();
  }
}

/**
 * Keeps `profile` as the startup profile of `imageDigest` (the first one kept wins; best effort).
 *
 * @example
 * ```ts
 * await saveStartupProfile(cache, image.digest, recorder.profile());
 * ```
 */
export async function saveStartupProfile(cache: BlobCache, imageDigest: string, profile: StartupProfile): Promise<void> {
  if (profile.spans.length === 0) return;
  try {
    await putEntry(cache, startupProfileKey(imageDigest), new TextEncoder().encode(JSON.stringify(profile)));
  } catch {
    // a full or read-only cache: the profile is only a hint
  }
}
