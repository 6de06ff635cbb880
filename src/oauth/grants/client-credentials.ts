import { appendEvent, type RequestMeta } from '../../audit/index.js';
import type { Policy } from '../../core/policy.js';
import type { Transaction } from '../../store/port.js';
import type { PreparedAccessToken } from '../access-tokens.js';
import type { Client } from '../clients.js';
import { tokenResponse, type AccessTokenSpec, type GrantDeps, type TokenResponse } from './decision.js';
import { grantScopes, parseScope, requireGrantType, resolveAudience } from './request.js';

/** What a `client_credentials` request (RFC 6749 §4.4) is to issue and persist. */
export interface ClientCredentialsDecision {
  readonly grantType: 'client_credentials';
  readonly client: Client;
  /** The access token: for the client's own principal, the scopes and audience asked for (or all). */
  readonly issue: AccessTokenSpec;
  /** Start a refresh token family under this policy, or `null` for an access token alone. */
  readonly refreshFamily: Policy | null;
}

/**
 * Decides a `client_credentials` request from the client and the form alone (no I/O): the
 * requested scopes within the client's, its audience, its policy's lifetime and format; a
 * refresh token family too only when the client's policy asks for one (`clientCredentialsRefresh`,
 * off by default: RFC 6749 §4.4.3), allows refresh tokens, and the client lists `refresh_token`.
 *
 * @example
 * ```ts
 * const decision = decideClientCredentials(client, { grant_type: 'client_credentials', scope: 'read' });
 * ```
 */
export function decideClientCredentials(client: Client, form: Readonly<Record<string, string>>): ClientCredentialsDecision {
  requireGrantType(client, 'client_credentials');
  const scopes = grantScopes(parseScope(form.scope), client.scopes);
  const audience = resolveAudience(form, client);
  const policy = client.policy;
  return {
    grantType: 'client_credentials',
    client,
    issue: {
      grant: { clientId: client.clientId, principal: client.principal, scopes, audience },
      options: { ttl: policy.accessTokenTtl, format: policy.accessTokenFormat, alg: client.accessTokenAlg },
    },
    refreshFamily: policy.clientCredentialsRefresh && policy.refreshTokens && client.grantTypes.includes('refresh_token') ? policy : null,
  };
}

/**
 * Persists a decided and signed `client_credentials` issuance inside `tx`: the refresh token
 * family (if decided), the access token's row, and one `token.issued` event.
 */
export async function persistClientCredentials(
  tx: Transaction,
  deps: Pick<GrantDeps, 'ctx' | 'accessTokens' | 'refreshTokens'>,
  decision: ClientCredentialsDecision,
  signed: PreparedAccessToken,
  meta: RequestMeta,
): Promise<TokenResponse> {
  const { grant } = decision.issue;
  let refreshToken: string | undefined;
  let grantId: string | null = null;
  if (decision.refreshFamily) {
    // A family started with a DPoP proof is bound to its key (RFC 9449 §5).
    const started = await deps.refreshTokens.start(tx, { ...grant, jkt: signed.grant.cnf?.jkt }, decision.refreshFamily);
    refreshToken = started.refreshToken;
    grantId = started.grant.id;
  }
  const at = await deps.accessTokens.record(tx, signed, grantId);
  await appendEvent(
    tx,
    deps.ctx,
    {
      type: 'token.issued',
      target: decision.client.clientId,
      outcome: 'success',
      data: { grantType: 'client_credentials', jti: at.jti, grant: grantId, scopes: grant.scopes, audience: grant.audience, ...deps.refreshTokens.fingerprint('refreshTokenFingerprint', refreshToken) },
    },
    meta,
  );
  return tokenResponse(at.token, at.expiresIn, grant.scopes, refreshToken);
}
