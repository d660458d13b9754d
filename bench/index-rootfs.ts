// Index build on a real root filesystem layer (a Debian bookworm minbase tar, as the oracle test
// makes it), against `gzip -dc` and node:zlib's streaming gunzip of the same file, in one run;
// buildIndex both inline and with `hashOnWorker` (sha256 work on a worker thread).
//
//   npx tsx bench/index-rootfs.ts LAYER.tar.gz [ROUNDS]
//
// Make the layer with: debootstrap --variant=minbase bookworm R http://deb.debian.org/debian &&
// tar --numeric-owner -C R -c . | gzip -6 > LAYER.tar.gz (test/oracle-debian.test.ts caches the tar
// under /var/cache/imagefs-test/).
import { stat } from 'node:fs/promises';
import { MediaType } from '../src/image/media-types.js';
import { buildIndex } from '../src/layer/build-index.js';
import { FileSource } from '../src/source/file-source.js';
import { computeDigest } from '../src/image/digest.js';
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { gunzipStream, gzipDc, measure, median, type Sample } from './lib/measure.js';

const path = process.argv[2];
const rounds = Number(process.argv[3] ?? 3);
if (!path) throw new Error('usage: npx tsx bench/index-rootfs.ts LAYER.tar.gz [ROUNDS]');


const size = (await stat(path)).size;
const descriptor = { mediaType: MediaType.OCI_LAYER_GZIP, digest: computeDigest(await readFile(path)), size };
const samples: Record<string, Sample[]> = { 'gzip -dc': [], 'zlib stream': [], 'buildIndex': [], 'buildIndex hashOnWorker': [] };
let tar = 0;
for (let r = 0; r < rounds; r++) {
  samples['gzip -dc']!.push(gzipDc(path));
  samples['zlib stream']!.push(await measure(() => gunzipStream(path!, 1 << 20)));
  for (const hashOnWorker of [false, true]) {
    samples[hashOnWorker ? 'buildIndex hashOnWorker' : 'buildIndex']!.push(await measure(async () => {
      const source = await FileSource.open(path);
      try {
        tar = (await buildIndex(source, descriptor, { hashOnWorker })).stats.uncompressedSize;
      } finally {
        await source.close();
      }
    }));
  }
}
console.log(`${path}: ${(size / 1e6).toFixed(1)} MB compressed, ${(tar / 1e6).toFixed(1)} MB tar, ${rounds} rounds (median)`);
for (const [name, s] of Object.entries(samples)) {
  const wall = median(s.map((x) => x.wall));
  console.log(`${name.padEnd(23)} wall ${wall.toFixed(0).padStart(5)} ms (${(tar / 1e3 / wall).toFixed(0)} MB/s)  cpu ${median(s.map((x) => x.cpu)).toFixed(0)} ms`);
}
const w = (k: string): number => median(samples[k]!.map((x) => x.wall));
console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; cpu of 'hashOnWorker' includes the worker thread`);
console.log(`ratio buildIndex hashOnWorker vs gzip -dc ${(w('gzip -dc') / w('buildIndex hashOnWorker')).toFixed(2)}x`);
console.log(`ratio buildIndex vs gzip -dc ${(w('gzip -dc') / w('buildIndex')).toFixed(2)}x (bar >= 1.5x); vs zlib stream ${(w('zlib stream') / w('buildIndex')).toFixed(2)}x (bar >= 0.7x)`);
