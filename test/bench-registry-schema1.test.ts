import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushSchema1, startRegistry, type TestRegistry } from '../src/testing/registry/index.js';
import { sha256, tinyImage, writeLayout } from './bench-registry-fixture.js';

/** The signed payload of a prettyjws manifest: what its digest covers. */
function schema1Payload(bytes: Buffer): Buffer {
  const { signatures } = JSON.parse(bytes.toString('utf8')) as { signatures: Array<{ protected: string }> };
  const header = JSON.parse(Buffer.from(signatures[0]!.protected, 'base64url').toString('utf8')) as { formatLength: number; formatTail: string };
  return Buffer.concat([bytes.subarray(0, header.formatLength), Buffer.from(header.formatTail, 'base64url')]);
}

const SIGNED = 'application/vnd.docker.distribution.manifest.v1+prettyjws';

describe('schema 1 registry variant', () => {
  let dir: string;
  let reg: TestRegistry;
  const img = tinyImage(5000, 11);
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bench-s1-'));
    await writeLayout(dir, [img], ['v1']);
    reg = await startRegistry({ schema1: true, auth: 'basic' });
  });
  afterAll(async () => {
    await reg?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('accepts a signed schema 1 manifest converted by skopeo and serves it back', async () => {
    const pushed = await pushSchema1(reg, { layoutDir: dir, tag: 'v1', repo: 'old/app', destTag: 'legacy' });
    expect(pushed.mediaType).toBe(SIGNED);
    expect(pushed.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const manifest = JSON.parse(pushed.bytes.toString('utf8')) as {
      schemaVersion: number; name: string; tag: string; fsLayers: Array<{ blobSum: string }>; signatures: unknown[];
    };
    expect(manifest).toMatchObject({ schemaVersion: 1, name: 'old/app', tag: 'legacy' });
    expect(manifest.fsLayers).toEqual([{ blobSum: img.layerDigest }]);
    expect(manifest.signatures.length).toBe(1);
    // The layer is there and range-readable.
    const auth = `Basic ${Buffer.from(`${reg.auth!.username}:${reg.auth!.password}`).toString('base64')}`;
    const res = await request(`${reg.url}/v2/old/app/blobs/${img.layerDigest}`, { headers: { authorization: auth, range: 'bytes=0-9' } });
    const body = Buffer.from(await res.body.arrayBuffer());
    expect(res.statusCode).toBe(206);
    expect(body.equals(img.layer.subarray(0, 10))).toBe(true);
    // By digest too.
    const byDigest = await request(`${reg.url}/v2/old/app/manifests/${pushed.digest}`, { headers: { authorization: auth, accept: SIGNED } });
    const bytes = Buffer.from(await byDigest.body.arrayBuffer());
    expect(byDigest.statusCode).toBe(200);
    expect(byDigest.headers['docker-content-digest']).toBe(pushed.digest);
    // distribution signs again on every GET (ECDSA is randomised): only the payload is stable, and
    // the digest is the sha256 of the payload (formatLength bytes + formatTail), not of the body.
    expect(schema1Payload(bytes).equals(schema1Payload(pushed.bytes))).toBe(true);
    expect(sha256(schema1Payload(bytes))).toBe(pushed.digest);
    expect(sha256(bytes)).not.toBe(pushed.digest);
  });

  it('a registry without schema1 refuses the same push', async () => {
    const plain = await startRegistry();
    try {
      await expect(pushSchema1(plain, { layoutDir: dir, tag: 'v1', repo: 'old/app' })).rejects.toMatchObject({
        code: 'Unavailable',
        message: expect.stringMatching(/schema 1/) as unknown,
      });
    } finally {
      await plain.stop();
    }
  });
});
