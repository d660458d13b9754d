import { RegistryError } from '../errors/registry-error.js';
import type { Credentials } from './auth-file.js';
import { parseChallenges, type AuthChallenge } from './challenge.js';
import type { CredentialStore } from './credential-store.js';
import { parseDiagnostics } from './error-map.js';
import { redactUrl } from './redact.js';

/** Where requests go and whose credentials apply. */
export interface AuthTarget {
  /** The origin requests go to, `http(s)://HOST[:PORT]`; challenges and tokens are kept per origin. */
  origin: string;
  /** The registry (or mirror) host whose credentials apply. */
  credentialKey: string;
  /** True for a mirror: explicit credentials are not sent to it. */
  mirror: boolean;
}

/** A minimal HTTP call the authenticator uses to reach a token realm (retries are the caller's). */
export type TokenHttp = (req: { method: 'GET' | 'POST'; url: string; headers: Record<string, string>; body?: string; signal?: AbortSignal })
  => Promise<{ status: number; text: string }>;

interface CachedToken { header: string; expiresAt: number }

/** Seconds a token is assumed valid when the realm says nothing (the distribution spec's default). */
const DEFAULT_TOKEN_TTL_S = 60;

function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username ?? ''}:${c.password ?? ''}`).toString('base64')}`;
}

/**
 * Decides the Authorization header of registry requests: none (anonymous), Basic, or a Bearer
 * token obtained from the challenge's realm for the request's scope. Remembers each origin's
 * challenge so later requests authenticate up front; caches tokens per origin and scope until
 * they expire; concurrent token requests for one scope share one fetch.
 */
export class Authenticator {
  private readonly challenges = new Map<string, AuthChallenge>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<CachedToken>>();

  constructor(
    private readonly store: CredentialStore,
    private readonly http: TokenHttp,
    private readonly onToken?: (registry: string, scope: string, expiresInS: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** The header to send up front for `scope` at `target`, or undefined (no challenge seen yet / anonymous). */
  async authorize(target: AuthTarget, scope: string, signal?: AbortSignal): Promise<string | undefined> {
    const challenge = this.challenges.get(target.origin);
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') {
      const creds = await this.store.get(target.credentialKey, target.mirror, signal);
      return creds?.username !== undefined ? basicHeader(creds) : undefined;
    }
    const cached = this.tokens.get(`${target.origin}\n${scope}`);
    if (cached && cached.expiresAt > this.now()) return cached.header;
    return (await this.token(target, scope, challenge, signal)).header;
  }

  /**
   * Called after a 401: records the challenge, drops the cached token for `scope`, and returns a
   * fresh header to retry with once. Returns undefined when there is nothing new to try (no
   * credentials for Basic, an unknown scheme); the caller then reports PermissionDenied.
   */
  async challenge(target: AuthTarget, scope: string, header: string | string[] | undefined, sent: string | undefined, signal?: AbortSignal): Promise<string | undefined> {
    const all = parseChallenges(header);
    const challenge = all.find((c) => c.scheme === 'bearer' && c.params.realm) ?? all.find((c) => c.scheme === 'basic');
    if (!challenge) return undefined;
    this.challenges.set(target.origin, challenge);
    if (challenge.scheme === 'basic') {
      const creds = await this.store.get(target.credentialKey, target.mirror, signal);
      if (creds?.username === undefined) return undefined;
      const h = basicHeader(creds);
      return h === sent ? undefined : h;
    }
    this.tokens.delete(`${target.origin}\n${scope}`);
    const wanted = challenge.params.scope;
    // Ask for the challenge's scope too when it names more than ours (push after pull).
    const fetched = await this.token(target, scope, challenge, signal, wanted && wanted !== scope ? [scope, wanted] : [scope]);
    return fetched.header;
  }

  private token(target: AuthTarget, scope: string, challenge: AuthChallenge, signal?: AbortSignal, scopes = [scope]): Promise<CachedToken> {
    const key = `${target.origin}\n${scope}`;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetchToken(target, scope, challenge, scopes, signal).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async fetchToken(target: AuthTarget, scope: string, challenge: AuthChallenge, scopes: string[], signal?: AbortSignal): Promise<CachedToken> {
    const realm = challenge.params.realm!;
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError('PermissionDenied', `the registry's token realm '${redactUrl(realm)}' is not a URL`, { url: target.origin });
    }
    const service = challenge.params.service;
    const creds = await this.store.get(target.credentialKey, target.mirror, signal);
    let res: { status: number; text: string };
    if (creds?.identityToken !== undefined) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'imagefs' });
      if (service) form.set('service', service);
      form.set('scope', scopes.join(' '));
      res = await this.http({ method: 'POST', url: url.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString(), ...(signal ? { signal } : {}) });
    } else {
      if (service) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (creds?.username !== undefined) headers.authorization = basicHeader(creds);
      res = await this.http({ method: 'GET', url: url.toString(), headers, ...(signal ? { signal } : {}) });
    }
    const where = redactUrl(url);
    if (res.status === 401 || res.status === 403) {
      throw new RegistryError('PermissionDenied', `the token service refused ${creds ? 'the credentials' : 'anonymous access'} for ${scope} (HTTP ${res.status})`, {
        status: res.status, url: where, diagnostics: parseDiagnostics(res.text),
        hint: 'check the credentials (--creds, --auth-file) and that they may pull this repository',
      });
    }
    if (res.status !== 200) {
      throw new RegistryError(res.status >= 500 ? 'Unavailable' : 'PermissionDenied', `the token service answered HTTP ${res.status} for ${scope}`, {
        status: res.status, url: where, diagnostics: parseDiagnostics(res.text),
      });
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    try {
      body = JSON.parse(res.text) as typeof body;
    } catch {
      throw new RegistryError('PermissionDenied', `the token service sent something that is not JSON for ${scope}`, { status: 200, url: where });
    }
    const token = typeof body.token === 'string' && body.token ? body.token : body.access_token;
    if (typeof token !== 'string' || token === '') {
      throw new RegistryError('PermissionDenied', `the token service sent no token for ${scope}`, { status: 200, url: where });
    }
    const ttl = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_TTL_S;
    const issued = typeof body.issued_at === 'string' && !Number.isNaN(Date.parse(body.issued_at)) ? Math.min(Date.parse(body.issued_at), this.now()) : this.now();
    // Renew a little early (10% of the lifetime, at most 30 s) so a request never carries a token that expires in flight.
    const cached = { header: `Bearer ${token}`, expiresAt: issued + ttl * 1000 - Math.min(30_000, ttl * 100) };
    this.tokens.set(`${target.origin}\n${scope}`, cached);
    this.onToken?.(target.credentialKey, scope, ttl);
    return cached;
  }
}
