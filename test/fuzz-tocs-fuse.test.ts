// Issue 13, fuzzing eStargz and zstd:chunked tables of contents and FUSE request frames in CI:
// each case ends in a correct result or a typed error (FUSE: a known errno), in bounded time.
import { afterAll, describe, expect, it } from 'vitest';
import { fuseFrameTarget } from './fuzz/fuse-targets.js';
import { runFuzz, type FuzzTarget } from './fuzz/harness.js';
import { estargzLayoutTarget, estargzTocTarget, zstdChunkedTocTarget } from './fuzz/toc-targets.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 1300);
const targets = [estargzTocTarget, estargzLayoutTarget, zstdChunkedTocTarget, fuseFrameTarget] as FuzzTarget[];

afterAll(async () => {
  for (const t of targets) await t.teardown?.();
});

describe('fuzz: TOCs and FUSE frames', () => {
  for (const target of targets) {
    it(`${target.name}: ${target.ciCases} cases, each a result or a typed error`, async () => {
      await target.setup?.();
      const report = await runFuzz(target, { seed: SEED, cases: target.ciCases });
      expect(report.failures).toEqual([]);
      expect(report.ok).toBeGreaterThan(0);
      if (target !== fuseFrameTarget) expect(Object.keys(report.typed).length).toBeGreaterThan(0);
    }, 60_000);
  }
});
