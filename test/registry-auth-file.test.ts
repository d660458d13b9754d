import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFromAuths, defaultAuthFilePath, helperFor, loadAuthConfig, normaliseAuthKey, parseAuthConfig } from '../src/registry/auth-file.js';
import { runCredentialHelper } from '../src/registry/cred-helper.js';
import { CredentialStore } from '../src/registry/credential-store.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imagefs-authfile-'));
  // A fake credential helper: answers for two servers, "not found" otherwise, fails for "boom".
  const helper = `#!/bin/sh
read server
case "$server" in
  helped.example) echo '{"ServerURL":"helped.example","Username":"hu","Secret":"hs3cret"}' ;;
  https://index.docker.io/v1/) echo '{"ServerURL":"x","Username":"<token>","Secret":"idtok"}' ;;
  store.example) echo '{"ServerURL":"store.example","Username":"su","Secret":"ss"}' ;;
  boom.example) echo 'SECRET-ON-STDOUT'; exit 3 ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`;
  await writeFile(join(dir, 'docker-credential-fake'), helper);
  await chmod(join(dir, 'docker-credential-fake'), 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('auth file location', () => {
  it('prefers REGISTRY_AUTH_FILE, then DOCKER_CONFIG, then ~/.docker', () => {
    expect(defaultAuthFilePath({ REGISTRY_AUTH_FILE: '/a.json', DOCKER_CONFIG: '/d', HOME: '/h' })).toBe('/a.json');
    expect(defaultAuthFilePath({ DOCKER_CONFIG: '/d', HOME: '/h' })).toBe('/d/config.json');
    expect(defaultAuthFilePath({ HOME: '/h' })).toBe('/h/.docker/config.json');
  });
});

describe('auth file parsing', () => {
  it('normalises keys written as URLs and Docker Hub aliases', () => {
    expect(normaliseAuthKey('https://index.docker.io/v1/')).toBe('docker.io');
    expect(normaliseAuthKey('registry-1.docker.io')).toBe('docker.io');
    expect(normaliseAuthKey('http://Reg.Example:5000/')).toBe('reg.example:5000');
    expect(normaliseAuthKey('reg.example')).toBe('reg.example');
  });

  it('reads auth (base64 user:pass, password may contain colons) and identitytoken', () => {
    const config = parseAuthConfig({
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hubuser:p:a:ss') },
        'reg.example:5000': { identitytoken: 'refresh-me' },
        'http://both.example/': { auth: b64('u:p'), identitytoken: 't' },
        'empty.example': {},
      },
    });
    expect(credentialsFromAuths(config, 'docker.io')).toEqual({ username: 'hubuser', password: 'p:a:ss' });
    expect(credentialsFromAuths(config, 'reg.example:5000')).toEqual({ identityToken: 'refresh-me' });
    expect(credentialsFromAuths(config, 'both.example')).toEqual({ username: 'u', password: 'p', identityToken: 't' });
    expect(credentialsFromAuths(config, 'empty.example')).toBeUndefined();
    expect(credentialsFromAuths(config, 'reg.example')).toBeUndefined();
  });

  it('refuses malformed files, naming the problem but never the secret', async () => {
    expect(() => parseAuthConfig({ auths: { r: { auth: 42 } } })).toThrow(/auths.r.auth/);
    expect(() => parseAuthConfig({ credHelpers: { r: 'bad name!' } })).toThrow(/credHelpers.r/);
    expect(() => parseAuthConfig([])).toThrow(/not a JSON object/);
    const config = parseAuthConfig({ auths: { r: { auth: b64('nocolonSECRET') } } });
    let err: unknown;
    try { credentialsFromAuths(config, 'r'); } catch (e) { err = e; }
    expect(err).toMatchObject({ code: 'InvalidArgument' });
    expect(String((err as Error).message)).not.toContain('nocolonSECRET');
    const p = join(dir, 'broken.json');
    await writeFile(p, '{"auths": {"r": {"auth": "c2VjcmV0"}');
    await expect(loadAuthConfig(p)).rejects.toMatchObject({ code: 'InvalidArgument', message: expect.stringContaining('not valid JSON') });
    await expect(loadAuthConfig(join(dir, 'missing.json'))).resolves.toEqual({});
  });

  it('finds the helper of a registry', () => {
    const config = parseAuthConfig({ credHelpers: { 'https://gcr.io': 'gcloud' }, credsStore: 'desktop' });
    expect(helperFor(config, 'gcr.io')).toBe('gcloud');
    expect(helperFor(config, 'other.io')).toBeUndefined();
    expect(config.credsStore).toBe('desktop');
  });
});

describe('credential helpers and the credential store', () => {
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}` });

  it('runs docker-credential-NAME get with the server on stdin', async () => {
    await expect(runCredentialHelper('fake', 'helped.example', { env: env() })).resolves.toEqual({ username: 'hu', password: 'hs3cret' });
    await expect(runCredentialHelper('fake', 'https://index.docker.io/v1/', { env: env() })).resolves.toEqual({ identityToken: 'idtok' });
    await expect(runCredentialHelper('fake', 'nothing.example', { env: env() })).resolves.toBeUndefined();
  });

  it('reports a failing or missing helper as PermissionDenied without its output', async () => {
    const e1 = await runCredentialHelper('fake', 'boom.example', { env: env() }).catch((e: unknown) => e);
    expect(e1).toMatchObject({ code: 'PermissionDenied' });
    expect((e1 as Error).message).toContain('status 3');
    expect((e1 as Error).message).not.toContain('SECRET-ON-STDOUT');
    const e2 = await runCredentialHelper('absent', 'x', { env: env() }).catch((e: unknown) => e);
    expect(e2).toMatchObject({ code: 'PermissionDenied', message: expect.stringContaining('not installed') });
  });

  it('orders explicit credentials, credHelpers, auths, credsStore; mirrors never get explicit ones', async () => {
    const file = join(dir, 'config.json');
    await writeFile(file, JSON.stringify({
      auths: { 'plain.example': { auth: b64('pu:pp') }, 'helped.example': { auth: b64('ignored:x') } },
      credHelpers: { 'helped.example': 'fake' },
      credsStore: 'fake',
    }));
    const store = new CredentialStore({ credentials: { username: 'cli', password: 'clipw' }, authFile: file, env: env() });
    await expect(store.get('anything.example')).resolves.toEqual({ username: 'cli', password: 'clipw' });
    const fileOnly = new CredentialStore({ env: { ...env(), REGISTRY_AUTH_FILE: file } });
    expect(fileOnly.authFilePath).toBe(file);
    await expect(fileOnly.get('helped.example')).resolves.toEqual({ username: 'hu', password: 'hs3cret' });
    await expect(fileOnly.get('plain.example')).resolves.toEqual({ username: 'pu', password: 'pp' });
    await expect(fileOnly.get('store.example')).resolves.toEqual({ username: 'su', password: 'ss' });
    await expect(fileOnly.get('unknown.example')).resolves.toBeUndefined();
    await expect(store.get('plain.example', true)).resolves.toEqual({ username: 'pu', password: 'pp' });
    const provider = new CredentialStore({ credentials: (host) => (host === 'a.example' ? { username: 'fa', password: 'fp' } : undefined), authFile: false });
    await expect(provider.get('a.example')).resolves.toEqual({ username: 'fa', password: 'fp' });
    await expect(provider.get('b.example')).resolves.toBeUndefined();
  });
});
