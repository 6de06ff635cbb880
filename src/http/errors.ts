import type { FastifyReply } from 'fastify';
import { KeyturnError, type KeyturnErrorCode } from '../core/errors.js';

/** How one error code goes out on the wire: RFC 6749 §5.2 / RFC 6750 §3.1 error, status, and whether the message is shown. */
export interface WireError {
  readonly error: string;
  readonly status: number;
  /** `false`: the description is a fixed text and the detail goes to the log only. */
  readonly expose: boolean;
}

/** The one table from {@link KeyturnErrorCode} to the wire. A test checks that it covers every code. */
export const WIRE_ERRORS: Readonly<Record<KeyturnErrorCode, WireError>> = {
  ERR_VALIDATION: { error: 'invalid_request', status: 400, expose: true },
  ERR_MALFORMED_BODY: { error: 'invalid_request', status: 400, expose: true },
  ERR_BODY_TOO_LARGE: { error: 'invalid_request', status: 413, expose: true },
  ERR_UNSUPPORTED_MEDIA_TYPE: { error: 'invalid_request', status: 415, expose: true },
  ERR_DUPLICATE_PARAMETER: { error: 'invalid_request', status: 400, expose: true },
  ERR_NOT_FOUND: { error: 'not_found', status: 404, expose: true },
  ERR_CONFLICT: { error: 'conflict', status: 409, expose: true },
  ERR_CONFIG: { error: 'server_error', status: 500, expose: false },
  ERR_SECRET_FORMAT: { error: 'invalid_request', status: 400, expose: true },
  ERR_SECRET_CHECKSUM: { error: 'invalid_request', status: 400, expose: true },
  ERR_PREFIX_INVALID: { error: 'invalid_request', status: 400, expose: true },
  ERR_UNAUTHENTICATED: { error: 'unauthorized', status: 401, expose: true },
  ERR_INVALID_TOKEN: { error: 'invalid_token', status: 401, expose: true },
  ERR_INSUFFICIENT_SCOPE: { error: 'insufficient_scope', status: 403, expose: true },
  ERR_KEY_UNKNOWN: { error: 'invalid_token', status: 401, expose: true },
  ERR_KEY_EXPIRED: { error: 'invalid_token', status: 401, expose: true },
  ERR_KEY_REVOKED: { error: 'invalid_token', status: 401, expose: true },
  ERR_KEY_SUSPENDED: { error: 'invalid_token', status: 401, expose: true },
  ERR_KEY_STATE: { error: 'conflict', status: 409, expose: true },
  ERR_LEAK_UNACKNOWLEDGED: { error: 'conflict', status: 409, expose: true },
  ERR_CREDENTIAL_STATE: { error: 'conflict', status: 409, expose: true },
  ERR_PRINCIPAL_INACTIVE: { error: 'conflict', status: 409, expose: true },
  ERR_BINDING_MISMATCH: { error: 'invalid_token', status: 401, expose: true },
  ERR_BINDING_REQUIRED: { error: 'invalid_request', status: 400, expose: true },
  ERR_INVALID_DPOP_PROOF: { error: 'invalid_dpop_proof', status: 400, expose: true },
  ERR_USE_DPOP_NONCE: { error: 'use_dpop_nonce', status: 400, expose: true },
  ERR_SIGNATURE_INVALID: { error: 'invalid_signature', status: 401, expose: true },
  ERR_INVALID_CLIENT: { error: 'invalid_client', status: 401, expose: true },
  ERR_INVALID_GRANT: { error: 'invalid_grant', status: 400, expose: true },
  ERR_UNAUTHORIZED_CLIENT: { error: 'unauthorized_client', status: 400, expose: true },
  ERR_UNSUPPORTED_GRANT_TYPE: { error: 'unsupported_grant_type', status: 400, expose: true },
  ERR_INVALID_SCOPE: { error: 'invalid_scope', status: 400, expose: true },
  ERR_INVALID_TARGET: { error: 'invalid_target', status: 400, expose: true },
  ERR_UNSUPPORTED_TOKEN_TYPE: { error: 'unsupported_token_type', status: 400, expose: true },
  ERR_STORE_UNAVAILABLE: { error: 'temporarily_unavailable', status: 503, expose: false },
  ERR_MIGRATION: { error: 'server_error', status: 500, expose: false },
  ERR_UPSTREAM: { error: 'temporarily_unavailable', status: 502, expose: false },
  ERR_RATE_LIMITED: { error: 'too_many_requests', status: 429, expose: true },
  ERR_CAPACITY: { error: 'temporarily_unavailable', status: 503, expose: true },
  ERR_ADDRESS_IN_USE: { error: 'server_error', status: 500, expose: false },
  ERR_FILESYSTEM: { error: 'server_error', status: 500, expose: false },
  ERR_INTERNAL: { error: 'server_error', status: 500, expose: false },
};

const REALM = 'keyturn';

/** Quotes a value for an RFC 7235 auth-param (our texts never contain `"` or `\`, but be safe). */
function quote(value: string): string {
  return `"${value.replace(/["\\]/g, '')}"`;
}

/** The `WWW-Authenticate` value for a 401/403 on a Bearer-protected route (RFC 6750 §3). */
export function bearerChallenge(err?: { error: string; description?: string; scope?: string }): string {
  const params = [`realm=${quote(REALM)}`];
  if (err) {
    params.push(`error=${quote(err.error)}`);
    if (err.description) params.push(`error_description=${quote(err.description)}`);
    if (err.scope) params.push(`scope=${quote(err.scope)}`);
  }
  return `Bearer ${params.join(', ')}`;
}

/**
 * RFC 6749 §5.2: `error_description` is limited to %x20-21 / %x23-5B / %x5D-7E — printable ASCII
 * without `"` and `\`. Quotes become apostrophes, anything else outside the set a `?`.
 */
export function errorDescription(message: string): string {
  return message
    .replace(/"/g, "'")
    .replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '?')
    .slice(0, 500);
}

export interface ErrorBody {
  readonly error: string;
  readonly error_description: string;
  readonly code: KeyturnErrorCode;
}

/** An error answer, independent of the HTTP framework that writes it. */
export interface ErrorResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: ErrorBody;
}

/** The RFC 6749/6750 error answer for `err`: status, headers (challenges, no-store) and JSON body. */
export function errorResponse(err: KeyturnError): ErrorResponse {
  const wire = WIRE_ERRORS[err.code];
  const description = wire.expose ? errorDescription(err.message) : 'the server could not complete the request';
  const headers: Record<string, string> = { 'cache-control': 'no-store', pragma: 'no-cache' };
  if (err.code === 'ERR_INVALID_CLIENT') {
    // RFC 6749 §5.2: a 401 names the scheme the client may use.
    headers['www-authenticate'] = `Basic realm=${quote(REALM)}`;
  } else if (wire.status === 401 && err.code !== 'ERR_SIGNATURE_INVALID') {
    headers['www-authenticate'] = err.code === 'ERR_UNAUTHENTICATED' ? bearerChallenge() : bearerChallenge({ error: 'invalid_token', description });
  } else if (err.code === 'ERR_RATE_LIMITED' && typeof err.details?.retryAfter === 'number') {
    headers['retry-after'] = String(Math.max(1, Math.ceil(err.details.retryAfter)));
  } else if (err.code === 'ERR_USE_DPOP_NONCE' || err.code === 'ERR_INVALID_DPOP_PROOF') {
    // RFC 9449 §8: the nonce to retry with; §12.2 errors at the token endpoint are 400 JSON.
    if (typeof err.details?.nonce === 'string') headers['dpop-nonce'] = err.details.nonce;
  } else if (wire.status === 403 && err.code === 'ERR_INSUFFICIENT_SCOPE') {
    const scope = typeof err.details?.scope === 'string' ? err.details.scope : undefined;
    headers['www-authenticate'] = bearerChallenge({ error: 'insufficient_scope', description, ...(scope ? { scope } : {}) });
  }
  return { status: wire.status, headers, body: { error: wire.error, error_description: description, code: err.code } };
}

/** Writes `err` as RFC 6749/6750 error JSON with the right status and headers (fastify). */
export function sendError(reply: FastifyReply, err: KeyturnError): FastifyReply {
  const { status, headers, body } = errorResponse(err);
  return reply.code(status).headers(headers).send(body);
}

/** Turns anything thrown (fastify's own errors included) into a {@link KeyturnError}. */
export function toKeyturnError(err: unknown): KeyturnError {
  if (err instanceof KeyturnError) return err;
  const e = err as { code?: string; statusCode?: number; validation?: unknown; message?: string };
  switch (e?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new KeyturnError('ERR_BODY_TOO_LARGE', 'request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new KeyturnError('ERR_UNSUPPORTED_MEDIA_TYPE', 'unsupported content type');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new KeyturnError('ERR_MALFORMED_BODY', 'request body is empty');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new KeyturnError('ERR_MALFORMED_BODY', 'request body is not valid JSON');
    default:
      break;
  }
  if (e?.validation) return new KeyturnError('ERR_VALIDATION', e.message ?? 'invalid request');
  if (err instanceof SyntaxError || (e?.statusCode === 400 && /JSON/i.test(e.message ?? ''))) {
    return new KeyturnError('ERR_MALFORMED_BODY', 'request body is not valid JSON');
  }
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new KeyturnError('ERR_VALIDATION', 'invalid request');
  }
  return new KeyturnError('ERR_INTERNAL', 'internal error', { cause: err });
}
