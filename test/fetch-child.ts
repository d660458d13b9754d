// A separate process for the fetch-* and background-* tests. Usage:
//   tsx test/fetch-child.ts REF CACHE_DIR read PATH...   opens REF with the disk cache, reads each
//       PATH, prints {"files": {PATH: sha256}, "stats": [...]} on one line
//   tsx test/fetch-child.ts REF CACHE_DIR background     opens REF with background download, prints
//       one {"progress": bytes} line per progress event, then {"done": true} and exits
import { createHash } from 'node:crypto';
import { DiskCache } from '../src/cache/disk-cache.js';
import { BlobCacheIndexCache } from '../src/index-store/local-index-cache.js';
import type { BackgroundDownload } from '../src/layer/background-download.js';
import { openImage } from '../src/open/open-image.js';
import type { ImageFsEvent } from '../src/open/events.js';

const [ref, cacheDir, mode, ...paths] = process.argv.slice(2) as [string, string, string, ...string[]];
const cache = await DiskCache.open(cacheDir);
const events: ImageFsEvent[] = [];
let download: BackgroundDownload | undefined;
const fs = await openImage(ref, {
  platform: { os: 'linux', architecture: 'amd64' },
  cache,
  indexCache: new BlobCacheIndexCache(cache),
  background: mode === 'background',
  onBackground: (d) => { download = d; },
  onImageEvent: (e) => {
    events.push(e);
    if (e.type === 'progress') process.stdout.write(`${JSON.stringify({ progress: e.bytes, total: e.total })}\n`);
  },
});
if (mode === 'background') {
  await download!.done;
  process.stdout.write(`${JSON.stringify({ done: true, events: events.filter((e) => e.type !== 'progress') })}\n`);
} else {
  const files: Record<string, string> = {};
  for (const p of paths) files[p] = createHash('sha256').update(await fs.readFile(p)).digest('hex');
  process.stdout.write(`${JSON.stringify({ files, events })}\n`);
}
await fs.close();
await cache.close();
