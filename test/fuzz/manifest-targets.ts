// Fuzz targets for manifests, image indexes and configs: structurally mutated documents, served
// by an OCI layout and by a small HTTP server speaking the distribution API, resolved and
// validated as openImage does. A result must be a well-formed image (descriptors with digests
// and sizes, one diff_id per layer); anything else must be a typed error.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateResolvedImage } from '../../src/eligibility/validate-image.js';
import type { ResolvedImage } from '../../src/image/types.js';
import { OciLayoutSource } from '../../src/layout/oci-layout-source.js';
import { RegistrySource } from '../../src/registry/registry-source.js';
import type { FuzzTarget, Rand } from './harness.js';
import { mutateBytes, mutateJson } from './harness.js';

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v) ?? 'null');
const digest = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const PLATFORM = { os: 'linux', architecture: 'amd64' };

interface Docs { index: unknown; manifest: unknown; config: unknown; layer: Uint8Array }

/** A valid image: index → manifest → config, one empty-ish layer blob. */
function baseDocs(): Docs {
  const layer = new Uint8Array(1024);
  const config = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digest(layer)] }, config: { Env: ['A=1'] } };
  const configBytes = enc(config);
  const manifest = {
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest(configBytes), size: configBytes.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digest(layer), size: layer.length, annotations: { a: 'b' } }],
    annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
  };
  const manifestBytes = enc(manifest);
  const index = {
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: manifest.mediaType, digest: digest(manifestBytes), size: manifestBytes.length, platform: PLATFORM, annotations: { 'org.opencontainers.image.ref.name': 'fuzz' } }],
  };
  return { index, manifest, config, layer };
}

interface ImageCase { index: Uint8Array; manifest: Uint8Array; config: Uint8Array; layer: Uint8Array }

/** Mutates one or more documents, then (mostly) rewires digests and sizes so the mutation gets past the digest checks. */
function mutateCase(r: Rand): ImageCase {
  const base = baseDocs();
  const which = r.int(4);
  const config = which === 0 || r.chance(0.2) ? (r.chance(0.8) ? enc(mutateJson(base.config, r)) : mutateBytes(enc(base.config), r)) : enc(base.config);
  let manifest = base.manifest as Record<string, unknown>;
  if (r.chance(0.8)) (manifest['config'] as Record<string, unknown>) = { ...(manifest['config'] as object), digest: digest(config), size: config.length };
  manifest = which === 1 || r.chance(0.2) ? (mutateJson(manifest, r) as Record<string, unknown>) : manifest;
  const manifestBytes = which === 3 && r.chance(0.5) ? mutateBytes(enc(manifest), r) : enc(manifest);
  const index = base.index as { manifests: Array<Record<string, unknown>> };
  if (r.chance(0.9)) index.manifests[0] = { ...index.manifests[0], digest: digest(manifestBytes), size: manifestBytes.length };
  const indexDoc = which === 2 || r.chance(0.2) ? mutateJson(index, r) : index;
  return { index: enc(indexDoc), manifest: manifestBytes, config, layer: base.layer };
}

/** Checks what a resolve returned: a well-formed image. */
function judgeResolved(image: ResolvedImage): void {
  validateResolvedImage(image);
  for (const l of image.layers) {
    if (typeof l.digest !== 'string' || !Number.isSafeInteger(l.size) || l.size < 0) throw new Error(`resolve returned a bad layer descriptor ${JSON.stringify(l).slice(0, 200)}`);
  }
  if (typeof image.manifest.config?.digest !== 'string') throw new Error('resolve returned a manifest without a config digest');
}

let layoutRoot: string | undefined;
let server: Server | undefined;
let port = 0;
const served = new Map<string, { type: string; body: Uint8Array }>();

/** A layout per case, resolved through OciLayoutSource. */
export const layoutManifestTarget: FuzzTarget<ImageCase> = {
  name: 'manifests, indexes, configs (mutation, OCI layout)',
  ciCases: 400,
  setup: async () => {
    layoutRoot ??= await mkdtemp(join(tmpdir(), 'imagefs-fuzz-layout-'));
  },
  generate: (r) => mutateCase(r),
  run: async (c) => {
    const dir = join(layoutRoot!, 'l');
    await rm(dir, { recursive: true, force: true });
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    for (const b of [c.manifest, c.config, c.layer]) await writeFile(join(dir, 'blobs', 'sha256', digest(b).slice(7)), b);
    await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(join(dir, 'index.json'), c.index);
    const source = new OciLayoutSource(dir, { tag: 'fuzz' });
    try {
      judgeResolved(await source.resolve({ platform: PLATFORM }));
    } finally {
      await source.close();
    }
  },
  teardown: async () => {
    if (layoutRoot !== undefined) await rm(layoutRoot, { recursive: true, force: true });
    layoutRoot = undefined;
  },
};

/** The same documents served by a registry-like HTTP server, resolved through RegistrySource. */
export const registryManifestTarget: FuzzTarget<ImageCase> = {
  name: 'manifests, indexes, configs (mutation, registry API)',
  ciCases: 300,
  setup: async () => {
    if (server !== undefined) return;
    server = createServer((req, res) => {
      const url = req.url ?? '';
      if (url === '/v2/') { res.writeHead(200, { 'content-type': 'application/json' }).end('{}'); return; }
      const hit = served.get(url);
      if (hit === undefined) { res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}'); return; }
      res.writeHead(200, { 'content-type': hit.type, 'content-length': String(hit.body.length) }).end(req.method === 'HEAD' ? undefined : hit.body);
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  },
  generate: (r) => mutateCase(r),
  run: async (c) => {
    served.clear();
    const indexType = 'application/vnd.oci.image.index.v1+json';
    served.set('/v2/fuzz/app/manifests/fuzz', { type: indexType, body: c.index });
    served.set(`/v2/fuzz/app/manifests/${digest(c.manifest)}`, { type: 'application/vnd.oci.image.manifest.v1+json', body: c.manifest });
    for (const b of [c.config, c.layer]) served.set(`/v2/fuzz/app/blobs/${digest(b)}`, { type: 'application/octet-stream', body: b });
    const source = new RegistrySource(`127.0.0.1:${port}/fuzz/app:fuzz`, { retries: 0 });
    try {
      judgeResolved(await source.resolve({ platform: PLATFORM }));
    } finally {
      await source.close();
    }
  },
  teardown: async () => {
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
    server = undefined;
  },
};
