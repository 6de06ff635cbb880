/**
 * One error type for all of keyturn. Every error carries a stable `code` from
 * {@link KEYTURN_ERROR_CODES}; codes are never reused once retired, and each one is
 * documented in `docs/errors.md` (a test checks it).
 *
 * Edges (HTTP, CLI) map codes to their wire format; nothing below them knows about
 * status codes or exit codes.
 *
 * @example
 * ```ts
 * try { parseSecret(input) } catch (err) {
 *   if (err instanceof KeyturnError && err.code === 'ERR_SECRET_CHECKSUM') …
 * }
 * ```
 */
export const KEYTURN_ERROR_CODES = [
  // input
  'ERR_VALIDATION',
  'ERR_MALFORMED_BODY',
  'ERR_BODY_TOO_LARGE',
  'ERR_UNSUPPORTED_MEDIA_TYPE',
  'ERR_DUPLICATE_PARAMETER',
  'ERR_NOT_FOUND',
  'ERR_CONFLICT',
  'ERR_CONFIG',
  // secret format
  'ERR_SECRET_FORMAT',
  'ERR_SECRET_CHECKSUM',
  'ERR_PREFIX_INVALID',
  // authentication / authorization of callers
  'ERR_UNAUTHENTICATED',
  'ERR_INVALID_TOKEN',
  'ERR_INSUFFICIENT_SCOPE',
  // credentials
  'ERR_KEY_UNKNOWN',
  'ERR_KEY_EXPIRED',
  'ERR_KEY_REVOKED',
  'ERR_KEY_SUSPENDED',
  'ERR_KEY_STATE',
  'ERR_LEAK_UNACKNOWLEDGED',
  'ERR_CREDENTIAL_STATE',
  'ERR_PRINCIPAL_INACTIVE',
  'ERR_BINDING_MISMATCH',
  'ERR_BINDING_REQUIRED',
  'ERR_INVALID_DPOP_PROOF',
  'ERR_USE_DPOP_NONCE',
  // leak reports
  'ERR_SIGNATURE_INVALID',
  // OAuth 2.0 (RFC 6749 §5.2, RFC 8707, RFC 8693, RFC 7009)
  'ERR_INVALID_CLIENT',
  'ERR_INVALID_GRANT',
  'ERR_UNAUTHORIZED_CLIENT',
  'ERR_UNSUPPORTED_GRANT_TYPE',
  'ERR_INVALID_SCOPE',
  'ERR_INVALID_TARGET',
  'ERR_UNSUPPORTED_TOKEN_TYPE',
  // infrastructure
  'ERR_STORE_UNAVAILABLE',
  'ERR_MIGRATION',
  'ERR_UPSTREAM',
  'ERR_RATE_LIMITED',
  'ERR_CAPACITY',
  'ERR_ADDRESS_IN_USE',
  'ERR_FILESYSTEM',
  'ERR_INTERNAL',
] as const;

export type KeyturnErrorCode = (typeof KEYTURN_ERROR_CODES)[number];

/** Error with a stable, documented code. `details` must never contain a secret. */
export class KeyturnError extends Error {
  override readonly name = 'KeyturnError';
  readonly code: KeyturnErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: KeyturnErrorCode, message: string, options?: { details?: Record<string, unknown>; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }
}

/** True when `value` is a {@link KeyturnError}, optionally with one of `codes`. */
export function isKeyturnError(value: unknown, ...codes: KeyturnErrorCode[]): value is KeyturnError {
  return value instanceof KeyturnError && (codes.length === 0 || codes.includes(value.code));
}
