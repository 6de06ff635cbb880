import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestMeta } from '../audit/events.js';
import { readBearer } from '../core/bearer.js';
import { KeyturnError } from '../core/errors.js';
import type { KeyService, VerificationFailure, VerifiedKey } from '../keys/service.js';
import { held, rateLimited, type FailureLimits } from './rate-limit.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified admin credential, set by {@link requireScope}. */
    caller?: VerifiedKey;
  }
  interface FastifyInstance {
    /** Limits on failed authentications per source network (set by `buildServer`). */
    failureLimits?: FailureLimits;
  }
}

/** Who made the request, for events. */
export function requestMeta(request: FastifyRequest): RequestMeta {
  return {
    actor: request.caller?.principal ?? null,
    actorKind: request.caller?.principalKind ?? null,
    sourceIp: request.ip,
    requestId: request.id,
    credential: request.caller?.id ?? null,
  };
}

/**
 * Why a key the caller holds was refused. The holder presented the secret, so naming its state and
 * id discloses nothing they could not learn from `POST /v1/keys/verify`; an operator locked out by
 * a suspended admin key learns what happened and how to get back in.
 */
function refusal(reason: VerificationFailure, keyId: string | null): KeyturnError {
  const key = keyId === null ? 'this key' : `key ${keyId}`;
  const recover = 'unsuspend it with another admin key, or mint a new one with `keyturn admin recover` on the server host';
  switch (reason) {
    case 'suspended':
      return new KeyturnError('ERR_KEY_SUSPENDED', `${key} is suspended (a leak response or an operator quarantined it): ${recover}`, { details: keyId === null ? {} : { keyId } });
    case 'revoked':
      return new KeyturnError('ERR_KEY_REVOKED', `${key} is revoked; use another admin key, or mint one with \`keyturn admin recover\` on the server host`, { details: keyId === null ? {} : { keyId } });
    case 'expired':
      return new KeyturnError('ERR_KEY_EXPIRED', `${key} has expired`, { details: keyId === null ? {} : { keyId } });
    default:
      return new KeyturnError('ERR_INVALID_TOKEN', 'the access token is invalid, expired or revoked');
  }
}

/**
 * A preHandler that admits only callers presenting a keyturn API key with `scope`.
 * No Bearer credentials (no header, or another scheme such as `Basic`): 401 without an error code
 * (RFC 6750 §3.1); a malformed Bearer header: 401 `invalid_token`; a bad key: 401 `invalid_token`
 * (code `ERR_KEY_SUSPENDED`, `ERR_KEY_REVOKED` or `ERR_KEY_EXPIRED` with the key id when it is ours)
 * and an `admin.auth_failed` event (aggregated), or 429 with `Retry-After` past the source network's
 * limit of failures; a good one without the scope: 403 `insufficient_scope`.
 */
export function requireScope(keys: KeyService, scope: string) {
  return async function authenticate(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const credentials = readBearer(request.headers.authorization);
    if (credentials.kind === 'none') throw new KeyturnError('ERR_UNAUTHENTICATED', 'authentication required: send Authorization: Bearer <admin key>');
    if (credentials.kind === 'malformed') throw new KeyturnError('ERR_INVALID_TOKEN', 'malformed Authorization header: expected Bearer <token>');
    const token = credentials.token;
    const result = await keys.check(token);
    if (!result.valid) {
      const keyId = await keys.recordFailure('admin.auth_failed', result, token, requestMeta(request));
      const limits = request.server.failureLimits;
      const wait = limits?.fail('admin', request.ip);
      if (limits && wait !== undefined) throw await held(limits, rateLimited(wait));
      throw refusal(result.reason, keyId);
    }
    keys.noteUse(result.key.id, request.ip);
    if (!result.key.scopes.includes(scope)) {
      throw new KeyturnError('ERR_INSUFFICIENT_SCOPE', `this request needs scope "${scope}"`, { details: { scope } });
    }
    request.caller = result.key;
  };
}
