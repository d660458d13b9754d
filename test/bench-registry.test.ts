import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushBlob, pushLayout, pushManifest, startRegistry, type TestRegistry } from '../src/testing/registry/index.js';
import { OCI_INDEX, OCI_MANIFEST, sha256, tinyImage, writeLayout } from './bench-registry-fixture.js';

const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

/** The Authorization header a plain client needs to pull `repo` (fetching a token itself for token auth). */
async function pullAuth(reg: TestRegistry, repo: string): Promise<Record<string, string>> {
  if (reg.auth === undefined) return {};
  const creds = basic(reg.auth.username, reg.auth.password);
  if (reg.tokenIssuer === undefined) return { authorization: creds };
  const realm = new URL(reg.tokenIssuer.realm);
  realm.searchParams.set('service', reg.tokenIssuer.service);
  realm.searchParams.set('scope', `repository:${repo}:pull`);
  const res = await request(realm, { headers: { authorization: creds } });
  expect(res.statusCode).toBe(200);
  const { token } = (await res.body.json()) as { token: string };
  return { authorization: `Bearer ${token}` };
}

const variants = [
  { name: 'no auth', options: {} },
  { name: 'basic auth', options: { auth: 'basic' } },
  { name: 'token auth', options: { auth: 'token' } },
  { name: 'redirect', options: { redirect: true } },
  { name: 'schema1 enabled', options: { schema1: true } },
] as const;

describe.each(variants)('registry variant: $name', ({ options }) => {
  let reg: TestRegistry;
  const img = tinyImage(20_000, 3);
  const repo = 'bench/tiny';
  beforeAll(async () => {
    reg = await startRegistry(options);
    await pushBlob(reg, repo, img.config);
    expect((await pushBlob(reg, repo, img.layer)).existed).toBe(false);
    expect((await pushBlob(reg, repo, img.layer)).existed).toBe(true);
    const put = await pushManifest(reg, repo, 'v1', OCI_MANIFEST, img.manifest);
    expect(put.digest).toBe(img.manifestDigest);
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('answers GET /v2/ as its auth mode says', async () => {
    const res = await request(`${reg.url}/v2/`);
    await res.body.dump();
    if (reg.auth === undefined) {
      expect(res.statusCode).toBe(200);
    } else {
      expect(res.statusCode).toBe(401);
      expect(String(res.headers['www-authenticate'])).toMatch(reg.tokenIssuer ? /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/token",service=/ : /^Basic /);
    }
  });

  it('serves the manifest with the right Accept header, by tag and by digest', async () => {
    const headers = { ...(await pullAuth(reg, repo)), accept: OCI_MANIFEST };
    for (const ref of ['v1', img.manifestDigest]) {
      const res = await request(`${reg.url}/v2/${repo}/manifests/${ref}`, { headers });
      const body = Buffer.from(await res.body.arrayBuffer());
      expect(res.statusCode).toBe(200);
      expect(res.headers['docker-content-digest']).toBe(img.manifestDigest);
      expect(res.headers['content-type']).toBe(OCI_MANIFEST);
      expect(body.equals(img.manifest)).toBe(true);
    }
  });

  it('answers a range read of a blob with 206 and Content-Range (following a redirect if any)', async () => {
    const headers = { ...(await pullAuth(reg, repo)), range: 'bytes=100-1099' };
    let res = await request(`${reg.url}/v2/${repo}/blobs/${img.layerDigest}`, { headers });
    if (reg.blobServer !== undefined) {
      expect(res.statusCode).toBe(307);
      const location = String(res.headers['location']);
      await res.body.dump();
      expect(location).toBe(`${reg.blobServer.url}/docker/registry/v2/blobs/sha256/${img.layerDigest.slice(7, 9)}/${img.layerDigest.slice(7)}/data`);
      res = await request(location, { headers: { range: headers.range } });
    }
    const body = Buffer.from(await res.body.arrayBuffer());
    expect(res.statusCode).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes 100-1099/${img.layer.length}`);
    expect(body.equals(img.layer.subarray(100, 1100))).toBe(true);
  });

  it('answers suffix and open ranges, and 416 past the end', async () => {
    const auth = await pullAuth(reg, repo);
    const get = async (range: string): Promise<{ status: number; contentRange: unknown; body: Buffer }> => {
      let res = await request(`${reg.url}/v2/${repo}/blobs/${img.layerDigest}`, { headers: { ...auth, range } });
      if (res.statusCode === 307) {
        const location = String(res.headers['location']);
        await res.body.dump();
        res = await request(location, { headers: { range } });
      }
      const status = res.statusCode;
      // Never read a 416 body from distribution (its Content-Length is wrong).
      const body = status === 416 ? Buffer.alloc(0) : Buffer.from(await res.body.arrayBuffer());
      if (status === 416) res.body.on('error', () => undefined).destroy();
      return { status, contentRange: res.headers['content-range'], body };
    };
    const size = img.layer.length;
    const suffix = await get('bytes=-10');
    expect([suffix.status, suffix.contentRange]).toEqual([206, `bytes ${size - 10}-${size - 1}/${size}`]);
    expect(suffix.body.equals(img.layer.subarray(size - 10))).toBe(true);
    const open = await get(`bytes=${size - 5}-`);
    expect([open.status, open.contentRange]).toEqual([206, `bytes ${size - 5}-${size - 1}/${size}`]);
    const past = await get(`bytes=${size}-${size + 10}`);
    expect([past.status, past.contentRange]).toEqual([416, `bytes */${size}`]);
  });
});

describe('auth specifics', () => {
  it('basic auth: a wrong password is refused with 401', async () => {
    const reg = await startRegistry({ auth: 'basic' });
    try {
      const res = await request(`${reg.url}/v2/`, { headers: { authorization: basic('tester', 'wrong') } });
      await res.body.dump();
      expect(res.statusCode).toBe(401);
      const ok = await request(`${reg.url}/v2/`, { headers: { authorization: basic(reg.auth!.username, reg.auth!.password) } });
      await ok.body.dump();
      expect(ok.statusCode).toBe(200);
    } finally {
      await reg.stop();
    }
  });

  it('token auth: per-user permissions, denied pulls, bad credentials, expired tokens, counting', async () => {
    const reg = await startRegistry({
      auth: 'token',
      tokenIssuer: { users: { reader: { password: 'reader-pw', repositories: { 'open/*': ['pull'] } } } },
    });
    try {
      const img = tinyImage(1000, 9);
      for (const repo of ['open/app', 'secret/app']) {
        await pushBlob(reg, repo, img.config);
        await pushBlob(reg, repo, img.layer);
        await pushManifest(reg, repo, 'v1', OCI_MANIFEST, img.manifest);
      }
      const issuer = reg.tokenIssuer!;
      const before = issuer.requests.length;
      const tokenFor = async (user: string, pw: string, repo: string): Promise<{ status: number; token?: string; expires_in?: number }> => {
        const url = `${issuer.realm}?service=${issuer.service}&scope=repository:${repo}:pull`;
        const res = await request(url, { headers: { authorization: basic(user, pw) } });
        const status = res.statusCode;
        return { status, ...((await res.body.json()) as object) };
      };
      const getManifest = async (token: string, repo: string): Promise<number> => {
        const res = await request(`${reg.url}/v2/${repo}/manifests/v1`, { headers: { authorization: `Bearer ${token}`, accept: OCI_MANIFEST } });
        await res.body.dump();
        return res.statusCode;
      };
      const allowed = await tokenFor('reader', 'reader-pw', 'open/app');
      expect(allowed.status).toBe(200);
      expect(allowed.expires_in).toBe(300);
      expect(await getManifest(allowed.token!, 'open/app')).toBe(200);
      // A token for a repository the user may not pull grants nothing: the registry refuses it.
      const denied = await tokenFor('reader', 'reader-pw', 'secret/app');
      expect(denied.status).toBe(200);
      expect(issuer.requests.at(-1)?.granted).toEqual([]);
      expect(await getManifest(denied.token!, 'secret/app')).toBe(401);
      // The right token for the wrong repository is refused too.
      expect(await getManifest(allowed.token!, 'secret/app')).toBe(401);
      expect((await tokenFor('reader', 'bad', 'open/app')).status).toBe(401);
      expect(issuer.requests.length - before).toBe(3);
      // Expiry is enforced by the registry at expires_in (its 60 s leeway compensated).
      const access = [{ type: 'repository', name: 'open/app', actions: ['pull'] }];
      expect(await getManifest(issuer.mint('reader', access, 120), 'open/app')).toBe(200);
      expect(await getManifest(issuer.mint('reader', access, -2), 'open/app')).toBe(401);
      issuer.setExpiresIn(2);
      expect((await tokenFor('reader', 'reader-pw', 'open/app')).expires_in).toBe(2);
    } finally {
      await reg.stop();
    }
  });
});

describe('pushLayout', () => {
  it('pushes a tagged image and an index of two images from an OCI layout, skipping existing blobs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-layout-'));
    const reg = await startRegistry({ auth: 'token' });
    try {
      const a = tinyImage(3000, 1, 'amd64');
      const b = tinyImage(3000, 2, 'arm64');
      await writeLayout(dir, [a, b], ['a', 'b']);
      const one = await pushLayout(reg, { layoutDir: dir, tag: 'a', repo: 'bench/layout', destTag: 'one' });
      expect(one).toMatchObject({ digest: a.manifestDigest, mediaType: OCI_MANIFEST, uploadedBlobs: 2, existingBlobs: 0, manifests: 1 });
      const all = await pushLayout(reg, { layoutDir: dir, repo: 'bench/layout', destTag: 'all' });
      expect(all).toMatchObject({ mediaType: OCI_INDEX, uploadedBlobs: 2, existingBlobs: 2, manifests: 3 });
      const auth = await pullAuth(reg, 'bench/layout');
      const res = await request(`${reg.url}/v2/bench/layout/manifests/all`, { headers: { ...auth, accept: OCI_INDEX } });
      const index = Buffer.from(await res.body.arrayBuffer());
      expect(res.statusCode).toBe(200);
      expect(sha256(index)).toBe(all.digest);
      expect((JSON.parse(index.toString()) as { manifests: Array<{ digest: string }> }).manifests.map((m) => m.digest)).toEqual([a.manifestDigest, b.manifestDigest]);
      await expect(pushLayout(reg, { layoutDir: dir, tag: 'nope', repo: 'x/y' })).rejects.toMatchObject({ code: 'NotFound' });
    } finally {
      await reg.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('lifecycle', () => {
  it('stop() kills the process and removes the storage directory', async () => {
    const reg = await startRegistry({ redirect: true, auth: 'token' });
    const blobServer = reg.blobServer!.url;
    expect(existsSync(join(reg.storageDir, '..'))).toBe(true);
    await reg.stop();
    await reg.stop();
    expect(() => process.kill(reg.pid, 0)).toThrow();
    expect(existsSync(join(reg.storageDir, '..'))).toBe(false);
    await expect(request(`${reg.url}/v2/`)).rejects.toThrow();
    await expect(request(`${blobServer}/`)).rejects.toThrow();
  });

  it('fails with FailedPrecondition when the binary is missing', async () => {
    await expect(startRegistry({ binary: '/nonexistent/docker-registry' })).rejects.toMatchObject({
      code: 'FailedPrecondition',
      message: expect.stringContaining('/nonexistent/docker-registry') as unknown,
    });
  });
});
