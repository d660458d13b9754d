import { describe, expect, it } from 'vitest';
import { formatReference, isLoopbackHost, manifestReference, parseReference } from '../src/registry/reference.js';
import { schemeFor } from '../src/registry/endpoints.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference: Docker grammar and normalisation', () => {
  const good: Array<[string, { registry: string; repository: string; tag?: string; digest?: string }]> = [
    ['alpine', { registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }],
    ['alpine:3.20', { registry: 'docker.io', repository: 'library/alpine', tag: '3.20' }],
    ['library/alpine', { registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }],
    ['docker.io/alpine', { registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }],
    ['index.docker.io/alpine', { registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }],
    ['docker.io/user/app:v1', { registry: 'docker.io', repository: 'user/app', tag: 'v1' }],
    ['user/app', { registry: 'docker.io', repository: 'user/app', tag: 'latest' }],
    ['ghcr.io/org/team/app:1.0', { registry: 'ghcr.io', repository: 'org/team/app', tag: '1.0' }],
    ['localhost/app', { registry: 'localhost', repository: 'app', tag: 'latest' }],
    ['localhost:5000/app:x', { registry: 'localhost:5000', repository: 'app', tag: 'x' }],
    ['127.0.0.1:5000/a/b', { registry: '127.0.0.1:5000', repository: 'a/b', tag: 'latest' }],
    ['[::1]:5000/a', { registry: '[::1]:5000', repository: 'a', tag: 'latest' }],
    ['Registry.Example.COM/a', { registry: 'registry.example.com', repository: 'a', tag: 'latest' }],
    [`alpine@${D}`, { registry: 'docker.io', repository: 'library/alpine', digest: D }],
    [`alpine:3@${D}`, { registry: 'docker.io', repository: 'library/alpine', tag: '3', digest: D }],
    [`127.0.0.1:5000/a/b@${D}`, { registry: '127.0.0.1:5000', repository: 'a/b', digest: D }],
    ['a/b_c/d__e/f-g/h.i:T_1.2-3', { registry: 'docker.io', repository: 'a/b_c/d__e/f-g/h.i', tag: 'T_1.2-3' }],
    ['foo--bar/baz', { registry: 'docker.io', repository: 'foo--bar/baz', tag: 'latest' }],
  ];
  it.each(good)('%s', (text, want) => {
    expect(parseReference(text)).toEqual(want);
  });

  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['Alpine', /lower-case/],
    ['a//b', /component ''/],
    ['a/', /component ''|missing/],
    ['a:', /tag ''/],
    ['a:-x', /tag '-x'/],
    [`a:${'x'.repeat(129)}`, /tag/],
    ['a@sha256:abc', /64 lower-case hex/],
    [`a@sha256:${'A'.repeat(64)}`, /64 lower-case hex/],
    ['a@md5', /ALGORITHM:HEX/],
    ['https://reg/a', /scheme/],
    ['reg.io:99999/a', /port/],
    ['reg.io:/a', /port ''|host/],
    ['a b', /white space/],
    ['-a/b', /component '-a'/],
    ['a_/b', /component 'a_'/],
    ['reg.io/A', /lower-case/],
    [`reg.io/${'a'.repeat(256)}`, /255/],
  ];
  it.each(bad)('refuses %j', (text, why) => {
    let caught: unknown;
    try { parseReference(text); } catch (e) { caught = e; }
    expect(caught).toMatchObject({ code: 'InvalidArgument' });
    expect((caught as Error).message).toMatch(why);
    expect((caught as Error).message).toContain('invalid image reference');
  });

  it('formats back to the full form and picks the digest over the tag for the manifest request', () => {
    const ref = parseReference(`alpine:3@${D}`);
    expect(formatReference(ref)).toBe(`docker.io/library/alpine:3@${D}`);
    expect(manifestReference(ref)).toBe(D);
    expect(manifestReference(parseReference('a:v2'))).toBe('v2');
  });
});

describe('loopback and scheme', () => {
  it.each([
    ['localhost', true], ['localhost:5000', true], ['127.0.0.1:5000', true], ['127.255.1.9', true],
    ['[::1]:5000', true], ['::1', true], ['128.0.0.1', false], ['127.0.0.256', false], ['localhost.example.com', false],
    ['registry.example:5000', false], ['10.0.0.1', false],
  ])('%s loopback=%s', (host, want) => {
    expect(isLoopbackHost(host)).toBe(want);
  });
  it('uses http for loopback and insecure hosts, https otherwise', () => {
    expect(schemeFor('127.0.0.1:5000', false)).toBe('http');
    expect(schemeFor('reg.example', false)).toBe('https');
    expect(schemeFor('reg.example', ['reg.example'])).toBe('http');
    expect(schemeFor('other.example', ['reg.example'])).toBe('https');
    expect(schemeFor('reg.example', true)).toBe('http');
  });
});
