// Issue 13, registry lies: a checker reads every file of an image (three lazily read layers,
// indexes stored in the registry) through the fault proxy under random faults (latency, 429 with
// Retry-After, 5xx, resets mid-body, short bodies, ignored Range, slow bodies, flipped bytes) and
// compares with the oracle: every read is the right bytes or a typed error, never a wrong byte;
// afterwards, with the faults off, the same ImageFs (its span cache included) reads everything right.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openImage } from '../src/open/open-image.js';
import type { ImageFsEvent } from '../src/open/events.js';
import type { FaultProxy } from '../src/testing/registry/index.js';
import { newTally, randomFaults, readAndCheck, startFaultFixture, type FaultFixture, type FaultImage } from './fuzz/fault-image.js';
import { Rand } from './fuzz/harness.js';

const PLATFORM = { os: 'linux', architecture: 'amd64' };
const ROUNDS = Number(process.env['FAULT_ROUNDS'] ?? 24);
const SEED = Number(process.env['FUZZ_SEED'] ?? 1313);
const RETRY = { retries: 4, retryBaseDelayMs: 1, retryMaxDelayMs: 20 };

let fx: FaultFixture;
let proxy: FaultProxy;
let fixture: FaultImage;

beforeAll(async () => {
  fx = await startFaultFixture('faults-checker', 'faults/app');
  ({ proxy, fixture } = fx);
}, 90_000);

afterAll(async () => {
  await fx?.stop();
});

describe('every file under random registry faults', () => {
  it(`${ROUNDS} rounds of random faults: right bytes or a typed error, never a wrong byte; then all right`, async () => {
    const tally = newTally();
    const injected: Record<string, number> = {};
    let opensFailed = 0;
    const layerModes = { lazy: 0, whole: 0 };
    const whyWhole = new Set<string>();
    const ref = `${proxy.host}/faults/app:v1`;
    for (let round = 0; round < ROUNDS; round++) {
      const r = new Rand(SEED + round);
      proxy.reset();
      proxy.setFaults(randomFaults(r));
      const events: ImageFsEvent[] = [];
      let fs;
      try {
        fs = await openImage(ref, { platform: PLATFORM, ...RETRY, onImageEvent: (e) => events.push(e) });
      } catch (error) {
        opensFailed++;
        expect((error as { code?: string }).code, String(error)).toMatch(/^(DataLoss|Unavailable|ResourceExhausted|InvalidArgument)$/);
        continue;
      } finally {
        for (const [k, v] of Object.entries(proxy.counters.injected)) injected[k] = (injected[k] ?? 0) + v;
      }
      // Mostly lazy; a layer whose range probe met an ignored Range is pulled whole (and says why).
      for (const e of events) if (e.type === 'layer') { layerModes[e.mode]++; if (e.mode === 'whole') whyWhole.add(e.why ?? ''); }
      proxy.reset();
      proxy.setFaults(randomFaults(r));
      await readAndCheck(fs, fixture.files, tally);
      for (const [k, v] of Object.entries(proxy.counters.injected)) injected[k] = (injected[k] ?? 0) + v;
      // Faults off: the same ImageFs (spans it cached under faults) serves every file right.
      proxy.reset();
      const clean = newTally();
      await readAndCheck(fs, fixture.files, clean);
      expect(clean.wrong).toEqual([]);
      expect(clean.untyped).toEqual([]);
      expect(clean.right).toBe(fixture.files.length);
      await fs.close();
    }
    const totalInjected = Object.values(injected).reduce((a, b) => a + b, 0);
    console.log(`faults-checker: ${ROUNDS} rounds, ${fixture.files.length} files, reads right ${tally.right}, typed ${JSON.stringify(tally.typed)}, opens failed ${opensFailed}, layers ${JSON.stringify(layerModes)}, faults injected ${JSON.stringify(injected)} (${totalInjected}); whole because: ${[...whyWhole].join(' | ')}`);
    expect(tally.wrong).toEqual([]);
    expect(tally.untyped).toEqual([]);
    expect(totalInjected).toBeGreaterThan(ROUNDS);
    expect(Object.keys(injected).filter((k) => (injected[k] ?? 0) > 0).length).toBeGreaterThanOrEqual(6);
    expect(tally.right).toBeGreaterThan(0);
    expect(layerModes.lazy).toBeGreaterThan(layerModes.whole);
  }, 120_000);
});
