// The synthetic layer content the gzip, lazy-read, export and event-loop benches share, so their
// numbers are comparable: files of 1-192 KiB, a quarter random (binaries), the rest text-like.
import { file, seededRandom, type TarRecord } from '../../src/testing/builder/index.js';

/** Files under usr/lib adding up to about `total` bytes of tar (seeded: the same every run). */
export function syntheticRecords(total: number, seed = 2024): TarRecord[] {
  const next = seededRandom(seed);
  const out: TarRecord[] = [];
  for (let at = 0, i = 0; at < total; i++) {
    const size = Math.min(total - at, 1024 + (next() % (191 * 1024)));
    out.push(file(`usr/lib/f${i}`, { seed: i, size, kind: next() % 4 === 0 ? 'random' : 'text' }));
    at += size + 512;
  }
  return out;
}
