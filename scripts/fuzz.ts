// `npm run fuzz`: every fuzz target of test/fuzz/ with more cases than CI runs. Environment:
// FUZZ_SEED (default: the time), FUZZ_FACTOR (cases = FUZZ_FACTOR x the CI count, default 10),
// FUZZ_TARGET (a substring of a target's name). Prints one line per target and exits 1 when any
// case ended in anything but a result or a typed error (each failure names its replay seed:
// FUZZ_SEED=<case> FUZZ_FACTOR=... with one case reproduces it in test/fuzz-*.test.ts).
import { runFuzz } from '../test/fuzz/harness.js';
import { ALL_TARGETS } from '../test/fuzz/targets.js';

const seed = Number(process.env['FUZZ_SEED'] ?? Date.now() % 1_000_000_000);
const factor = Number(process.env['FUZZ_FACTOR'] ?? 10);
const only = process.env['FUZZ_TARGET'];
let failed = 0;
let total = 0;
const started = performance.now();
console.log(`fuzz seed ${seed}, ${factor}x the CI cases`);
for (const target of ALL_TARGETS) {
  if (only !== undefined && !target.name.includes(only)) continue;
  await target.setup?.();
  const cases = Math.max(1, Math.round(target.ciCases * factor));
  const report = await runFuzz(target, { seed, cases });
  await target.teardown?.();
  total += cases;
  failed += report.failures.length;
  const typed = Object.entries(report.typed).map(([code, n]) => `${code} ${n}`).join(', ');
  console.log(`${target.name}: ${cases} cases in ${(report.ms / 1000).toFixed(1)} s (slowest ${Math.round(report.maxCaseMs)} ms): ${report.ok} results, typed errors: ${typed || 'none'}; failures: ${report.failures.length}`);
  for (const f of report.failures.slice(0, 5)) console.log(`  case ${f.case}: ${f.error.split('\n')[0]}`);
}
const rss = Math.round(process.resourceUsage().maxRSS / 1024);
console.log(`total: ${total} cases in ${((performance.now() - started) / 1000).toFixed(1)} s, peak RSS ${rss} MB, failures: ${failed}`);
process.exit(failed === 0 ? 0 : 1);
