import { randomUUID, sign } from 'node:crypto';
import type { SigningCert } from './signing-cert.js';

/** One access grant of a registry token (docker token spec). */
export interface TokenAccess {
  /** `repository` (or `registry` for the catalog). */
  type: string;
  /** The repository name, for instance `library/alpine`. */
  name: string;
  /** The granted actions, for instance `['pull']` or `['pull', 'push']`. */
  actions: string[];
}

/** The claims of a registry token. Times are seconds since the epoch. */
export interface TokenClaims {
  /** Issuer: must equal the registry's `auth.token.issuer`. */
  iss: string;
  /** Audience: must equal the registry's `auth.token.service`. */
  aud: string;
  /** Subject: the user name (empty for anonymous). */
  sub: string;
  /** Expiry. */
  exp: number;
  /** Not before. */
  nbf: number;
  /** Issued at. */
  iat: number;
  /** A unique id. */
  jti: string;
  /** What the token grants. */
  access: TokenAccess[];
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

/**
 * Signs a registry token: an RS256 JWT whose header carries the signing certificate in `x5c`, the
 * form distribution 2.8 verifies against its `rootcertbundle`.
 *
 * @example
 * ```ts
 * const jwt = signRegistryToken(cert, { iss, aud, sub: 'alice', access: [{ type: 'repository', name: 'a/b', actions: ['pull'] }] }, 300);
 * ```
 */
export function signRegistryToken(
  cert: SigningCert,
  claims: Pick<TokenClaims, 'iss' | 'aud' | 'sub' | 'access'> & Partial<TokenClaims>,
  expiresInSeconds: number,
): string {
  const now = Math.floor(Date.now() / 1000);
  const full: TokenClaims = {
    iat: now,
    nbf: now,
    exp: now + expiresInSeconds,
    jti: randomUUID(),
    ...claims,
  };
  const header = { typ: 'JWT', alg: 'RS256', x5c: [cert.certDer.toString('base64')] };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(full))}`;
  const signature = sign('sha256', Buffer.from(signingInput), cert.privateKey);
  return `${signingInput}.${b64url(signature)}`;
}

/**
 * Decodes (without verifying) the claims of a JWT, for assertions in tests.
 *
 * @example
 * ```ts
 * decodeTokenClaims(jwt).access; // [{ type: 'repository', name: 'a/b', actions: ['pull'] }]
 * ```
 */
export function decodeTokenClaims(jwt: string): TokenClaims {
  const payload = jwt.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as TokenClaims;
}
