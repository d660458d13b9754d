/**
 * Checking a startup profile that comes from outside this process (a file given to
 * `imagefs index --push --profile`, or a blob from the registry): its bytes are bounded, its JSON
 * shape is exact, and every span it names must be a span of a layer of the image, as cut by the
 * index the layer is read through.
 * @module
 */
import { ImageError, invalidArgument } from '../errors/image-fs-error.js';
import { tryParseDigest } from '../image/digest.js';
import type { StartupProfile } from '../layer/startup-profile.js';

/** Largest startup profile accepted from a file or a registry, in bytes (1 MiB). */
export const MAX_PROFILE_BYTES = 1 << 20;

/** Most spans a startup profile may name (what `ProfileRecorder` keeps at most). */
export const MAX_PROFILE_SPANS = 4096;

/**
 * Parses a startup profile strictly: at most {@link MAX_PROFILE_BYTES}, UTF-8 JSON
 * `{"version": 1, "spans": [[layer digest, span], ...]}` with digests in `algorithm:hex` form,
 * spans whole numbers from 0, at least one and at most {@link MAX_PROFILE_SPANS} of them.
 * (The cache's own loader, `loadStartupProfile`, is lenient instead: a kept profile is this
 * machine's own.)
 *
 * @param what - how the profile is named in error messages (a file path, a blob digest).
 * @throws ImageError `ResourceExhausted` over the size bound; `InvalidArgument` for anything else wrong.
 * @example
 * ```ts
 * const profile = parseStartupProfile(await readFile('profile.json'), 'profile.json');
 * ```
 */
export function parseStartupProfile(bytes: Uint8Array, what = 'the startup profile'): StartupProfile {
  if (bytes.length > MAX_PROFILE_BYTES) {
    throw new ImageError('ResourceExhausted', `${what} is ${bytes.length} bytes, over the ${MAX_PROFILE_BYTES} a startup profile may hold`, {
      hint: 'a profile lists at most 4096 spans (well under 1 MiB); record it again with imagefs',
    });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw invalidArgument(`${what} is not UTF-8 JSON`, { cause: error, hint: 'give the profile an imagefs run kept in its cache (startup-profile/<image digest>)' });
  }
  const bad = (why: string): ImageError => invalidArgument(`${what} is not a startup profile: ${why}`, { hint: 'expected {"version": 1, "spans": [[layer digest, span], ...]}' });
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad('not a JSON object');
  const { version, spans } = doc as { version?: unknown; spans?: unknown };
  if (version !== 1) throw bad(`version ${JSON.stringify(version) ?? 'missing'} (this imagefs reads version 1)`);
  if (!Array.isArray(spans)) throw bad('"spans" is not an array');
  if (spans.length === 0) throw bad('it names no span');
  if (spans.length > MAX_PROFILE_SPANS) throw bad(`it names ${spans.length} spans, over ${MAX_PROFILE_SPANS}`);
  const out: Array<[string, number]> = [];
  for (const [n, s] of spans.entries()) {
    if (!Array.isArray(s) || s.length !== 2 || typeof s[0] !== 'string' || tryParseDigest(s[0]) === undefined || !Number.isSafeInteger(s[1]) || (s[1] as number) < 0) {
      throw bad(`spans[${n}] is not [layer digest, span number]`);
    }
    out.push([s[0], s[1] as number]);
  }
  return { version: 1, spans: out };
}

/** What {@link checkProfileSpans} does with a span of a layer of the image that has no span count (not read through an index). */
export type UnindexedProfileLayer = 'refuse' | 'skip';

/**
 * Checks the spans of `profile` against the image: every layer digest must be one of
 * `imageLayers`, and every span number below that layer's span count in `spanCounts` (the spans
 * its index cuts). A span of a layer of the image without a count is refused (`'refuse'`, for a
 * profile about to be pushed) or dropped (`'skip'`, for a layer this open reads whole). Duplicates
 * are dropped; the order is kept.
 *
 * @returns the spans to fetch first, in the profile's order.
 * @throws ImageError `InvalidArgument` naming the first span that is not the image's.
 * @example
 * ```ts
 * const first = checkProfileSpans(profile, image.layers.map((l) => l.digest), new Map([[digest, 12]]), 'skip');
 * ```
 */
export function checkProfileSpans(
  profile: StartupProfile, imageLayers: Iterable<string>, spanCounts: ReadonlyMap<string, number>, unindexed: UnindexedProfileLayer,
): Array<[string, number]> {
  const layers = new Set(imageLayers);
  const seen = new Set<string>();
  const out: Array<[string, number]> = [];
  for (const [n, [digest, span]] of profile.spans.entries()) {
    if (!layers.has(digest)) {
      throw invalidArgument(`the startup profile names layer ${digest} (spans[${n}]), which is not a layer of this image`, { subject: digest, hint: 'record the profile with this image, or push it next to the image it was recorded with' });
    }
    const count = spanCounts.get(digest);
    if (count === undefined) {
      if (unindexed === 'skip') continue;
      throw invalidArgument(`the startup profile names layer ${digest} (spans[${n}]), which has no index to cut it into spans`, { subject: digest, hint: 'only layers read through an index (gzip or plain tar) have spans' });
    }
    if (span >= count) {
      throw invalidArgument(`the startup profile names span ${span} of layer ${digest} (spans[${n}]), but its index cuts it into ${count} spans`, {
        subject: digest, hint: 'the profile was recorded with another index of this layer: push it with the --span it was recorded with, or record it again',
      });
    }
    const key = `${digest}/${span}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push([digest, span]);
  }
  return out;
}
