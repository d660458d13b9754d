// Issue 13, load under faults: 1,000 concurrent reads of random files of a lazily read image
// through the fault proxy (latency, 429 with Retry-After, 5xx, resets, short bodies, flipped
// bytes), no span cache (every read goes to the registry); every read is right or a typed error,
// and once the ImageFs is closed nothing is left behind: no sockets, handles, timers or listeners
// beyond those there before (process.getActiveResourcesInfo(), process listener counts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NoCache } from '../src/cache/no-cache.js';
import { openImage } from '../src/open/open-image.js';
import type { FaultProxy } from '../src/testing/registry/index.js';
import { newTally, readAndCheck, startFaultFixture, type FaultFixture, type FaultImage } from './fuzz/fault-image.js';
import { Rand } from './fuzz/harness.js';

const PLATFORM = { os: 'linux', architecture: 'amd64' };
const READS = 1000;

let fx: FaultFixture;
let proxy: FaultProxy;
let fixture: FaultImage;

beforeAll(async () => {
  fx = await startFaultFixture('faults-load', 'faults/load');
  ({ proxy, fixture } = fx);
}, 90_000);

afterAll(async () => {
  await fx?.stop();
});

/** Counts of active resources by type (TCPSocketWrap, Timeout, FSReqCallback, ...). */
function resources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

const LISTENED = ['exit', 'SIGINT', 'SIGTERM', 'uncaughtException', 'unhandledRejection', 'warning'] as const;
const listeners = (): number[] => LISTENED.map((e) => process.listenerCount(e));

/** Resource types whose count is above `base`. */
function leaked(base: Record<string, number>): Record<string, number> {
  const now = resources();
  return Object.fromEntries(Object.entries(now).filter(([k, n]) => n > (base[k] ?? 0)).map(([k, n]) => [k, n - (base[k] ?? 0)]));
}

describe('1,000 concurrent reads under faults', () => {
  it('are right or typed errors, and leave no sockets, handles, timers or listeners behind', async () => {
    const r = new Rand(4242);
    const beforeResources = resources();
    const beforeListeners = listeners();
    const fs = await openImage(`${proxy.host}/faults/load:v1`, { platform: PLATFORM, retries: 8, retryBaseDelayMs: 1, retryMaxDelayMs: 20, spanCache: new NoCache() });
    // Bounded so that 8 retries can outlast them (the reads share coalesced range requests).
    proxy.setFaults({
      latency: { ms: 5, count: 300 },
      tooManyRequests: { retryAfter: 1, count: 2, match: 'blob' },
      serverError: { status: 503, count: 2, match: 'blob' },
      resetAfter: { bytes: 1000, count: 2, match: 'blob' },
      shortBody: { bytes: 2000, count: 2, match: 'blob' },
      wrongBytes: { offsets: [100], count: 1, match: 'blob' },
    });
    const picks = Array.from({ length: READS }, () => r.pick(fixture.files));
    const tally = newTally();
    const started = performance.now();
    await readAndCheck(fs, picks, tally);
    const ms = performance.now() - started;
    const during = leaked(beforeResources); // what the open image holds: must go away with it
    const injected = { ...proxy.counters.injected };
    const requests = proxy.counters.byKind.blob;
    await fs.close();
    proxy.reset();
    // Sockets close asynchronously after the agent is closed: poll (bounded) until they are gone.
    const deadline = performance.now() + 10_000;
    while (Object.keys(leaked(beforeResources)).length > 0 && performance.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    console.log(`faults-load: ${READS} reads in ${Math.round(ms)} ms, right ${tally.right}, typed ${JSON.stringify(tally.typed)}, blob requests ${requests}, injected ${JSON.stringify(injected)}, held while open ${JSON.stringify(during)}, left after close ${JSON.stringify(leaked(beforeResources))}`);
    expect(tally.wrong).toEqual([]);
    expect(tally.untyped).toEqual([]);
    expect(tally.right + Object.values(tally.typed).reduce((a, b) => a + b, 0)).toBe(READS);
    expect(tally.right).toBeGreaterThan(READS / 2);
    expect(Object.values(injected).filter((n) => n > 0).length).toBeGreaterThanOrEqual(5);
    expect(during['TCPSocketWrap'] ?? 0).toBeGreaterThan(0);
    expect(leaked(beforeResources)).toEqual({});
    expect(listeners()).toEqual(beforeListeners);
  }, 120_000);
});
