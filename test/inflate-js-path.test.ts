// The lazy-read and seekable-gzip tests again, on the pure-JS inflate engine (pako), as on a Node
// whose internal zlib handle is missing: every index they build and every span they read goes
// through JsInflater, on the main thread and in the span workers.
import { describe, expect, it } from 'vitest';
import { inflateEngine, setInflateEngine } from '../src/gzip/inflater.js';

setInflateEngine('js');

describe('the JS inflate engine', () => {
  it('is the one in use for the tests below', () => {
    expect(inflateEngine()).toEqual({ engine: 'js', reason: 'forced (IMAGEFS_INFLATE=js)' });
  });
});

await import('./gzip-prefix.test.js');
await import('./gzip-read.test.js');
await import('./lazy-open.test.js');
