/** Query parameters whose values are safe to show (everything else is replaced by `REDACTED`). */
const SAFE_QUERY_KEYS = new Set(['digest', 'n', 'last', 'artifactType', 'service', 'scope', 'mount', 'from', 'ns']);

/**
 * Removes secrets from a URL before it reaches an error, a log line or an event: user and password
 * are dropped and every query value except well-known harmless ones (`digest`, `n`, `scope`, ...)
 * becomes `REDACTED` (pre-signed storage URLs carry signatures and tokens there).
 *
 * @example
 * ```ts
 * redactUrl('https://u:p@s3.example/x?X-Amz-Signature=abc&digest=sha256:1');
 * // 'https://s3.example/x?X-Amz-Signature=REDACTED&digest=sha256:1'
 * ```
 */
export function redactUrl(url: string | URL): string {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    return redactText(String(url));
  }
  u.username = '';
  u.password = '';
  const keys = [...new Set(u.searchParams.keys())];
  for (const key of keys) {
    if (!SAFE_QUERY_KEYS.has(key)) u.searchParams.set(key, 'REDACTED');
  }
  return u.toString();
}

const SECRET_PATTERNS: Array<[RegExp, string]> = [
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 REDACTED'],
  [/("?(?:token|access_token|refresh_token|identitytoken|password|secret|auth)"?\s*[:=]\s*)"[^"]*"/gi, '$1"REDACTED"'],
  [/([?&](?!digest=|n=|last=|service=|scope=)[A-Za-z0-9_.-]+=)[^&\s#]+/g, '$1REDACTED'],
  [/(\/\/)[^/@\s:]+:[^/@\s]+@/g, '$1'],
];

/**
 * Removes secrets from free text (a registry's message, an error from a lower layer): authorization
 * header values, JSON token or password fields, query values and `user:pass@` in URLs.
 */
export function redactText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}
