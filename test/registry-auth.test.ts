import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator } from '../src/registry/authenticator.js';
import { RegistryClient } from '../src/registry/client.js';
import { CredentialStore } from '../src/registry/credential-store.js';
import { fetchManifest } from '../src/registry/manifest-fetch.js';
import { resolveClientOptions, type RegistryEvent } from '../src/registry/options.js';
import { parseReference } from '../src/registry/reference.js';
import { Transport } from '../src/registry/transport.js';
import { startRegistry, type TestRegistry } from '../src/testing/registry/index.js';
import { pushImage, type PushedImage } from './registry-fixture.js';

let basic: TestRegistry;
let token: TestRegistry;
let basicImage: PushedImage;
let tokenImage: PushedImage;
let dir: string;
const clients: RegistryClient[] = [];
const client = (options: ConstructorParameters<typeof RegistryClient>[0] = {}): RegistryClient => {
  const c = new RegistryClient({ authFile: false, retryBaseDelayMs: 1, ...options });
  clients.push(c);
  return c;
};
const LIMITED = { username: 'limited', password: 'limited-pw-123' };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imagefs-regauth-'));
  [basic, token] = await Promise.all([
    startRegistry({ auth: 'basic' }),
    startRegistry({ auth: 'token', tokenIssuer: { users: { [LIMITED.username]: { password: LIMITED.password, repositories: { 'other/*': ['pull'] } } } } }),
  ]);
  basicImage = await pushImage(basic, 'sec/app', 'v1');
  tokenImage = await pushImage(token, 'sec/app', 'v1');
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await basic?.stop();
  await token?.stop();
  await rm(dir, { recursive: true, force: true });
});

function noSecrets(e: unknown, ...secrets: string[]): void {
  const text = `${String((e as Error).message)} ${String((e as { url?: string }).url)} ${JSON.stringify((e as { diagnostics?: unknown }).diagnostics)} ${String((e as { hint?: string }).hint)}`;
  for (const s of secrets) expect(text).not.toContain(s);
}

describe('Basic auth', () => {
  it('pulls with credentials from options', async () => {
    const c = client({ credentials: basic.auth! });
    const image = await c.resolve(`${basic.host}/sec/app:v1`);
    expect(image.digest).toBe(basicImage.digest);
    const layer = basicImage.layers[1]!;
    const bytes = await c.openBlob(`${basic.host}/sec/app`, layer.descriptor).readAt(10, 100);
    expect(Buffer.from(bytes).equals(Buffer.from(layer.bytes.subarray(10, 110)))).toBe(true);
  });

  it('pulls with credentials from a docker config.json named by REGISTRY_AUTH_FILE', async () => {
    const file = join(dir, 'auth.json');
    const auth = Buffer.from(`${basic.auth!.username}:${basic.auth!.password}`).toString('base64');
    await writeFile(file, JSON.stringify({ auths: { [`http://${basic.host}/`]: { auth } } }));
    const c = new RegistryClient({ env: { REGISTRY_AUTH_FILE: file }, retryBaseDelayMs: 1 });
    clients.push(c);
    expect((await c.resolve(`${basic.host}/sec/app:v1`)).digest).toBe(basicImage.digest);
  });

  it('is PermissionDenied without credentials or with a wrong password, with no secret in the error', async () => {
    const e1 = await client().resolve(`${basic.host}/sec/app:v1`).catch((x: unknown) => x);
    expect(e1).toMatchObject({ code: 'PermissionDenied', status: 401 });
    const e2 = await client({ credentials: { username: basic.auth!.username, password: 'Wr0ngPassw0rd' } }).resolve(`${basic.host}/sec/app:v1`).catch((x: unknown) => x);
    expect(e2).toMatchObject({ code: 'PermissionDenied', status: 401 });
    expect((e2 as Error).message).toMatch(/denied \(HTTP 401\) after authenticating/);
    noSecrets(e2, 'Wr0ngPassw0rd', Buffer.from(`${basic.auth!.username}:Wr0ngPassw0rd`).toString('base64'));
  });
});

describe('token auth', () => {
  it('gets a token from the realm, caches it per scope and reuses it', async () => {
    const events: RegistryEvent[] = [];
    const c = client({ credentials: token.auth!, onEvent: (e) => events.push(e) });
    const before = token.tokenIssuer!.requests.length;
    const image = await c.resolve(`${token.host}/sec/app:v1`);
    expect(image.digest).toBe(tokenImage.digest);
    const layer = tokenImage.layers[0]!;
    expect((await c.readBlobVerified(`${token.host}/sec/app`, layer.descriptor)).length).toBe(layer.bytes.length);
    await c.openBlob(`${token.host}/sec/app`, layer.descriptor).readAt(0, 10);
    const issued = token.tokenIssuer!.requests.slice(before);
    expect(issued).toHaveLength(1);
    expect(issued[0]).toMatchObject({ user: token.auth!.username, scopes: ['repository:sec/app:pull'], status: 200 });
    expect(events.filter((e) => e.type === 'token')).toHaveLength(1);
    expect(JSON.stringify(events)).not.toContain(token.auth!.password);
    expect(JSON.stringify(events)).not.toMatch(/Bearer|eyJ/);
  });

  it('pushes with a pull,push token', async () => {
    const c = client({ credentials: token.auth! });
    const before = token.tokenIssuer!.requests.length;
    const d = await c.putBlob(`${token.host}/sec/pushed`, new Uint8Array([1, 2, 3]));
    expect(await c.blobSize(`${token.host}/sec/pushed`, d.digest)).toBe(3);
    const scopes = token.tokenIssuer!.requests.slice(before).flatMap((r) => r.scopes);
    expect(scopes).toContain('repository:sec/pushed:pull,push');
  });

  it('is PermissionDenied for a token that grants another repository only (after one refresh)', async () => {
    const c = client({ credentials: LIMITED });
    const before = token.tokenIssuer!.requests.length;
    const e = await c.resolve(`${token.host}/sec/app:v1`).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'PermissionDenied', status: 401 });
    expect(token.tokenIssuer!.requests.length - before).toBe(1); // the 401 led to one token, refused again
    expect(token.tokenIssuer!.requests.at(-1)!.granted).toEqual([]);
    noSecrets(e, LIMITED.password);
    // With the token cached, a new call sends it, gets a 401, refreshes once, and stops.
    const again = await c.fetchManifest(`${token.host}/sec/app:v1`).catch((x: unknown) => x);
    expect(again).toMatchObject({ code: 'PermissionDenied' });
    expect(token.tokenIssuer!.requests.length - before).toBe(2);
    // The same user may pull the repository its token names.
    const other = await pushImage(token, 'other/app', 'v1');
    expect((await c.resolve(`${token.host}/other/app:v1`)).digest).toBe(other.digest);
  });

  it('is PermissionDenied when anonymous or with bad credentials at the token service', async () => {
    const e1 = await client().resolve(`${token.host}/sec/app:v1`).catch((x: unknown) => x);
    expect(e1).toMatchObject({ code: 'PermissionDenied' });
    expect((e1 as Error).message).toContain('refused anonymous access');
    const e2 = await client({ credentials: { username: 'tester', password: 'n0pe-n0pe' } }).resolve(`${token.host}/sec/app:v1`).catch((x: unknown) => x);
    expect(e2).toMatchObject({ code: 'PermissionDenied', message: expect.stringContaining('refused the credentials') });
    noSecrets(e2, 'n0pe-n0pe');
  });

  it('refreshes once when the registry refuses a cached token, and succeeds', async () => {
    const issuer = token.tokenIssuer!;
    const c = client({ credentials: token.auth! });
    issuer.setExpiresIn(-120); // tokens the registry refuses on sight (the client cannot know)
    try {
      await expect(c.resolve(`${token.host}/sec/app:v1`)).rejects.toMatchObject({ code: 'PermissionDenied' });
    } finally {
      issuer.setExpiresIn(300);
    }
    const before = issuer.requests.length;
    expect((await c.resolve(`${token.host}/sec/app:v1`)).digest).toBe(tokenImage.digest);
    expect(issuer.requests.length - before).toBe(1);
  });

  it('renews a token when its lifetime has passed (by the client clock)', async () => {
    const options = resolveClientOptions({ credentials: token.auth!, authFile: false });
    let now = Date.now();
    let transport: Transport | undefined;
    const auth = new Authenticator(new CredentialStore({ credentials: token.auth!, authFile: false }), (r) => transport!.simple(r), undefined, () => now);
    transport = new Transport(options, auth);
    const ref = parseReference(`${token.host}/sec/app:v1`);
    const before = token.tokenIssuer!.requests.length;
    await fetchManifest({ transport, options }, ref);
    await fetchManifest({ transport, options }, ref);
    expect(token.tokenIssuer!.requests.length - before).toBe(1);
    now += 301_000; // past expires_in (300 s)
    await fetchManifest({ transport, options }, ref);
    expect(token.tokenIssuer!.requests.length - before).toBe(2);
    await transport.close();
  });
});
