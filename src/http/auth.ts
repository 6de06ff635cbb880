import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestMeta } from '../audit/events.js';
import { KeyturnError } from '../core/errors.js';
import type { KeyService, VerifiedKey } from '../keys/service.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified admin credential, set by {@link requireScope}. */
    caller?: VerifiedKey;
  }
}

/** RFC 6750 §2.1: `Authorization: Bearer <token>`; the scheme is case-insensitive. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  return match?.[1];
}

/** Who made the request, for events. */
export function requestMeta(request: FastifyRequest): RequestMeta {
  return {
    actor: request.caller?.principal ?? null,
    actorKind: request.caller?.principalKind ?? null,
    sourceIp: request.ip,
    requestId: request.id,
  };
}

/**
 * A preHandler that admits only callers presenting a keyturn API key with `scope`.
 * No credentials: 401 without an error code (RFC 6750 §3.1); a bad one: 401 `invalid_token`
 * and an `admin.auth_failed` event; a good one without the scope: 403 `insufficient_scope`.
 */
export function requireScope(keys: KeyService, scope: string) {
  return async function authenticate(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const header = request.headers.authorization;
    if (!header) throw new KeyturnError('ERR_UNAUTHENTICATED', 'authentication required: send Authorization: Bearer <admin key>');
    const token = bearerToken(header);
    if (!token) throw new KeyturnError('ERR_INVALID_TOKEN', 'malformed Authorization header: expected Bearer <token>');
    const result = await keys.check(token);
    if (!result.valid) {
      await keys.recordFailure('admin.auth_failed', result, token, requestMeta(request));
      throw new KeyturnError('ERR_INVALID_TOKEN', 'the access token is invalid, expired or revoked');
    }
    if (!result.key.scopes.includes(scope)) {
      throw new KeyturnError('ERR_INSUFFICIENT_SCOPE', `this request needs scope "${scope}"`, { details: { scope } });
    }
    request.caller = result.key;
  };
}
