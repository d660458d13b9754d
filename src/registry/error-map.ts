import type { ImageErrorCode } from '../errors/image-fs-error.js';
import { RegistryError, type RegistryDiagnostic } from '../errors/registry-error.js';
import { redactText } from './redact.js';

/** The most bytes of an error body kept for diagnostics. */
export const MAX_ERROR_BODY = 64 * 1024;

/**
 * Parses a registry's error body (`{"errors":[{"code","message","detail"}]}`) into diagnostics.
 * Returns an empty list for anything else (plain text, HTML, empty). Messages are redacted.
 */
export function parseDiagnostics(body: string): RegistryDiagnostic[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return [];
  }
  const errors = (parsed as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return [];
  const out: RegistryDiagnostic[] = [];
  for (const e of errors) {
    if (typeof e !== 'object' || e === null) continue;
    const { code, message, detail } = e as Record<string, unknown>;
    const d: RegistryDiagnostic = {
      code: typeof code === 'string' ? code : 'UNKNOWN',
      message: typeof message === 'string' ? redactText(message) : '',
    };
    if (detail !== undefined) d.detail = detail;
    out.push(d);
  }
  return out;
}

/** Maps an HTTP status and the registry's diagnostics to an imagefs error code. */
export function codeForStatus(status: number, diagnostics: RegistryDiagnostic[] = []): ImageErrorCode {
  if (status === 401 || status === 403) return 'PermissionDenied';
  if (status === 404 || diagnostics.some((d) => d.code.endsWith('_UNKNOWN'))) return 'NotFound';
  if (status === 429 || diagnostics.some((d) => d.code === 'TOOMANYREQUESTS')) return 'ResourceExhausted';
  if (status >= 500) return 'Unavailable';
  if (diagnostics.some((d) => d.code === 'DENIED' || d.code === 'UNAUTHORIZED')) return 'PermissionDenied';
  return 'InvalidArgument';
}

/** True for statuses worth another attempt (after backoff): 408, 429 and 5xx except 501 and 505. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

const HINTS: Record<ImageErrorCode, string> = {
  PermissionDenied: 'check the credentials (--creds, --auth-file) and that they may pull this repository',
  NotFound: 'check the reference: registry, repository, tag or digest',
  ResourceExhausted: 'the registry\'s quota or rate limit is exhausted; wait and retry, or authenticate for a higher limit',
  Unavailable: 'the registry is unreachable or failing; retry later',
  InvalidArgument: 'the request was refused as malformed or unsupported',
  FailedPrecondition: '',
  DataLoss: 'the registry served bytes that do not match their digest; retry, or report the registry',
  Aborted: '',
};

/** What a failed response was asked for, for the message. */
export interface ResponseContext {
  /** What was being done, for instance `fetching manifest alpine:3.20`. */
  what: string;
  /** The URL, already redacted. */
  url: string;
}

/**
 * Builds the {@link RegistryError} for a final (non-retried) error response. The message says what
 * failed, the status, and the registry's own first code and message; all diagnostics are kept.
 */
export function errorFromResponse(status: number, body: string, ctx: ResponseContext, cause?: unknown): RegistryError {
  const diagnostics = parseDiagnostics(body);
  const code = codeForStatus(status, diagnostics);
  const said = diagnostics.length > 0
    ? `: ${diagnostics.map((d) => `${d.code}${d.message ? ` (${d.message})` : ''}`).join('; ')}`
    : body.trim() !== '' && body.length < 200 && !body.trimStart().startsWith('<') ? `: ${redactText(body.trim())}` : '';
  let what = `${ctx.what} failed with HTTP ${status}`;
  if (code === 'ResourceExhausted') what = `${ctx.what} was refused by a quota or rate limit (HTTP ${status}) after retries`;
  else if (code === 'Unavailable') what = `${ctx.what} failed: the registry answered HTTP ${status} after retries`;
  else if (code === 'PermissionDenied') what = `${ctx.what} was denied (HTTP ${status}) after authenticating`;
  return new RegistryError(code, `${what}${said}`, { status, url: ctx.url, diagnostics, hint: HINTS[code], cause });
}

/** Builds the `Unavailable` error for a network failure (after retries). Keeps the cause. */
export function errorFromNetwork(cause: unknown, ctx: ResponseContext, attempts: number): RegistryError {
  const c = cause as { code?: string; message?: string } | undefined;
  const detail = redactText(c?.code ?? c?.message ?? String(cause));
  return new RegistryError('Unavailable', `${ctx.what} failed after ${attempts} attempt(s): ${detail}`, {
    url: ctx.url,
    hint: HINTS.Unavailable,
    cause,
  });
}

/** Builds a `DataLoss` error (digest or length mismatch). */
export function dataLossError(message: string, url: string): RegistryError {
  return new RegistryError('DataLoss', message, { url, hint: HINTS.DataLoss });
}

/** Builds an `InvalidArgument` error about what the registry served (unsupported or malformed). */
export function invalidError(message: string, url: string, hint?: string): RegistryError {
  return new RegistryError('InvalidArgument', message, { url, hint: hint ?? HINTS.InvalidArgument });
}
