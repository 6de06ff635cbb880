import { appendEvent, type RequestMeta } from '../../audit/index.js';
import { isLive, PRINCIPAL_LIFECYCLE } from '../../core/lifecycle.js';
import { KeyturnError } from '../../core/errors.js';
import type { Policy } from '../../core/policy.js';
import type { Transaction } from '../../store/port.js';
import type { PreparedAccessToken } from '../access-tokens.js';
import type { Client } from '../clients.js';
import type { Grant, RefreshUse } from '../refresh-tokens.js';
import { tokenResponse, type AccessTokenSpec, type GrantDeps, type TokenResponse } from './decision.js';
import { parseScope, requireGrantType } from './request.js';

/** Why a refresh is refused once its token has been presented (rotation and reuse detection run first). */
export type RefreshRefusal = 'scope_widened' | 'audience';

/** What a `refresh_token` request (RFC 6749 §6) is to issue and persist. */
export interface RefreshDecision {
  readonly grantType: 'refresh_token';
  readonly client: Client;
  /** The refresh token presented: rotated in the persist step's transaction. */
  readonly presented: string;
  /** Its grant as read before the transaction (principal, scopes and audience never change). */
  readonly grant: Grant;
  readonly policy: Policy;
  /** The access token to issue once the rotation succeeds; `null` when {@link refusal} is set. */
  readonly issue: AccessTokenSpec | null;
  /** Why the request is refused after the presented token is used; `null` when it is not. */
  readonly refusal: RefreshRefusal | null;
}

const WHY: Record<Exclude<RefreshUse, { ok: true }>['reason'] | 'principal_inactive' | 'audience', string> = {
  unknown: 'refresh token is invalid',
  expired: 'refresh token has expired',
  revoked: 'refresh token was revoked',
  reuse: 'refresh token was already used; the grant is revoked',
  wrong_client: 'refresh token was issued to another client',
  principal_inactive: 'the principal of this grant is no longer active; the grant is revoked',
  audience: 'the audience of this grant is no longer allowed; the grant is revoked',
};

/** The `invalid_grant` error for a refused refresh. */
export function refreshRefused(reason: keyof typeof WHY): KeyturnError {
  return new KeyturnError('ERR_INVALID_GRANT', WHY[reason]);
}

/**
 * Decides a `refresh_token` request before any transaction, from the presented token's grant:
 * the scopes come back narrowed to what the client is still allowed (and to `scope`, if asked
 * for less), for the grant's principal and audience. A token that is not ours, of another
 * client or revoked is refused here (nothing to write); a request that asks for more than the
 * grant, or whose audience the client lost, is decided as a refusal the persist step applies
 * after the rotation, so that a replayed token still trips reuse detection.
 */
export async function decideRefresh(
  deps: Pick<GrantDeps, 'refreshTokens'>,
  client: Client,
  form: Readonly<Record<string, string>>,
): Promise<RefreshDecision> {
  requireGrantType(client, 'refresh_token');
  const presented = form.refresh_token;
  if (!presented) throw new KeyturnError('ERR_VALIDATION', 'refresh_token is required');
  const requested = parseScope(form.scope);
  const policy = client.policy;
  if (!policy.refreshTokens) throw new KeyturnError('ERR_INVALID_GRANT', "the client's policy no longer allows refresh tokens");
  const found = await deps.refreshTokens.find(presented);
  if (!found) throw refreshRefused('unknown');
  const { grant } = found;
  if (grant.clientId !== client.clientId) throw refreshRefused('wrong_client');
  if (grant.status === 'revoked' || found.token.status === 'revoked') throw refreshRefused('revoked');
  const refusal: RefreshRefusal | null = requested?.some((s) => !grant.scopes.includes(s))
    ? 'scope_widened'
    : client.audiences.includes(grant.audience)
      ? null
      : 'audience';
  let issue: AccessTokenSpec | null = null;
  if (refusal === null) {
    const stillAllowed = grant.scopes.filter((s) => client.scopes.includes(s));
    const scopes = requested ? requested.filter((s) => stillAllowed.includes(s)) : stillAllowed;
    issue = {
      grant: { clientId: client.clientId, principal: grant.principal, scopes, audience: grant.audience },
      options: { ttl: policy.accessTokenTtl, format: policy.accessTokenFormat, alg: client.accessTokenAlg },
    };
  }
  return { grantType: 'refresh_token', client, presented, grant, policy, issue, refusal };
}

/**
 * Persists a decided refresh inside `tx`: rotates the presented token (reuse revokes the family
 * and records a detection), evaluates the grant's principal again, applies a decided refusal,
 * then records the signed access token under the grant with one `token.refreshed` event. A
 * refusal is returned, not thrown, so that what it revoked commits; asking for more scope than
 * the grant throws, undoing the rotation.
 */
export async function persistRefresh(
  tx: Transaction,
  deps: Pick<GrantDeps, 'ctx' | 'accessTokens' | 'refreshTokens' | 'principals'>,
  decision: RefreshDecision,
  signed: PreparedAccessToken | null,
  meta: RequestMeta,
): Promise<TokenResponse | KeyturnError> {
  const use = await deps.refreshTokens.use(tx, decision.presented, decision.client.clientId, decision.policy, meta);
  if (!use.ok) return refreshRefused(use.reason);
  const { grant } = use;
  const principal = await deps.principals.find(grant.principal, tx);
  if (!principal || !isLive(PRINCIPAL_LIFECYCLE, principal.status)) {
    await deps.refreshTokens.revokeGrantIn(tx, grant.id, 'principal inactive');
    return refreshRefused('principal_inactive');
  }
  if (decision.refusal === 'scope_widened') throw new KeyturnError('ERR_INVALID_SCOPE', 'a refresh cannot widen the scope of the original grant');
  if (decision.refusal === 'audience' || signed === null) {
    await deps.refreshTokens.revokeGrantIn(tx, grant.id, 'audience no longer allowed');
    return refreshRefused('audience');
  }
  const at = await deps.accessTokens.record(tx, signed, grant.id);
  const { scopes } = signed.grant;
  await appendEvent(
    tx,
    deps.ctx,
    {
      type: 'token.refreshed',
      target: grant.id,
      outcome: 'success',
      data: {
        client: decision.client.clientId,
        jti: at.jti,
        generation: grant.generation,
        graceReuse: use.graceReuse,
        scopes,
        narrowed: scopes.length < grant.scopes.length,
        ...deps.refreshTokens.fingerprint('presentedFingerprint', decision.presented),
        ...deps.refreshTokens.fingerprint('refreshTokenFingerprint', use.refreshToken),
      },
    },
    meta,
  );
  return tokenResponse(at.token, at.expiresIn, scopes, use.refreshToken);
}
