import { DiskCache } from '../../cache/disk-cache.js';
import { writeEntry } from '../../cache/write-entry.js';
import { BlobCacheIndexCache } from '../../index-store/local-index-cache.js';
import type { BackgroundDownload } from '../../layer/background-download.js';
import { verifiedBlobChunks } from '../../layer/fetch-blob.js';
import type { ImageFsEvent } from '../../open/events.js';
import { openImage } from '../../open/open-image.js';
import { openSource } from '../../open/open-source.js';
import { writeOut, type CommandSpec } from '../command-spec.js';
import { humanBytes, progressBar } from '../format.js';
import { registryOptions } from '../open.js';
import { UsageError } from '../usage-error.js';

/** The `pull --json` document. */
export interface PullJson {
  reference: string;
  digest: string;
  /** Milliseconds from start to the whole image in the cache. */
  ms: number;
  /** Compressed bytes of the image's layers. */
  bytes: number;
  /** Layer bytes fetched from the network by this pull (0 when the cache held everything). */
  fetched: number;
  layers: Array<{ digest: string; size: number; how: string }>;
  cache: string;
}

/** `imagefs pull REF`: the whole image into the cache, verified, for offline use. */
export const pullCommand: CommandSpec = {
  name: 'pull',
  args: ['REF'],
  summary: 'pull the image whole into the cache (verified), for offline use',
  details: 'Opens REF as every command does (layers with an index are served lazily, the others downloaded whole), then downloads every lazily served layer whole into the cache in verified spans, joins each into its blob and verifies it against its digest. An interrupted pull resumes where it stopped. Shows a progress bar on a terminal (stderr), nothing with --quiet or when stderr is not a terminal; then prints "Successfully pulled image REF in 1.5s" (with --json: {reference, digest, ms, bytes, fetched, layers: [{digest, size, how}], cache}). Needs a cache (not --no-cache).',
  options: [],
  async run(ctx) {
    const ref = ctx.args[0]!;
    const dir = ctx.global.cacheDir;
    if (dir === undefined) throw new UsageError('pull keeps the image in the cache: drop --no-cache (or pass --cache DIR)', 'pull');
    const started = performance.now();
    const cache = await DiskCache.open(dir);
    const tty = (ctx.io.stderr as { isTTY?: boolean }).isTTY === true && !ctx.global.quiet && !ctx.global.json;
    const layers: PullJson['layers'] = [];
    let download: BackgroundDownload | undefined;
    const onEvent = (e: ImageFsEvent): void => {
      if (e.type === 'layer') layers.push({ digest: e.digest, size: 0, how: e.how });
      if (e.type === 'progress' && tty) void writeOut(ctx.io.stderr, `\r${progressBar(e.bytes, e.total)}`).catch(() => {});
    };
    try {
      const platform = ctx.global.platform === undefined ? {} : { platform: ctx.global.platform };
      const signal = ctx.signal === undefined ? {} : { signal: ctx.signal };
      const source = openSource(ref, registryOptions(ctx.global));
      let resolved;
      try {
        resolved = await source.resolve({ ...platform, ...signal });
      } catch (error) {
        await source.close();
        throw error;
      }
      // Layers read whole travel while opening, unless the cache holds them already.
      const heldBefore = new Set<string>();
      let fetchedOwn = 0;
      for (const d of resolved.layers) if ((await cache.has(d.digest)) || (await cache.has(`layer-tar/${d.digest}`))) heldBefore.add(d.digest);
      const fs = await openImage(source, {
        resolved, cache, indexCache: new BlobCacheIndexCache(cache), background: true, onBackground: (d) => { download = d; }, onImageEvent: onEvent, ...platform, ...signal,
      });
      try {
        const stop = (): void => { void download?.stop(); };
        ctx.signal?.addEventListener('abort', stop, { once: true });
        await download?.done;
        ctx.signal?.removeEventListener('abort', stop);
        // Layers read through their own table of contents (eStargz, zstd:chunked) are not part of
        // the background download: store their blobs here, verified.
        for (const d of resolved.layers) {
          if ((await cache.has(d.digest)) || (await cache.has(`layer-tar/${d.digest}`))) continue;
          await writeEntry(cache, d.digest, async (writer) => {
            for await (const chunk of verifiedBlobChunks(source, d, { hash: false, ...signal })) await writer.write(chunk);
          }, { expectedSize: d.size });
          heldBefore.delete(d.digest);
          fetchedOwn += d.size;
        }
      } finally {
        await fs.close();
      }
      const sized = resolved.layers.map((d) => ({ digest: d.digest, size: d.size, how: layers.find((l) => l.digest === d.digest)?.how ?? 'whole' }));
      const fetchedWhole = sized.filter((l) => l.how === 'whole' && !heldBefore.has(l.digest)).reduce((s, l) => s + l.size, 0);
      if (tty) await writeOut(ctx.io.stderr, '\n');
      const ms = performance.now() - started;
      const doc: PullJson = {
        reference: ref,
        digest: resolved.digest,
        ms: Math.round(ms),
        bytes: sized.reduce((s, l) => s + l.size, 0),
        fetched: (download?.progress.fetched ?? 0) + fetchedWhole + fetchedOwn,
        layers: sized,
        cache: cache.dir,
      };
      if (ctx.global.json) await writeOut(ctx.io.stdout, `${JSON.stringify(doc)}\n`);
      else if (!ctx.global.quiet) await writeOut(ctx.io.stdout, `Successfully pulled image ${ref} (${humanBytes(doc.bytes)}) in ${(ms / 1000).toFixed(1)}s\n`);
    } finally {
      await cache.close();
    }
    return 0;
  },
};
