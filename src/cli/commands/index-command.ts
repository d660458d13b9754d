import { stat, readFile } from 'node:fs/promises';
import { DiskCache } from '../../cache/disk-cache.js';
import type { BlobCache } from '../../cache/types.js';
import { ImageError, ImageFsError } from '../../errors/image-fs-error.js';
import { DEFAULT_SPAN } from '../../gzip/index-builder.js';
import type { Descriptor } from '../../image/types.js';
import { IndexStore } from '../../index-store/index-store.js';
import { pinIndexes } from '../../index-store/pin.js';
import { BlobCacheIndexCache } from '../../index-store/local-index-cache.js';
import { checkProfileSpans, MAX_PROFILE_BYTES, parseStartupProfile } from '../../index-store/profile-check.js';
import { pushStartupProfile } from '../../index-store/registry-profile.js';
import { buildIndex, notIndexableReason } from '../../layer/build-index.js';
import { startupProfileKey, type StartupProfile } from '../../layer/startup-profile.js';
import { openSource } from '../../open/open-source.js';
import { RegistrySource } from '../../registry/registry-source.js';
import { digestOf } from '../../registry/manifest.js';
import { writeOut, type CommandContext, type CommandSpec } from '../command-spec.js';
import { registryOptions } from '../open.js';
import { UsageError } from '../usage-error.js';

/** One layer of the `index --json` document. */
export type IndexLayerJson =
  | {
    digest: string; mediaType: string; size: number; indexed: true;
    /** Tar entries, checkpoints, uncompressed size, index size (bytes) and index size / layer size. */
    entries: number; checkpoints: number; uncompressedSize: number; indexSize: number; ratio: number;
    /** `sha256:` of the index blob. */
    indexDigest: string;
  }
  | { digest: string; mediaType: string; size: number; indexed: false; /** Why the layer has no index. */ reason: string };

/** The `imagefs index --json` document. */
export interface IndexJson {
  reference: string;
  /** The image manifest the indexes belong to. */
  digest: string;
  /** Span used, in uncompressed bytes. */
  span: number;
  layers: IndexLayerJson[];
  /** Whether the indexes were stored in the local cache (`--cache`). */
  cached: boolean;
  /** The artifact manifest pushed with `--push`. */
  pushed?: { digest: string; mediaType: string; size: number; artifactType: string };
  /** With `--pin`: the new image manifest that pins the pushed indexes, and the reference to open. */
  pinned?: { digest: string; mediaType: string; size: number; reference: string };
  /** With `--profile FILE` or `--profile-from-cache`: the startup profile artifact manifest pushed, and how many spans it names. */
  profile?: { digest: string; mediaType: string; size: number; artifactType: string; spans: number };
}

function parseSpan(value: string | boolean | undefined): number {
  if (value === undefined) return DEFAULT_SPAN;
  if (typeof value !== 'string' || !/^[0-9]+$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) < 1024) {
    throw new UsageError(`--span must be a whole number of bytes, at least 1024 (got '${String(value)}')`, 'index');
  }
  return Number(value);
}

async function openCache(ctx: CommandContext): Promise<BlobCache | undefined> {
  const dir = ctx.global.cacheDir;
  if (dir === undefined) return undefined;
  try {
    return await DiskCache.open(dir);
  } catch (error) {
    if (!ImageFsError.is(error) && !(error instanceof Error && 'code' in error)) throw error;
    if (!ctx.global.quiet) await writeOut(ctx.io.stderr, `imagefs: note: the cache ${dir} cannot be used (${(error as Error).message}); indexes are not kept locally\n`);
    return undefined;
  }
}

function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio < 0.001 ? 4 : 2)}%`;
}

function indexText(doc: IndexJson): string {
  const lines = [`image ${doc.digest} (span ${doc.span} bytes)`];
  for (const l of doc.layers) {
    lines.push(l.indexed
      ? `${l.digest}  entries ${l.entries}  checkpoints ${l.checkpoints}  index ${l.indexSize} bytes (${percent(l.ratio)} of ${l.size})`
      : `${l.digest}  not indexed: ${l.reason}`);
  }
  if (doc.pushed) lines.push(`pushed ${doc.pushed.digest} (${doc.pushed.artifactType}) as a referrer of ${doc.digest}`);
  if (doc.profile) lines.push(`pushed startup profile ${doc.profile.digest} (${doc.profile.spans} spans, ${doc.profile.artifactType}) as a referrer of ${doc.digest}`);
  if (doc.pinned) lines.push(`pinned ${doc.pinned.digest}: open ${doc.pinned.reference} to stream through these indexes (same content, a manifest that names them)`);
  return `${lines.join('\n')}\n`;
}

/** A startup profile file (`--profile FILE`), bounded and parsed strictly before any index is built. */
async function profileFromFile(file: string): Promise<StartupProfile> {
  const size = (await stat(file)).size;
  if (size > MAX_PROFILE_BYTES) {
    throw new ImageError('ResourceExhausted', `the startup profile ${file} is ${size} bytes, over the ${MAX_PROFILE_BYTES} a profile may hold`, { hint: 'give a profile recorded by imagefs (at most 4096 spans)' });
  }
  return parseStartupProfile(await readFile(file), `the startup profile ${file}`);
}

/** The startup profile of `imageDigest` kept in the cache (`--profile-from-cache`), parsed strictly. */
async function profileFromCache(cache: BlobCache | undefined, dir: string, imageDigest: string): Promise<StartupProfile> {
  const hint = `open the image with this cache and read what it starts with (imagefs run, mount, cat or export REF --cache ${dir}): the spans read in the first 10 s are kept when it closes`;
  if (cache === undefined) throw new ImageError('FailedPrecondition', `--profile-from-cache: the cache ${dir} cannot be read`, { hint });
  const entry = await cache.get(startupProfileKey(imageDigest));
  if (entry === undefined) throw new ImageError('NotFound', `the cache ${dir} keeps no startup profile of ${imageDigest}`, { subject: imageDigest, hint });
  try {
    if (entry.size > MAX_PROFILE_BYTES) throw new ImageError('ResourceExhausted', `the startup profile of ${imageDigest} in the cache is ${entry.size} bytes, over the ${MAX_PROFILE_BYTES} a profile may hold`);
    return parseStartupProfile(await entry.readAt(0, entry.size), `the startup profile of ${imageDigest} in the cache`);
  } finally {
    await entry.close?.();
  }
}

/** `imagefs index REF [--push [--pin] [--profile FILE | --profile-from-cache]] [--span BYTES]`. */
export const indexCommand: CommandSpec = {
  name: 'index',
  args: ['REF'],
  summary: 'build the seekable index of every layer (--push stores it in the registry)',
  details: 'Reads every gzip or plain tar layer once, verifies it against its digest and diff_id, and builds its seekable index (tar entries, checkpoints every --span uncompressed bytes, span digests). Prints per layer: digest, entries, checkpoints, index size and its ratio to the layer size; zstd layers are listed as not indexed (not seekable; they are read whole). Indexes are kept in the local cache (--cache; not with --no-cache). --push also stores them in the registry as an OCI artifact (artifactType application/vnd.imagefs.index.v1) whose subject is the image manifest, listed through the referrers API or the sha256-<hex> referrers tag; --push needs a registry reference (an oci: layout keeps its indexes in the cache only). --pin (with --push) also pushes, by digest, a copy of the image manifest whose annotations pin the index artifact by digest, and prints that digest: an image named by digest streams only through indexes it pins (SECURITY.md). --profile FILE (with --push) also stores a startup profile next to the indexes, as its own referrer (artifactType application/vnd.imagefs.startup-profile.v1): FILE is a profile as the cache keeps it, JSON {"version": 1, "spans": [[layer digest, span], ...]}, at most 1 MiB; every span must name a layer of the image and a span of the index built now (record and push with the same --span). --profile-from-cache takes the profile the cache (--cache) kept for this image digest: open the image with that cache (imagefs run, mount, cat, export), read what it starts with, close it, then push. With --pin the profile is pinned too. A later open with a background download and no profile of its own fetches those spans first, in order. With --json: {reference, digest, span, cached, layers: [{digest, mediaType, size, indexed, entries, checkpoints, uncompressedSize, indexSize, ratio, indexDigest} | {digest, mediaType, size, indexed: false, reason}], pushed?: {digest, mediaType, size, artifactType}, pinned?: {digest, mediaType, size, reference}, profile?: {digest, mediaType, size, artifactType, spans}}.',
  options: [
    { name: 'push', description: 'store the indexes in the registry next to the image (registry references only)' },
    { name: 'pin', description: 'with --push: also push a copy of the image manifest that pins the indexes by digest, and print its digest (SECURITY.md)' },
    { name: 'profile', value: 'FILE', description: 'with --push: also store this startup profile (JSON, as the cache keeps it) next to the indexes' },
    { name: 'profile-from-cache', description: 'with --push: also store the startup profile the cache (--cache) kept for this image' },
    { name: 'span', value: 'BYTES', description: `uncompressed bytes between checkpoints (default ${DEFAULT_SPAN})` },
  ],
  async run(ctx) {
    const span = parseSpan(ctx.flags['span']);
    const push = ctx.flags['push'] === true;
    const pin = ctx.flags['pin'] === true;
    if (pin && !push) throw new UsageError('--pin needs --push (it pins the indexes pushed to the registry)', 'index');
    const profileFile = ctx.flags['profile'];
    const profileFromKept = ctx.flags['profile-from-cache'] === true;
    if (typeof profileFile === 'string' && profileFromKept) throw new UsageError('give --profile FILE or --profile-from-cache, not both', 'index');
    if ((typeof profileFile === 'string' || profileFromKept) && !push) throw new UsageError('--profile and --profile-from-cache need --push (the profile is stored in the registry next to the indexes)', 'index');
    if (profileFromKept && ctx.global.cacheDir === undefined) throw new UsageError('--profile-from-cache reads the cache: drop --no-cache (or pass --cache DIR)', 'index');
    // A profile file is checked before anything is built or pushed.
    let profile = typeof profileFile === 'string' ? await profileFromFile(profileFile) : undefined;
    const signal = ctx.signal === undefined ? {} : { signal: ctx.signal };
    const source = openSource(ctx.args[0]!, registryOptions(ctx.global));
    if (push && !(source instanceof RegistrySource)) {
      await source.close();
      throw new UsageError('--push needs a registry reference; indexes of an oci: layout are kept in the local cache (--cache)', 'index');
    }
    const cache = await openCache(ctx);
    try {
      const image = await source.resolve({ ...signal, ...(ctx.global.platform === undefined ? {} : { platform: ctx.global.platform }) });
      const store = new IndexStore({
        ...(cache === undefined ? {} : { cache: new BlobCacheIndexCache(cache) }),
        ...(source instanceof RegistrySource ? { registry: source } : {}),
      });
      const doc: IndexJson = { reference: image.reference, digest: image.digest, span, layers: [], cached: cache !== undefined };
      if (profileFromKept) profile = await profileFromCache(cache, ctx.global.cacheDir!, image.digest);
      const built: Array<{ layer: Descriptor; bytes: Uint8Array }> = [];
      const spanCounts = new Map<string, number>();
      for (const [position, layer] of image.layers.entries()) {
        const base = { digest: layer.digest, mediaType: layer.mediaType, size: layer.size };
        const refused = notIndexableReason(layer);
        if (refused !== undefined) {
          doc.layers.push({ ...base, indexed: false, reason: refused.message });
          continue;
        }
        const blob = await source.openBlob(layer, signal);
        let result;
        try {
          const diffId = image.config.rootfs.diff_ids[position];
          result = await buildIndex(blob, layer, { span, ...(diffId === undefined ? {} : { diffId }), ...signal });
        } finally {
          await blob.close?.();
        }
        await store.save(layer, result.bytes, signal);
        built.push({ layer, bytes: result.bytes });
        spanCounts.set(layer.digest, result.index.checkpointPositions().length);
        const s = result.stats;
        doc.layers.push({
          ...base, indexed: true, entries: s.entries, checkpoints: s.checkpoints, uncompressedSize: s.uncompressedSize,
          indexSize: s.indexSize, ratio: s.ratio, indexDigest: digestOf(result.bytes),
        });
      }
      // Every span of the profile must be a span of the indexes about to be pushed: checked before anything is pushed.
      const profileSpans = profile === undefined ? undefined : checkProfileSpans(profile, image.layers.map((l) => l.digest), spanCounts, 'refuse');
      if (push && built.length > 0) {
        const subject: Descriptor = { mediaType: image.mediaType, digest: image.digest, size: image.manifestBytes.length };
        const artifact = await store.push(subject, built, signal);
        doc.pushed = { digest: artifact.digest, mediaType: artifact.mediaType, size: artifact.size, artifactType: artifact.artifactType ?? '' };
        let profileArtifact: Descriptor | undefined;
        if (profileSpans !== undefined && source instanceof RegistrySource) {
          const bytes = new TextEncoder().encode(JSON.stringify({ version: 1, spans: profileSpans } satisfies StartupProfile));
          profileArtifact = await pushStartupProfile(source, subject, bytes, signal);
          doc.profile = { digest: profileArtifact.digest, mediaType: profileArtifact.mediaType, size: profileArtifact.size, artifactType: profileArtifact.artifactType ?? '', spans: profileSpans.length };
        }
        if (pin && source instanceof RegistrySource) {
          const pinned = await pinIndexes(source, image, artifact, { ...signal, ...(profileArtifact === undefined ? {} : { profile: profileArtifact }) });
          doc.pinned = { digest: pinned.digest, mediaType: pinned.mediaType, size: pinned.size, reference: `${source.parsed.registry}/${source.parsed.repository}@${pinned.digest}` };
        }
      }
      await writeOut(ctx.io.stdout, ctx.global.json ? `${JSON.stringify(doc, null, 2)}\n` : indexText(doc));
      return 0;
    } finally {
      await cache?.close();
      await source.close();
    }
  },
};
