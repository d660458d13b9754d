// Issue 13, fuzzing gzip streams and the layer index in CI: every case ends in a correct result
// (checked against node:zlib, the tar parser and the layer's bytes) or a typed error.
import { describe, expect, it } from 'vitest';
import { runFuzz, type FuzzTarget } from './fuzz/harness.js';
import { gzipMutationTarget, indexMutationTarget } from './fuzz/index-targets.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 1300);

describe('fuzz: gzip streams and layer indexes', () => {
  for (const target of [gzipMutationTarget, indexMutationTarget] as FuzzTarget[]) {
    it(`${target.name}: ${target.ciCases} cases, each a result or a typed error`, async () => {
      await target.setup?.();
      const report = await runFuzz(target, { seed: SEED, cases: target.ciCases });
      expect(report.failures).toEqual([]);
      expect(report.ok).toBeGreaterThan(0);
      expect(Object.keys(report.typed).length).toBeGreaterThan(0);
    }, 60_000);
  }
});
