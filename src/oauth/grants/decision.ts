import type { Context } from '../../core/context.js';
import type { KeyService } from '../../keys/index.js';
import type { PrincipalService } from '../../principals/index.js';
import type { SigningAlg } from '../../signing/index.js';
import type { AccessGrant, AccessTokenService } from '../access-tokens.js';
import type { TokenLineage } from '../lineage.js';
import type { RefreshTokenService } from '../refresh-tokens.js';

/** A successful token response (RFC 6749 §5.1, RFC 8693 §2.2.1). */
export interface TokenResponse {
  access_token: string;
  /** `DPoP` for a DPoP-bound access token (RFC 9449 §5). */
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  scope: string;
  refresh_token?: string;
  issued_token_type?: string;
}

/**
 * The access token a grant decided to issue: for whom, which scopes, which audience, on whose
 * behalf (`act`), and how it is encoded. The binding step adds `cnf`; the grant id comes from
 * the persist step.
 */
export interface AccessTokenSpec {
  readonly grant: Omit<AccessGrant, 'grantId' | 'cnf'>;
  /** Lifetime in seconds, encoding, and the algorithm a JWT is signed with. */
  readonly options: { readonly ttl: number; readonly format: 'jwt' | 'opaque'; readonly alg: SigningAlg };
}

/** What the per-grant steps use: the clock, the token services, and the principals and keys they read. */
export interface GrantDeps {
  readonly ctx: Context;
  readonly accessTokens: AccessTokenService;
  readonly refreshTokens: RefreshTokenService;
  readonly principals: PrincipalService;
  readonly keys: KeyService;
  /** Exchanged tokens' parents: token exchange records them and checks the subject's chain. */
  readonly lineage: TokenLineage;
}

/**
 * The RFC 6749 §5.1 answer for an issued access token (and the refresh token of the family, if any).
 *
 * @example
 * ```ts
 * tokenResponse(at.token, at.expiresIn, ['read']); // { access_token, token_type: 'Bearer', expires_in, scope: 'read' }
 * ```
 */
export function tokenResponse(accessToken: string, expiresIn: number, scopes: readonly string[], refreshToken?: string): TokenResponse {
  return {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: expiresIn,
    scope: scopes.join(' '),
    ...(refreshToken ? { refresh_token: refreshToken } : {}),
  };
}
