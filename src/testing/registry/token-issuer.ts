import type { IncomingMessage } from 'node:http';
import { DEFAULT_TEST_USER } from './credentials.js';
import { signRegistryToken, type TokenAccess } from './jwt.js';
import { listenLocal } from './local-server.js';
import { makeSigningCert, type SigningCert } from './signing-cert.js';

/**
 * What a user may do, by repository: keys are a repository name, `*` (any), or a prefix pattern
 * such as `team/*`; values are actions (`pull`, `push`, `delete`, or `*` for all).
 */
export type RepositoryPermissions = Record<string, string[]>;

/** A user of the token issuer. */
export interface TokenUser {
  /** The password the token endpoint checks (HTTP Basic). */
  password: string;
  /** What the user may do. Default: `{ '*': ['*'] }` (everything). */
  repositories?: RepositoryPermissions;
}

/** Options of {@link startTokenIssuer}. */
export interface TokenIssuerOptions {
  /** The `service` (token audience). Default `imagefs-test-registry`. */
  service?: string;
  /** The `iss` claim. Default `imagefs-test-issuer`. */
  issuer?: string;
  /** Users by name. Default: one user `tester` / `tester-password` allowed everything. */
  users?: Record<string, TokenUser>;
  /** What an anonymous token request (no credentials) gets. Default: nothing (answered 401). */
  anonymous?: RepositoryPermissions;
  /** Lifetime of tokens in seconds (`expires_in`). Default 300. Can be changed later with `setExpiresIn`. */
  expiresInSeconds?: number;
  /**
   * distribution accepts a token up to 60 s after its `exp`. When true (the default), `exp` is set
   * 60 s early so that the registry starts refusing a token exactly `expiresInSeconds` after issue,
   * which makes short lifetimes (refresh tests) real.
   */
  compensateRegistryLeeway?: boolean;
}

/** One request to the token endpoint. */
export interface TokenRequestRecord {
  /** The authenticated user, or `undefined` for anonymous requests. */
  user: string | undefined;
  /** The `scope` values asked for. */
  scopes: string[];
  /** What the token granted (empty when refused). */
  granted: TokenAccess[];
  /** The status answered: 200, or 401 for bad credentials. */
  status: number;
}

/** A running token issuer. */
export interface TokenIssuer {
  /** The token endpoint URL (the registry's `auth.token.realm`). */
  readonly realm: string;
  /** The service name (the registry's `auth.token.service`). */
  readonly service: string;
  /** The issuer name (the registry's `auth.token.issuer`). */
  readonly issuer: string;
  /** The certificate, PEM: write it to the registry's `auth.token.rootcertbundle`. */
  readonly certPem: string;
  /** Every token request, oldest first (`requests.length` counts them). */
  readonly requests: TokenRequestRecord[];
  /** Changes the lifetime of the tokens issued from now on. */
  setExpiresIn(seconds: number): void;
  /** Signs a token directly, for tests (for instance one that expired 120 s ago: `expiresInSeconds: -120`). */
  mint(sub: string, access: TokenAccess[], expiresInSeconds?: number): string;
  /** Stops the server. Idempotent. */
  stop(): Promise<void>;
}


/** The registry's grace period after `exp` (distribution's `token.Leeway`), in seconds. */
const REGISTRY_LEEWAY_SECONDS = 60;

/**
 * Starts a docker-token-spec issuer on 127.0.0.1: `GET REALM?service=S&scope=repository:N:pull,push`
 * (and the OAuth2 `POST` form with `grant_type=password`) checks HTTP Basic credentials and answers
 * `{ token, access_token, expires_in, issued_at }` with an RS256 JWT granting the requested actions
 * the user is allowed (possibly none: the registry then refuses the request, as a real one would).
 * Bad credentials answer 401.
 *
 * @example
 * ```ts
 * const issuer = await startTokenIssuer({ users: { alice: { password: 'pw', repositories: { 'a/*': ['pull'] } } } });
 * // ... issuer.requests.length counts token requests
 * await issuer.stop();
 * ```
 */
export async function startTokenIssuer(options: TokenIssuerOptions = {}): Promise<TokenIssuer> {
  const service = options.service ?? 'imagefs-test-registry';
  const issuer = options.issuer ?? 'imagefs-test-issuer';
  const users = options.users ?? { [DEFAULT_TEST_USER.username]: { password: DEFAULT_TEST_USER.password } };
  const compensate = options.compensateRegistryLeeway ?? true;
  let expiresIn = options.expiresInSeconds ?? 300;
  const cert: SigningCert = await makeSigningCert(issuer);
  const requests: TokenRequestRecord[] = [];

  const mint = (sub: string, access: TokenAccess[], seconds = expiresIn): string =>
    signRegistryToken(cert, { iss: issuer, aud: service, sub, access }, seconds - (compensate ? REGISTRY_LEEWAY_SECONDS : 0));

  const server = await listenLocal(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const params = req.method === 'POST' ? new URLSearchParams(await readBody(req)) : url.searchParams;
    const scopes = params.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '');
    let login = basicCredentials(req.headers.authorization);
    if (login === undefined && params.get('grant_type') === 'password') {
      login = { username: params.get('username') ?? '', password: params.get('password') ?? '' };
    }
    const record: TokenRequestRecord = { user: login?.username, scopes, granted: [], status: 401 };
    requests.push(record);
    const user = login === undefined ? undefined : users[login.username];
    const allowed = login === undefined ? options.anonymous : user?.password === login.password ? (user.repositories ?? { '*': ['*'] }) : undefined;
    if (allowed === undefined || params.get('service') !== null && params.get('service') !== service) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="imagefs-test-token"' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: null }] }));
      return;
    }
    record.granted = scopes.map((s) => grant(s, allowed)).filter((a): a is TokenAccess => a !== undefined);
    record.status = 200;
    const token = mint(login?.username ?? '', record.granted);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: expiresIn, issued_at: new Date().toISOString() }));
  });

  return {
    realm: `${server.url}/token`,
    service,
    issuer,
    certPem: cert.certPem,
    requests,
    setExpiresIn(seconds: number) {
      expiresIn = seconds;
    },
    mint,
    stop: () => server.close(),
  };
}

/** The actions of `scope` (`type:name:actions`) that `allowed` permits, or undefined when none. */
function grant(scope: string, allowed: RepositoryPermissions): TokenAccess | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last <= first) return undefined;
  const type = scope.slice(0, first);
  const name = scope.slice(first + 1, last);
  const requested = scope.slice(last + 1).split(',').filter((a) => a !== '');
  const permitted = new Set<string>();
  for (const [pattern, actions] of Object.entries(allowed)) {
    if (matchesPattern(pattern, name)) for (const a of actions) permitted.add(a);
  }
  const actions = requested.filter((a) => permitted.has('*') || permitted.has(a));
  return actions.length === 0 ? undefined : { type, name, actions };
}

function matchesPattern(pattern: string, name: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

function basicCredentials(header: string | undefined): { username: string; password: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (m === null) return undefined;
  const text = Buffer.from(m[1] ?? '', 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? undefined : { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
