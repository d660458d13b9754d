import { describe, expect, it } from 'vitest';
import { RegistryError } from '../src/errors/registry-error.js';
import { parseChallenges } from '../src/registry/challenge.js';
import { codeForStatus, errorFromNetwork, errorFromResponse, isRetryableStatus, parseDiagnostics } from '../src/registry/error-map.js';
import { redactText, redactUrl } from '../src/registry/redact.js';
import { backoffDelay, isRetryableNetworkError, parseRetryAfter, sleep, TransientError } from '../src/registry/retry.js';
import { resolveClientOptions } from '../src/registry/options.js';
import { identifyManifest, verifyManifestDigest, digestOf } from '../src/registry/manifest.js';
import { parseContentRange } from '../src/registry/blob-fetch.js';
import { referrersTag } from '../src/registry/referrers.js';
import { RegistryClient } from '../src/registry/client.js';

describe('WWW-Authenticate challenges', () => {
  it('parses Bearer with realm, service and a scope containing commas', () => {
    expect(parseChallenges('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } },
    ]);
  });
  it('parses several challenges, unquoted values, escapes and an error parameter', () => {
    const got = parseChallenges('Basic realm="Registry Realm", Bearer realm=https://a/t, error="insufficient_scope",scope="x\\"y"');
    expect(got).toEqual([
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
      { scheme: 'bearer', params: { realm: 'https://a/t', error: 'insufficient_scope', scope: 'x"y' } },
    ]);
    expect(parseChallenges(['Basic realm="a"', 'Bearer realm="b"']).map((c) => c.scheme)).toEqual(['basic', 'bearer']);
    expect(parseChallenges(undefined)).toEqual([]);
    expect(parseChallenges('')).toEqual([]);
  });
});

describe('error mapping', () => {
  const ctx = { what: 'fetching manifest a:b', url: 'http://r/v2/a/manifests/b' };
  it.each([
    [401, [], 'PermissionDenied'], [403, [], 'PermissionDenied'], [404, [], 'NotFound'],
    [400, [{ code: 'MANIFEST_UNKNOWN', message: '' }], 'NotFound'], [429, [], 'ResourceExhausted'],
    [503, [], 'Unavailable'], [500, [], 'Unavailable'], [400, [], 'InvalidArgument'],
    [400, [{ code: 'DENIED', message: '' }], 'PermissionDenied'],
  ] as const)('HTTP %i %j → %s', (status, diags, code) => {
    expect(codeForStatus(status, [...diags])).toBe(code);
  });
  it('keeps the registry diagnostics and says quota for 429', () => {
    const body = JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down', detail: { n: 1 } }] });
    const e = errorFromResponse(429, body, ctx);
    expect(e).toBeInstanceOf(RegistryError);
    expect(e.code).toBe('ResourceExhausted');
    expect(e.message).toMatch(/quota or rate limit/);
    expect(e.message).toContain('TOOMANYREQUESTS (slow down)');
    expect(e.diagnostics).toEqual([{ code: 'TOOMANYREQUESTS', message: 'slow down', detail: { n: 1 } }]);
    expect(e.status).toBe(429);
    expect(e.url).toBe(ctx.url);
    expect(e.hint).not.toBe('');
  });
  it('parses only proper error bodies and keeps short plain text', () => {
    expect(parseDiagnostics('404 page not found')).toEqual([]);
    expect(parseDiagnostics('{"errors": 3}')).toEqual([]);
    expect(errorFromResponse(404, '404 page not found\n', ctx).message).toMatch(/HTTP 404: 404 page not found$/);
    expect(errorFromResponse(502, '<html>bad gateway</html>', ctx).message).not.toContain('html');
  });
  it('maps network failures to Unavailable with the cause kept', () => {
    const cause = Object.assign(new Error('boom'), { code: 'ECONNREFUSED' });
    const e = errorFromNetwork(cause, ctx, 5);
    expect(e.code).toBe('Unavailable');
    expect(e.message).toContain('5 attempt(s): ECONNREFUSED');
    expect(e.cause).toBe(cause);
  });
  it('retries 408, 429 and 5xx but not 501, 4xx', () => {
    expect([408, 429, 500, 502, 503, 504].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 416, 501].some(isRetryableStatus)).toBe(false);
  });
});

describe('redaction', () => {
  it('drops user info and secret query values, keeps harmless ones', () => {
    expect(redactUrl('https://user:pw@s3.example/b/data?X-Amz-Signature=abc&X-Amz-Credential=k&digest=sha256:1&n=5'))
      .toBe('https://s3.example/b/data?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&digest=sha256%3A1&n=5');
    expect(redactUrl('http://r/v2/a/blobs/uploads/u?_state=SECRETSTATE')).not.toContain('SECRETSTATE');
  });
  it('removes authorization values, token fields and URL passwords from text', () => {
    const text = 'sent Authorization: Bearer eyJhbGciOi.abc.def and Basic dXNlcjpwdw== with {"token":"t0k","password": "pw"} to https://u:p@h/x?sig=zzz';
    const out = redactText(text);
    for (const secret of ['eyJhbGciOi', 'dXNlcjpwdw', 't0k', '"pw"', 'u:p@', 'zzz']) expect(out).not.toContain(secret);
    expect(out).toContain('Bearer REDACTED');
  });
});

describe('retry policy', () => {
  const policy = { retries: 4, baseDelayMs: 100, maxDelayMs: 1000, budgetMs: 10_000 };
  it('backs off exponentially with full jitter, capped', () => {
    expect(backoffDelay(policy, 1, undefined, () => 0.999)).toBe(99);
    expect(backoffDelay(policy, 3, undefined, () => 0.999)).toBe(399);
    expect(backoffDelay(policy, 10, undefined, () => 0.999)).toBe(999);
    expect(backoffDelay(policy, 3, undefined, () => 0)).toBe(0);
  });
  it('honours Retry-After (seconds or date), capped at the maximum delay', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(new Date(10_000 + 3000).toUTCString(), 10_000)).toBe(3000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(backoffDelay(policy, 1, 500)).toBe(500);
    expect(backoffDelay(policy, 1, 60_000)).toBe(1000);
  });
  it('classifies connection errors', () => {
    expect(isRetryableNetworkError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetryableNetworkError(new Error('wrap', { cause: Object.assign(new Error('y'), { code: 'UND_ERR_SOCKET' }) }))).toBe(true);
    expect(isRetryableNetworkError(new TransientError('short'))).toBe(true);
    expect(isRetryableNetworkError(new TypeError('bug'))).toBe(false);
  });
  it('sleep rejects with Aborted when the signal fires', async () => {
    const ac = new AbortController();
    const p = sleep(60_000, ac.signal);
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'Aborted' });
  });
});

describe('client options', () => {
  it('fills defaults', () => {
    const o = resolveClientOptions({});
    expect(o.retries).toBe(4);
    expect(o.maxConcurrentPerHost).toBe(8);
    expect(o.insecure).toBe(false);
  });
  it.each([
    [{ retries: -1 }, 'retries'], [{ retries: 1.5 }, 'retries'], [{ maxConcurrentPerHost: 0 }, 'maxConcurrentPerHost'],
    [{ credentials: 'u:p' }, 'credentials'], [{ credentials: { password: 'x' } }, 'credentials'],
    [{ credentials: { username: 1 } }, 'credentials.username'], [{ mirrors: { 'docker.io': ['ftp://m'] } }, 'mirrors.docker.io'],
    [{ insecure: 'yes' }, 'insecure'], [{ authFile: 3 }, 'authFile'], [{ onEvent: 1 }, 'onEvent'], [{ retrys: 3 }, 'retrys'],
    [{ dispatcher: {} }, 'dispatcher'],
  ])('refuses %j naming %s', (options, field) => {
    expect(() => new RegistryClient(options as never)).toThrow(TypeError);
    expect(() => new RegistryClient(options as never)).toThrow(`'${field}'`);
  });
});

describe('manifest classification and digests', () => {
  const enc = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o));
  const m = enc({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'x', digest: 'sha256:0', size: 1 }, layers: [] });
  it('uses a specific Content-Type, else the document', () => {
    expect(identifyManifest(m, 'application/vnd.oci.image.manifest.v1+json', 'u').kind).toBe('manifest');
    expect(identifyManifest(m, 'application/json; charset=utf-8', 'u').mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(identifyManifest(enc({ schemaVersion: 2, manifests: [] }), undefined, 'u')).toMatchObject({ kind: 'index', mediaType: 'application/vnd.oci.image.index.v1+json' });
    expect(identifyManifest(enc({ schemaVersion: 1, name: 'a', fsLayers: [], signatures: [] }), 'application/json', 'u'))
      .toMatchObject({ kind: 'schema1', mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws' });
  });
  it('refuses what it does not know', () => {
    expect(() => identifyManifest(enc({ schemaVersion: 2 }), 'application/vnd.example+json', 'u')).toThrow(/not an image manifest/);
    expect(() => identifyManifest(new TextEncoder().encode('nope'), undefined, 'u')).toThrow(/not JSON/);
    expect(() => identifyManifest(enc({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json' }), undefined, 'u')).toThrow(/lacks/);
  });
  it('checks bytes against the asked digest and Docker-Content-Digest (DataLoss)', () => {
    const d = digestOf(m);
    expect(verifyManifestDigest(m, 'manifest', d, d, 'u')).toBe(d);
    expect(verifyManifestDigest(m, 'manifest', undefined, undefined, 'u')).toBe(d);
    const other = `sha256:${'0'.repeat(64)}`;
    expect(() => verifyManifestDigest(m, 'manifest', other, undefined, 'u')).toThrow(expect.objectContaining({ code: 'DataLoss' }));
    expect(() => verifyManifestDigest(m, 'manifest', undefined, other, 'u')).toThrow(expect.objectContaining({ code: 'DataLoss' }));
  });
  it('parses Content-Range and names the referrers tag', () => {
    expect(parseContentRange('bytes 10-19/100')).toEqual({ start: 10, end: 19, size: 100 });
    expect(parseContentRange('bytes 10-19/*')).toEqual({ start: 10, end: 19, size: undefined });
    expect(parseContentRange('bytes */100')).toBeUndefined();
    expect(referrersTag(`sha256:${'ab'.repeat(32)}`)).toBe(`sha256-${'ab'.repeat(32)}`);
  });
});

describe('RangeCoalescer (in-memory fetch)', async () => {
  const { RangeCoalescer } = await import('../src/registry/coalescer.js');
  const data = new Uint8Array(10_000).map((_, i) => i % 251);
  it('aborts the request once every reader of it has aborted', async () => {
    const seen: AbortSignal[] = [];
    const c = new RangeCoalescer((start, end, signal) => {
      seen.push(signal);
      return new Promise((resolve, reject) => {
        signal.addEventListener('abort', () => reject(new Error('fetch aborted')));
        if (start < 0) resolve(data.subarray(start, end));
      });
    }, { mergeGapBytes: 0, maxMergedBytes: 1 << 20 });
    const a = new AbortController();
    const b = new AbortController();
    const r1 = c.read(0, 100, a.signal);
    const r2 = c.read(50, 100, b.signal);
    await new Promise((r) => setImmediate(r));
    expect(seen).toHaveLength(1); // merged: [0,100) and [100,150)
    a.abort();
    await expect(r1).rejects.toMatchObject({ code: 'Aborted' });
    expect(seen[0]!.aborted).toBe(false); // r2 still waits
    b.abort();
    await expect(r2).rejects.toMatchObject({ code: 'Aborted' });
    expect(seen[0]!.aborted).toBe(true);
  });
  it('asks only for uncovered bytes, assembles pieces in order, and respects maxMergedBytes', async () => {
    const calls: Array<[number, number]> = [];
    const c = new RangeCoalescer(async (start, end) => {
      calls.push([start, end]);
      return data.slice(start, end);
    }, { mergeGapBytes: 0, maxMergedBytes: 1000 });
    const reads = await Promise.all([c.read(0, 600), c.read(600, 600), c.read(1200, 10), c.read(300, 1000)]);
    // [0,600) alone (adding [600,1200) would pass 1000 bytes); the rest merge into [600,1300);
    // the fourth read only asks for [1210,1300), the bytes nobody asked for yet.
    expect(calls).toEqual([[0, 600], [600, 1300]]);
    expect(Buffer.from(reads[3]!).equals(Buffer.from(data.subarray(300, 1300)))).toBe(true);
    expect(Buffer.from(reads[1]!).equals(Buffer.from(data.subarray(600, 1200)))).toBe(true);
  });
});
