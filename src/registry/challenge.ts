/** One authentication challenge from a `WWW-Authenticate` header. */
export interface AuthChallenge {
  /** The scheme, lower-cased: `bearer`, `basic`, ... */
  scheme: string;
  /** The parameters, keys lower-cased (`realm`, `service`, `scope`, `error`). */
  params: Record<string, string>;
}

/**
 * Parses a `WWW-Authenticate` header (RFC 7235): one or more challenges, each a scheme followed by
 * `key=value` or `key="quoted value"` parameters separated by commas. Quoted values may contain
 * commas and backslash escapes. Unparseable input yields what could be read, never throws.
 *
 * @example
 * ```ts
 * parseChallenges('Bearer realm="https://auth/token",service="reg",scope="repository:a:pull"');
 * // [{ scheme: 'bearer', params: { realm: 'https://auth/token', service: 'reg', scope: 'repository:a:pull' } }]
 * ```
 */
export function parseChallenges(header: string | string[] | undefined): AuthChallenge[] {
  if (header === undefined) return [];
  if (Array.isArray(header)) return header.flatMap((h) => parseChallenges(h));
  const out: AuthChallenge[] = [];
  let i = 0;
  const n = header.length;
  const skipSpace = (): void => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  let current: AuthChallenge | undefined;
  while (i < n) {
    skipSpace();
    if (header[i] === ',') {
      i++;
      continue;
    }
    const start = i;
    const token = readToken();
    if (token === '') {
      i++; // skip a stray character
      continue;
    }
    skipSpace();
    if (header[i] === '=') {
      // A parameter of the current challenge (or token68 padding when none).
      i++;
      skipSpace();
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++; // closing quote
      } else {
        const vstart = i;
        while (i < n && header[i] !== ',' && header[i] !== ' ') i++;
        value = header.slice(vstart, i);
      }
      if (current) current.params[token.toLowerCase()] = value;
    } else {
      // A new scheme starts here (the text before it was a token, not `key=`).
      i = start + token.length;
      current = { scheme: token.toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}
