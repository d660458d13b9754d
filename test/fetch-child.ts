// A separate process for the fetch-* and background-* tests. Usage:
//   tsx test/fetch-child.ts REF CACHE_DIR read PATH...   opens REF with the disk cache, reads each
//       PATH, prints {"files": {PATH: sha256}, "stats": [...]} on one line
//   tsx test/fetch-child.ts REF CACHE_DIR background     opens REF with background download, prints
//       one {"progress": bytes, "total", "fetched"} line per progress event, then {"done": true} and exits
//   tsx test/fetch-child.ts REF CACHE_DIR read-each [--background] PATH...   prints {"opened": true}
//       once REF is open, then one {"read": PATH, "sha256": hex} line per PATH as it is read (with
//       `--background`, the background download runs meanwhile), then the `read` mode's last line
// The SIGKILL test runs a bundle of this file (bundleEntry in bench/lib/cli-bundle.ts) with plain
// node: tsx's start-up costs more than a second per process.
import { createHash } from 'node:crypto';
import { DiskCache } from '../src/cache/disk-cache.js';
import { BlobCacheIndexCache } from '../src/index-store/local-index-cache.js';
import type { BackgroundDownload } from '../src/layer/background-download.js';
import { openImage } from '../src/open/open-image.js';
import type { ImageFsEvent } from '../src/open/events.js';

const [ref, cacheDir, mode, ...rest] = process.argv.slice(2) as [string, string, string, ...string[]];
const background = mode === 'background' || (mode === 'read-each' && rest[0] === '--background');
const paths = mode === 'read-each' && rest[0] === '--background' ? rest.slice(1) : rest;
const print = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};
const cache = await DiskCache.open(cacheDir);
const events: ImageFsEvent[] = [];
let download: BackgroundDownload | undefined;
const fs = await openImage(ref, {
  platform: { os: 'linux', architecture: 'amd64' },
  cache,
  indexCache: new BlobCacheIndexCache(cache),
  background,
  onBackground: (d) => { download = d; },
  onImageEvent: (e) => {
    events.push(e);
    if (e.type === 'progress') print({ progress: e.bytes, total: e.total, fetched: e.fetched });
  },
});
if (mode === 'background') {
  await download!.done;
  print({ done: true, events: events.filter((e) => e.type !== 'progress') });
} else {
  if (mode === 'read-each') print({ opened: true });
  const files: Record<string, string> = {};
  for (const p of paths) {
    files[p] = createHash('sha256').update(await fs.readFile(p)).digest('hex');
    if (mode === 'read-each') print({ read: p, sha256: files[p] });
  }
  print({ files, events: events.filter((e) => mode !== 'read-each' || e.type !== 'progress') });
}
await fs.close();
await cache.close();
