import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../src/image/media-types.js';
import { RegistrySource } from '../src/registry/registry-source.js';
import { buildImage, dir, file, writeLayout } from '../src/testing/builder/index.js';
import { pushSchema1, startRegistry, type PushedSchema1, type TestRegistry } from '../src/testing/registry/index.js';

let reg: TestRegistry;
let layout: string;
let pushed: PushedSchema1;

beforeAll(async () => {
  layout = await mkdtemp(join(tmpdir(), 'imagefs-schema1-'));
  reg = await startRegistry({ schema1: true });
  const image = await buildImage({ layers: [{ entries: [dir('etc/'), file('etc/hostname', 'old\n')] }] });
  await writeLayout(layout, [{ image, tag: 'v1' }]);
  pushed = await pushSchema1(reg, { layoutDir: layout, tag: 'v1', repo: 'old/app' });
});
afterAll(async () => {
  await reg?.stop();
  await rm(layout, { recursive: true, force: true });
});

describe('Docker schema 1 manifests', () => {
  it('fetchManifest recognises and reports them (kind schema1, the registry digest)', async () => {
    const src = new RegistrySource(`${reg.host}/old/app:v1`, { authFile: false });
    const m = await src.fetchManifest();
    expect(m.kind).toBe('schema1');
    expect(m.mediaType).toBe(MediaType.DOCKER_SCHEMA1_SIGNED);
    expect(m.digest).toBe(pushed.digest);
    // The registry re-signs on every GET (ECDSA), so only the payload is stable.
    const payload = (b: Uint8Array): unknown => ({ ...JSON.parse(Buffer.from(b).toString('utf8')), signatures: undefined });
    expect(payload(m.bytes)).toEqual(payload(pushed.bytes));
    expect((m.parsed as { schemaVersion: number }).schemaVersion).toBe(1);
    await src.close();
  });

  it('resolve() refuses them with InvalidArgument and a clear message and fix', async () => {
    const src = new RegistrySource(`${reg.host}/old/app:v1`, { authFile: false });
    const e = await src.resolve().catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'InvalidArgument', name: 'RegistryError' });
    expect((e as Error).message).toMatch(/schema 1/);
    expect((e as { hint: string }).hint).toMatch(/schema 2 or OCI/);
    await src.close();
  });
});
