#!/usr/bin/env node
// Runs the whole vitest suite and ends with one plain summary line ("Tests: N passed, N failed"),
// keeping vitest's exit code. Extra arguments go to vitest (for instance a file filter).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'imagefs-test-'));
const out = join(dir, 'results.json');
const run = spawnSync('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...process.argv.slice(2)], { stdio: 'inherit' });
let line = 'Tests: 0 passed, 0 failed';
try {
  const r = JSON.parse(readFileSync(out, 'utf8'));
  line = `Tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : '');
} catch {
  line = 'Tests: 0 passed, 1 failed';
}
rmSync(dir, { recursive: true, force: true });
console.log(line);
process.exit(run.status ?? 1);
