import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../src/image/media-types.js';
import { RegistrySource } from '../src/registry/registry-source.js';
import { buildImage, dir, file, writeLayout, type BuiltImage } from '../src/testing/builder/index.js';
import { pushSchema1, startRegistry, type PushedSchema1, type TestRegistry } from '../src/testing/registry/index.js';

let reg: TestRegistry;
let layout: string;
let pushed: PushedSchema1;
let built: BuiltImage;

beforeAll(async () => {
  layout = await mkdtemp(join(tmpdir(), 'imagefs-schema1-'));
  reg = await startRegistry({ schema1: true });
  built = await buildImage({ layers: [{ entries: [dir('etc/'), file('etc/hostname', 'old\n')] }] });
  await writeLayout(layout, [{ image: built, tag: 'v1' }]);
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

  it('resolve() converts them for a whole pull: registry digest, blobSum layers with HEAD sizes, schema1 flag', async () => {
    const src = new RegistrySource(`${reg.host}/old/app:v1`, { authFile: false });
    const image = await src.resolve();
    expect(image.schema1).toBe(true);
    expect(image.digest).toBe(pushed.digest);
    expect(image.mediaType).toBe(MediaType.DOCKER_SCHEMA1_SIGNED);
    expect(image.layers).toEqual([{ mediaType: MediaType.DOCKER_LAYER_GZIP, digest: built.layers[0]!.descriptor.digest, size: built.layers[0]!.descriptor.size }]);
    expect(image.config.rootfs.diff_ids).toEqual([]);
    await src.close();
  });
});
