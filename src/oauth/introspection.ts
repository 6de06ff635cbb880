import type { TlsChannel } from '../core/channel.js';
import { appendEvent, type RequestMeta } from '../audit/index.js';
import { isLive, REFRESH_FAMILY_LIFECYCLE, REFRESH_TOKEN_LIFECYCLE } from '../core/lifecycle.js';
import type { Context } from '../core/context.js';
import { KeyturnError } from '../core/errors.js';
import type { KeyService } from '../keys/index.js';
import type { Store } from '../store/port.js';
import type { AccessTokenService, Actor } from './access-tokens.js';
import type { ClientAuthenticator } from './client-auth.js';
import type { Client, ClientService } from './clients.js';
import type { TokenLineage } from './lineage.js';
import type { RefreshTokenService } from './refresh-tokens.js';

/** RFC 7662 §2.2 response. Inactive tokens get `{ active: false }` and nothing else. */
export type IntrospectionResponse =
  | { active: false }
  | {
      active: true;
      scope: string;
      client_id: string;
      sub: string;
      aud: string;
      iss: string;
      exp: number;
      iat: number;
      token_type: string;
      jti?: string;
      act?: Actor;
      cnf?: Record<string, string>;
    };

/** What a lookup found: the answer, and the token's client when the caller was refused it (RFC 7662 §4). */
interface Looked {
  readonly answer: IntrospectionResponse;
  readonly refused?: string | undefined;
}

const INACTIVE: Looked = { answer: { active: false } };

export interface TokenOpsRequest {
  readonly form: Readonly<Record<string, string>>;
  readonly authorization: string | undefined;
  readonly endpoint: string;
  readonly meta: RequestMeta;
  /** The TLS connection the request came on (RFC 8705 client certificate), absent on plain HTTP. */
  readonly tls?: TlsChannel | undefined;
}

export interface TokenOpsDeps {
  readonly store: Store;
  readonly ctx: Context;
  readonly issuer: () => string;
  readonly authenticator: ClientAuthenticator;
  readonly clients: ClientService;
  readonly accessTokens: AccessTokenService;
  readonly refreshTokens: RefreshTokenService;
  readonly keys: KeyService;
  readonly lineage: TokenLineage;
}

/**
 * Introspection (RFC 7662) and revocation (RFC 7009), both for authenticated clients.
 * Introspection re-evaluates authorization: a token whose client is disabled or gone, or whose
 * principal is inactive, is inactive; so is an exchanged token anything of whose chain (the
 * tokens and API key it was exchanged for, their clients and principals) no longer stands.
 * RFC 7662 §4: an access token is introspected only by its own client or by a client registered
 * as resource server for its audience (`resourceServerFor`); refresh tokens only by their own
 * client. Anyone else learns `{ active: false }`, exactly as for a token that does not exist; the
 * audit records it apart (`token.introspection_failed` with reason `not_permitted` and the token's
 * client), aggregated through the failure log like every other failure.
 */
export class TokenOperations {
  readonly #d: TokenOpsDeps;

  constructor(deps: TokenOpsDeps) {
    this.#d = deps;
  }

  async introspect(req: TokenOpsRequest): Promise<IntrospectionResponse> {
    const caller = await this.#d.authenticator.authenticate({ authorization: req.authorization, form: req.form, audiences: [this.#d.issuer(), req.endpoint], tls: req.tls }, req.meta);
    const token = req.form.token;
    if (!token) throw new KeyturnError('ERR_VALIDATION', 'token is required');
    const hint = req.form.token_type_hint;
    const found = await this.#lookup(token, hint, caller);
    if (!found.answer.active) {
      // Aggregated like every failure: a client asking about many unknown (or other clients') tokens writes a summary, not a row each.
      // `not_permitted`: the token is live but the caller may not learn about it (RFC 7662 §4); the answer is the same.
      await this.#d.authenticator.failures.record(
        {
          type: 'token.introspection_failed',
          target: caller.clientId,
          outcome: 'failure',
          reason: found.refused === undefined ? 'inactive' : 'not_permitted',
          data: { hint: hint === undefined ? null : hint.slice(0, 40), ...(found.refused === undefined ? {} : { tokenClient: found.refused }) },
        },
        { ...req.meta, actor: caller.principal },
      );
    }
    return found.answer;
  }

  /** The answer, and when it is inactive only because the caller may not see the token: the token's client (`refused`). */
  async #lookup(token: string, hint: string | undefined, caller: Client): Promise<Looked> {
    const order = hint === 'refresh_token' ? ['refresh_token', 'access_token'] : ['access_token', 'refresh_token'];
    let refused: string | undefined;
    for (const kind of order) {
      const found = kind === 'access_token' ? await this.#access(token, caller) : await this.#refresh(token, caller.clientId);
      if (found.answer.active) return found;
      refused ??= found.refused;
    }
    return refused === undefined ? INACTIVE : { answer: { active: false }, refused };
  }

  async #access(token: string, caller: Client): Promise<Looked> {
    const at = await this.#d.accessTokens.inspect(token);
    if (!at) return INACTIVE;
    if (at.clientId !== caller.clientId && !caller.resourceServerFor.includes(at.audience)) return { answer: { active: false }, refused: at.clientId };
    if (!(await this.#d.lineage.check(at)).stands) return INACTIVE;
    return {
      answer: {
        ...this.#active(at, at.cnf?.jkt === undefined ? 'Bearer' : 'DPoP', at.expiresAt, at.issuedAt),
        jti: at.jti,
        ...(at.act ? { act: at.act } : {}),
        ...(at.cnf ? { cnf: at.cnf } : {}),
      },
    };
  }

  /** The RFC 7662 members every active answer has. */
  #active(
    grant: { scopes: readonly string[]; clientId: string; principal: string; audience: string },
    tokenType: string,
    expiresAt: number,
    issuedAt: number,
  ): IntrospectionResponse & { active: true } {
    return {
      active: true,
      scope: grant.scopes.join(' '),
      client_id: grant.clientId,
      sub: grant.principal,
      aud: grant.audience,
      iss: this.#d.issuer(),
      exp: Math.floor(expiresAt / 1000),
      iat: Math.floor(issuedAt / 1000),
      token_type: tokenType,
    };
  }

  async #refresh(token: string, callerId: string): Promise<Looked> {
    const found = await this.#d.refreshTokens.find(token);
    const now = this.#d.ctx.now().getTime();
    if (!found) return INACTIVE;
    const { grant, token: t } = found;
    if (!isLive(REFRESH_FAMILY_LIFECYCLE, grant.status) || !isLive(REFRESH_TOKEN_LIFECYCLE, t.status) || t.expiresAt <= now || t.generation !== grant.generation) return INACTIVE;
    if (grant.clientId !== callerId) return { answer: { active: false }, refused: grant.clientId };
    if (!(await this.#d.lineage.authorized(grant.clientId, grant.principal))) return INACTIVE;
    return { answer: this.#active(grant, 'refresh_token', t.expiresAt, t.createdAt) };
  }

  /**
   * RFC 7009. Unknown or already-invalid tokens answer 200 all the same (§2.2). A token of another
   * client is refused with `unauthorized_client` (§2.1). Revoking a refresh token revokes its grant
   * and the grant's access tokens.
   */
  async revoke(req: TokenOpsRequest): Promise<void> {
    const caller = await this.#d.authenticator.authenticate({ authorization: req.authorization, form: req.form, audiences: [this.#d.issuer(), req.endpoint], tls: req.tls }, req.meta);
    const token = req.form.token;
    if (!token) throw new KeyturnError('ERR_VALIDATION', 'token is required');
    // Both kinds are looked for whatever `token_type_hint` says (§2.1: it is only a hint).
    const meta = { ...req.meta, actor: caller.principal, actorKind: 'service' as const };
    const refresh = await this.#d.refreshTokens.find(token);
    if (refresh) {
      if (refresh.grant.clientId !== caller.clientId) throw new KeyturnError('ERR_UNAUTHORIZED_CLIENT', 'the token was not issued to this client');
      try {
        await this.#d.refreshTokens.revokeGrant(refresh.grant.id, { stored: 'revoked by client (RFC 7009)', audited: 'client revocation' }, meta);
      } catch (err) {
        // Deleted meanwhile (with its client): an unknown token answers 200 all the same (§2.2).
        if (!(err instanceof KeyturnError && err.code === 'ERR_NOT_FOUND')) throw err;
      }
      return;
    }
    const at = await this.#d.accessTokens.inspect(token);
    if (at) {
      if (at.clientId !== caller.clientId) throw new KeyturnError('ERR_UNAUTHORIZED_CLIENT', 'the token was not issued to this client');
      await this.#d.store.transaction(async (tx) => {
        if (await this.#d.accessTokens.revoke(tx, at.jti)) {
          await appendEvent(tx, this.#d.ctx, { type: 'token.revoked', target: at.jti, outcome: 'success', data: { client: caller.clientId, format: at.format } }, meta);
        }
      });
    }
  }
}
