import { request, type Dispatcher } from 'undici';
import { RegistryError, type ImageErrorCode, type RegistryDiagnostic } from '../../errors/index.js';
import type { RegistryCredentials } from './credentials.js';

/** Where to push: a {@link TestRegistry}, or any base URL with optional credentials (a fault proxy's, say). */
export interface RegistryTarget {
  /** `http://HOST:PORT`, no trailing slash. */
  url: string;
  /** Credentials for Basic auth or for the token endpoint. */
  auth?: RegistryCredentials;
}

/** Options of {@link authorizedRequest}. */
export interface AuthorizedRequestOptions {
  /** The HTTP method. Default GET. */
  method?: Dispatcher.HttpMethod;
  /** Request headers (without Authorization). */
  headers?: Record<string, string>;
  /** The body; a Buffer so that it can be sent again after a 401. */
  body?: Buffer;
  /** The token scope to ask for when the challenge names none, e.g. `repository:a/b:pull,push`. */
  scope?: string;
  /** Cancels the request. */
  signal?: AbortSignal;
}

/** Authorization header values by `origin scope`, shared by every push helper call. */
const cache = new Map<string, string>();

/**
 * Sends a request to a registry and answers its auth challenge once: `Basic` with the target's
 * credentials, `Bearer` with a token fetched from the challenge's realm (service and scope from the
 * challenge). Authorization values are cached per origin and scope. Redirects are not followed.
 *
 * @example
 * ```ts
 * const res = await authorizedRequest(reg, `${reg.url}/v2/a/b/tags/list`, { scope: 'repository:a/b:pull' });
 * ```
 */
export async function authorizedRequest(target: RegistryTarget, url: string, options: AuthorizedRequestOptions = {}): Promise<Dispatcher.ResponseData> {
  const key = `${new URL(url).origin} ${options.scope ?? ''}`;
  const send = (authorization: string | undefined): Promise<Dispatcher.ResponseData> =>
    request(url, {
      method: options.method ?? 'GET',
      headers: { ...options.headers, ...(authorization === undefined ? {} : { authorization }) },
      body: options.body,
      signal: options.signal,
    });
  const res = await send(cache.get(key));
  if (res.statusCode !== 401 || target.auth === undefined) return res;
  const challenge = String(res.headers['www-authenticate'] ?? '');
  await res.body.dump();
  const authorization = await answerChallenge(target, challenge, options.scope, options.signal);
  cache.set(key, authorization);
  return await send(authorization);
}

async function answerChallenge(target: RegistryTarget, challenge: string, scope: string | undefined, signal?: AbortSignal): Promise<string> {
  const creds = target.auth as RegistryCredentials;
  const basic = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
  if (/^basic\b/i.test(challenge)) return basic;
  if (!/^bearer\b/i.test(challenge)) throw new RegistryError('PermissionDenied', `unsupported auth challenge: ${challenge || '(none)'}`, { status: 401 });
  const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']));
  const realm = new URL(params['realm'] ?? '');
  if (params['service'] !== undefined) realm.searchParams.set('service', params['service']);
  const wanted = params['scope'] ?? scope;
  if (wanted !== undefined) realm.searchParams.set('scope', wanted);
  const res = await request(realm, { headers: { authorization: basic }, signal });
  if (res.statusCode !== 200) throw await registryError(res, realm.origin + realm.pathname, 'token request refused');
  const body = (await res.body.json()) as { token?: string; access_token?: string };
  return `Bearer ${body.token ?? body.access_token ?? ''}`;
}

/**
 * Turns a failed response into a {@link RegistryError} with the status, the registry's diagnostics
 * and a code (401/403 PermissionDenied, 404 NotFound, 429 ResourceExhausted, 5xx Unavailable).
 *
 * @example
 * ```ts
 * if (res.statusCode !== 201) throw await registryError(res, url, 'manifest push failed');
 * ```
 */
export async function registryError(res: Dispatcher.ResponseData, url: string, what: string): Promise<RegistryError> {
  const text = (await res.body.text().catch(() => '')).slice(0, 2048);
  let diagnostics: RegistryDiagnostic[] = [];
  try {
    diagnostics = (JSON.parse(text) as { errors?: RegistryDiagnostic[] }).errors ?? [];
  } catch {
    // not JSON: keep the text in the message only
  }
  const s = res.statusCode;
  const code: ImageErrorCode = s === 401 || s === 403 ? 'PermissionDenied' : s === 404 ? 'NotFound' : s === 429 ? 'ResourceExhausted' : s >= 500 ? 'Unavailable' : 'InvalidArgument';
  const said = diagnostics.map((d) => `${d.code}: ${d.message}`).join('; ') || text.trim().slice(0, 200);
  const cleanUrl = url.replace(/\?.*$/, '');
  return new RegistryError(code, `${what}: ${s} from ${cleanUrl}${said === '' ? '' : ` (${said})`}`, { status: s, url: cleanUrl, diagnostics });
}
