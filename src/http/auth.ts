import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestMeta } from '../audit/events.js';
import { readBearer } from '../core/bearer.js';
import { KeyturnError } from '../core/errors.js';
import type { KeyService, VerifiedKey } from '../keys/service.js';
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
 * A preHandler that admits only callers presenting a keyturn API key with `scope`.
 * No Bearer credentials (no header, or another scheme such as `Basic`): 401 without an error code
 * (RFC 6750 §3.1); a malformed Bearer header: 401 `invalid_token`; a bad key: 401 `invalid_token`
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
      await keys.recordFailure('admin.auth_failed', result, token, requestMeta(request));
      const limits = request.server.failureLimits;
      const wait = limits?.fail('admin', request.ip);
      if (limits && wait !== undefined) throw await held(limits, rateLimited(wait));
      throw new KeyturnError('ERR_INVALID_TOKEN', 'the access token is invalid, expired or revoked');
    }
    if (!result.key.scopes.includes(scope)) {
      throw new KeyturnError('ERR_INSUFFICIENT_SCOPE', `this request needs scope "${scope}"`, { details: { scope } });
    }
    request.caller = result.key;
  };
}
