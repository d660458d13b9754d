import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCacheConformance } from '../src/testing/cache-conformance.js';
import { DiskCache, MemoryCache, NoCache, TieredCache } from '../src/cache/index.js';

let root = '';
let n = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'imagefs-cache-conf-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

runCacheConformance('MemoryCache', async () => new MemoryCache({ maxBytes: 16 * 1024 * 1024 }), { describe, it, expect });
runCacheConformance('MemoryCache (default bound)', async () => new MemoryCache(), { describe, it, expect, stores: new MemoryCache().maxBytes > 0 });
runCacheConformance('DiskCache', async () => DiskCache.open(join(root, `c${n++}`)), { describe, it, expect });
runCacheConformance('DiskCache (bounded, durable)', async () => DiskCache.open(join(root, `c${n++}`), { maxBytes: 1 << 20, durable: true }), { describe, it, expect });
runCacheConformance('NoCache', async () => new NoCache(), { describe, it, expect, stores: false });
runCacheConformance(
  'TieredCache (memory over disk)',
  async () => new TieredCache(new MemoryCache({ maxBytes: 1 << 20 }), await DiskCache.open(join(root, `c${n++}`)), { promoteMaxBytes: 4096 }),
  { describe, it, expect },
);
