// Issue 13, fuzzing manifests, image indexes and configs in CI, through an OCI layout and through
// the registry API: each case resolves to a well-formed image or ends in a typed error.
import { afterAll, describe, expect, it } from 'vitest';
import { runFuzz, type FuzzTarget } from './fuzz/harness.js';
import { layoutManifestTarget, registryManifestTarget } from './fuzz/manifest-targets.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 1300);
const targets = [layoutManifestTarget, registryManifestTarget] as FuzzTarget[];

afterAll(async () => {
  for (const t of targets) await t.teardown?.();
});

describe('fuzz: manifests and configs', () => {
  for (const target of targets) {
    it(`${target.name}: ${target.ciCases} cases, each a well-formed image or a typed error`, async () => {
      await target.setup?.();
      const report = await runFuzz(target, { seed: SEED, cases: target.ciCases });
      expect(report.failures).toEqual([]);
      expect(report.ok).toBeGreaterThan(0);
      expect(Object.keys(report.typed).length).toBeGreaterThan(0);
    }, 60_000);
  }
});
