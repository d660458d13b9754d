import { resolve } from 'node:path';
import { DiskCache } from '../../cache/disk-cache.js';
import { IndexStore } from '../../index-store/index-store.js';
import { BlobCacheIndexCache } from '../../index-store/local-index-cache.js';
import { commitRef } from '../../upper/commit-ref.js';
import { registryOptions } from '../open.js';
import { UsageError } from '../usage-error.js';
import { writeOut, type CommandSpec } from '../command-spec.js';

/** `imagefs commit REF --upper DIR --to DEST`. */
export const commitCommand: CommandSpec = {
  name: 'commit',
  args: ['REF'],
  summary: 'write an upper directory as a new layer on top of REF, to oci:DIR:TAG or a registry',
  details:
    'Reads the upper DIR that a writable mount or openImage(REF, { upper: DIR }) left, writes its changes as one tar+gzip layer (whiteouts, opaque directories, xattrs, nanosecond times), appends it to a copy of REF\'s config (diff_id and history) and manifest, and writes the image to DEST: an OCI layout oci:DIR:TAG (made when missing; the base layers are copied in) or a registry reference (the base layers are pushed when missing). Prints the new manifest digest. An upper made over another image is refused.',
  options: [
    { name: 'upper', value: 'DIR', description: 'the upper directory to commit (required)' },
    { name: 'to', value: 'DEST', description: 'oci:DIR:TAG or a registry reference (required)' },
    { name: 'index', description: 'also build the new layer\'s seekable index and keep it in the local cache (--cache), as imagefs index does' },
  ],
  async run(ctx) {
    const upper = ctx.flags['upper'];
    const to = ctx.flags['to'];
    if (typeof upper !== 'string' || upper === '') throw new UsageError('commit needs --upper DIR', 'commit');
    if (typeof to !== 'string' || to === '') throw new UsageError('commit needs --to DEST (oci:DIR:TAG or a registry reference)', 'commit');
    const wantIndex = ctx.flags['index'] === true;
    if (wantIndex && ctx.global.cacheDir === undefined) throw new UsageError('--index keeps the index in the local cache; it cannot be used with --no-cache', 'commit');
    const cache = wantIndex ? await DiskCache.open(ctx.global.cacheDir!) : undefined;
    let result;
    try {
      result = await commitRef(ctx.args[0]!, {
        ...registryOptions(ctx.global), upper: { dir: resolve(upper) }, to,
        ...(ctx.global.platform === undefined ? {} : { platform: ctx.global.platform }),
        ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
        ...(cache === undefined ? {} : { indexStore: new IndexStore({ cache: new BlobCacheIndexCache(cache) }) }),
      });
    } finally {
      await cache?.close();
    }
    if (ctx.global.json) {
      await writeOut(ctx.io.stdout, `${JSON.stringify({ digest: result.manifest.digest, manifest: result.manifest, layer: result.layer, diffId: result.diffId, entries: result.entries, indexSize: result.indexSize })}\n`);
    } else {
      await writeOut(ctx.io.stdout, `${result.manifest.digest}\n`);
    }
    return 0;
  },
};
