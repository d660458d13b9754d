// Run by test/cache-disk.test.ts in a separate process: `npx tsx test/cache-child.ts DIR SEED SIZE`.
// Writes fixtureBytes(SIZE, SEED) under its sha256 key and under `span/child/SEED`, then prints the key.
import { DiskCache } from '../src/cache/index.js';
import { fixtureBytes } from '../src/testing/cache-conformance.js';
import { sha256Digest } from '../src/testing/builder/digest.js';

const [dir, seed, size] = process.argv.slice(2);
const bytes = fixtureBytes(Number(size), Number(seed));
const key = sha256Digest(bytes);
const cache = await DiskCache.open(dir!);
for (const k of [key, `span/child/${seed}`]) {
  const w = await cache.create(k, { expectedDigest: key, expectedSize: bytes.length });
  for (let at = 0; at < bytes.length; at += 65_536) await w.write(bytes.subarray(at, at + 65_536));
  await w.commit();
}
await cache.close();
process.stdout.write(`${JSON.stringify({ key, pid: process.pid })}\n`);
