// Issue 13, fuzzing the tar reader in CI: mutated archives and generated PAX records end in a
// correct result (one-shot parse = chunked parse, data inside the archive) or a typed error.
import { describe, expect, it } from 'vitest';
import { runFuzz } from './fuzz/harness.js';
import { paxGenerationTarget, tarMutationTarget } from './fuzz/tar-targets.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 1300);

describe('fuzz: tar', () => {
  for (const target of [tarMutationTarget, paxGenerationTarget]) {
    it(`${target.name}: ${target.ciCases} cases, each a result or a typed error`, async () => {
      const report = await runFuzz(target, { seed: SEED, cases: target.ciCases });
      expect(report.failures).toEqual([]);
      expect(report.ok + Object.values(report.typed).reduce((a, b) => a + b, 0)).toBe(target.ciCases);
      // Both outcomes occur: the generators reach past the first check.
      expect(report.ok).toBeGreaterThan(target.ciCases / 50);
      expect(Object.keys(report.typed).length).toBeGreaterThan(0);
    }, 60_000);
  }
});
