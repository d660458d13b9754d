import { ImageError, type ImageErrorCode, type ImageFsErrorOptions } from './image-fs-error.js';

/** One entry of a registry's `{"errors": [...]}` body (OCI distribution spec). */
export interface RegistryDiagnostic {
  /** The registry's own code, for instance `MANIFEST_UNKNOWN` or `DENIED`. */
  code: string;
  /** The registry's message. */
  message: string;
  /** Anything else the registry said, as JSON. */
  detail?: unknown;
}

/** Options of {@link RegistryError}. */
export interface RegistryErrorOptions extends ImageFsErrorOptions {
  /** The HTTP status, when a response was seen. */
  status?: number;
  /** The request's URL with credentials and query secrets removed. */
  url?: string;
  /** What the registry said, parsed from its error body. */
  diagnostics?: RegistryDiagnostic[];
}

/**
 * An error from a registry, after retries: it keeps the HTTP status, the registry's diagnostics
 * and a redacted URL. Its `code` maps the failure as GKE does (401/403 → PermissionDenied, 404 and
 * `*_UNKNOWN` → NotFound, 429 → ResourceExhausted, 5xx and network → Unavailable).
 */
export class RegistryError extends ImageError {
  /** The HTTP status, or 0 when none was received. */
  readonly status: number;
  /** The request URL, redacted. */
  readonly url: string;
  /** The registry's own errors. */
  readonly diagnostics: RegistryDiagnostic[];

  constructor(code: ImageErrorCode, message: string, options: RegistryErrorOptions = {}) {
    super(code, message, { ...options, subject: options.url });
    this.name = 'RegistryError';
    this.status = options.status ?? 0;
    this.url = options.url ?? '';
    this.diagnostics = options.diagnostics ?? [];
  }
}
