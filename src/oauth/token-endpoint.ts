import type { TlsChannel } from '../core/channel.js';
import { appendEvent, type RequestMeta } from '../audit/events.js';
import type { Context } from '../core/context.js';
import { KeyturnError } from '../core/errors.js';
import { tryParseSecret } from '../core/secret.js';
import type { KeyService } from '../keys/service.js';
import type { PrincipalService } from '../principals/service.js';
import type { Store, Transaction } from '../store/port.js';
import type { AccessTokenService, ActiveAccessToken } from './access-tokens.js';
import type { ClientAuthenticator } from './client-auth.js';
import type { Client, GrantType } from './clients.js';
import type { RefreshTokenService } from './refresh-tokens.js';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TOKEN_TYPE_ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
/** keyturn's own token type URI for API keys as RFC 8693 subject tokens. */
export const TOKEN_TYPE_API_KEY = 'urn:keyturn:params:oauth:token-type:api_key';

/** A successful token response (RFC 6749 §5.1, RFC 8693 §2.2.1). */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  refresh_token?: string;
  issued_token_type?: string;
}

/** What the edge hands the token endpoint: the parsed form, the header, where the request came from. */
export interface TokenRequest {
  readonly form: Readonly<Record<string, string>>;
  readonly authorization: string | undefined;
  /** The token endpoint URL (a client assertion may name it as audience). */
  readonly endpoint: string;
  readonly meta: RequestMeta;
  /** The raw `DPoP` header (RFC 9449), for the binding step; absent when the request had none. */
  readonly dpop?: string | undefined;
  /** The TLS connection the request came on, for certificate and channel binding; absent on plain HTTP. */
  readonly tls?: TlsChannel | undefined;
}

export interface TokenEndpointDeps {
  readonly store: Store;
  readonly ctx: Context;
  readonly issuer: () => string;
  readonly authenticator: ClientAuthenticator;
  readonly accessTokens: AccessTokenService;
  readonly refreshTokens: RefreshTokenService;
  readonly principals: PrincipalService;
  readonly keys: KeyService;
}

/**
 * A client-supplied value made fit for `error_description`, whose characters RFC 6749 §5.2
 * limits to %x20-21 / %x23-5B / %x5D-7E: anything else becomes `?`.
 */
export function descriptionSafe(value: string): string {
  return value.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '?');
}

/** RFC 6749 §3.3: space-delimited scope tokens; `undefined` when absent. */
export function parseScope(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const scopes = value.split(' ').filter((s) => s.length > 0);
  if (scopes.some((s) => !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s)) || scopes.length > 64) {
    throw new KeyturnError('ERR_INVALID_SCOPE', 'scope: space-separated scope tokens (RFC 6749 section 3.3)');
  }
  return [...new Set(scopes)];
}

/**
 * Scopes to grant: the requested ones when all are within `allowed`, or all of `allowed` when
 * none were requested. Anything outside `allowed` is `invalid_scope`.
 */
export function grantScopes(requested: string[] | undefined, allowed: readonly string[]): string[] {
  if (requested === undefined) return [...allowed];
  const outside = requested.filter((s) => !allowed.includes(s));
  if (outside.length > 0) throw new KeyturnError('ERR_INVALID_SCOPE', `scope not allowed: ${outside.slice(0, 5).join(' ')}`);
  return requested;
}

/**
 * The audience of the token: the `resource` (RFC 8707, an absolute URI without fragment) or
 * `audience` (RFC 8693) when given — it must be one of the client's — else the client's first.
 */
export function resolveAudience(form: Readonly<Record<string, string>>, client: Pick<Client, 'audiences'>): string {
  if (form.resource !== undefined && form.audience !== undefined && form.resource !== form.audience) {
    throw new KeyturnError('ERR_INVALID_TARGET', 'give resource or audience, not two different ones');
  }
  const wanted = form.resource ?? form.audience;
  if (form.resource !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(form.resource);
    } catch {
      url = undefined;
    }
    if (!url || form.resource.includes('#')) throw new KeyturnError('ERR_INVALID_TARGET', 'resource must be an absolute URI without a fragment');
  }
  if (wanted === undefined) return client.audiences[0]!;
  if (!client.audiences.includes(wanted)) throw new KeyturnError('ERR_INVALID_TARGET', 'this client may not request tokens for that audience');
  return wanted;
}

/** The client must be allowed `grantType`, else `unauthorized_client`. */
export function requireGrantType(client: Pick<Client, 'grantTypes' | 'clientId'>, grantType: GrantType): void {
  if (!client.grantTypes.includes(grantType)) throw new KeyturnError('ERR_UNAUTHORIZED_CLIENT', `this client may not use grant type ${grantType}`);
}

/**
 * The token endpoint (RFC 6749 §3.2), as ordered steps:
 * parse form (edge, duplicates rejected) → authenticate client → resolve grant → issue → audit.
 * Supports `client_credentials`, `refresh_token` (rotation with reuse detection; authorization
 * re-evaluated at every refresh) and token exchange (RFC 8693).
 */
export class TokenEndpoint {
  readonly #d: TokenEndpointDeps;

  constructor(deps: TokenEndpointDeps) {
    this.#d = deps;
  }

  async handle(req: TokenRequest): Promise<TokenResponse> {
    const grantType = req.form.grant_type;
    if (!grantType) throw new KeyturnError('ERR_VALIDATION', 'grant_type is required');
    const client = await this.#d.authenticator.authenticate(
      { authorization: req.authorization, form: req.form, audiences: [this.#d.issuer(), req.endpoint] },
      req.meta,
    );
    const meta: RequestMeta = { ...req.meta, actor: client.principal, actorKind: 'service' };
    try {
      switch (grantType) {
        case 'client_credentials':
          return await this.clientCredentials(client, req.form, meta);
        case 'refresh_token':
          return await this.refresh(client, req.form, meta);
        case TOKEN_EXCHANGE:
          return await this.exchange(client, req.form, meta);
        default:
          throw new KeyturnError('ERR_UNSUPPORTED_GRANT_TYPE', `unsupported grant_type ${descriptionSafe(grantType.slice(0, 80))}`);
      }
    } catch (err) {
      if (err instanceof KeyturnError) await this.#failed(client, grantType, err, meta);
      throw err;
    }
  }

  async #failed(client: Client, grantType: string, err: KeyturnError, meta: RequestMeta): Promise<void> {
    await this.#d.store.transaction((tx) =>
      appendEvent(
        tx,
        this.#d.ctx,
        { type: 'token.request_failed', target: client.clientId, outcome: 'failure', reason: err.code, data: { grantType: grantType.slice(0, 80), message: err.message } },
        meta,
      ),
    );
  }

  /** RFC 6749 §4.4. A refresh token too when the client lists `refresh_token` and its policy allows. */
  async clientCredentials(client: Client, form: Readonly<Record<string, string>>, meta: RequestMeta): Promise<TokenResponse> {
    requireGrantType(client, 'client_credentials');
    const scopes = grantScopes(parseScope(form.scope), client.scopes);
    const audience = resolveAudience(form, client);
    const policy = client.policy;
    // Signed before the transaction opens: on SQLite an open transaction holds the one writer.
    const prepared = await this.#d.accessTokens.prepare(
      { clientId: client.clientId, principal: client.principal, scopes, audience },
      { ttl: policy.accessTokenTtl, format: policy.accessTokenFormat, alg: client.accessTokenAlg },
    );
    return this.#d.store.transaction(async (tx) => {
      let refreshToken: string | undefined;
      let grantId: string | null = null;
      if (policy.refreshTokens && client.grantTypes.includes('refresh_token')) {
        const started = await this.#d.refreshTokens.start(tx, { clientId: client.clientId, principal: client.principal, scopes, audience }, policy);
        refreshToken = started.refreshToken;
        grantId = started.grant.id;
      }
      const at = await this.#d.accessTokens.record(tx, prepared, grantId);
      await appendEvent(
        tx,
        this.#d.ctx,
        { type: 'token.issued', target: client.clientId, outcome: 'success', data: { grantType: 'client_credentials', jti: at.jti, grant: grantId, scopes, audience } },
        meta,
      );
      return this.#response(at.token, at.expiresIn, scopes, refreshToken);
    });
  }

  /**
   * RFC 6749 §6 with rotation. Authorization is evaluated again: a disabled client fails client
   * authentication; an inactive principal or a revoked grant is `invalid_grant`; scopes come back
   * narrowed to what the client is still allowed (and to `scope`, if asked for less).
   */
  async refresh(client: Client, form: Readonly<Record<string, string>>, meta: RequestMeta): Promise<TokenResponse> {
    requireGrantType(client, 'refresh_token');
    const presented = form.refresh_token;
    if (!presented) throw new KeyturnError('ERR_VALIDATION', 'refresh_token is required');
    const requested = parseScope(form.scope);
    const policy = client.policy;
    if (!policy.refreshTokens) throw new KeyturnError('ERR_INVALID_GRANT', "the client's policy no longer allows refresh tokens");
    const result = await this.#d.store.transaction(async (tx) => {
      const use = await this.#d.refreshTokens.use(tx, presented, client.clientId, policy, meta);
      if (!use.ok) return use;
      const { grant } = use;
      const principal = await this.#d.principals.find(grant.principal, tx);
      if (!principal || principal.status !== 'active') {
        await this.#d.refreshTokens.revokeGrantIn(tx, grant.id, 'principal inactive');
        return { ok: false as const, reason: 'principal_inactive' as const };
      }
      const stillAllowed = grant.scopes.filter((s) => client.scopes.includes(s));
      if (requested && requested.some((s) => !grant.scopes.includes(s))) {
        throw new KeyturnError('ERR_INVALID_SCOPE', 'a refresh cannot widen the scope of the original grant');
      }
      const scopes = requested ? requested.filter((s) => stillAllowed.includes(s)) : stillAllowed;
      const audience = client.audiences.includes(grant.audience) ? grant.audience : undefined;
      if (!audience) {
        await this.#d.refreshTokens.revokeGrantIn(tx, grant.id, 'audience no longer allowed');
        return { ok: false as const, reason: 'audience' as const };
      }
      const at = await this.#d.accessTokens.issue(
        tx,
        { clientId: client.clientId, principal: grant.principal, scopes, audience, grantId: grant.id },
        { ttl: policy.accessTokenTtl, format: policy.accessTokenFormat, alg: client.accessTokenAlg },
      );
      await appendEvent(
        tx,
        this.#d.ctx,
        {
          type: 'token.refreshed',
          target: grant.id,
          outcome: 'success',
          data: { client: client.clientId, jti: at.jti, generation: grant.generation, graceReuse: use.graceReuse, scopes, narrowed: scopes.length < grant.scopes.length },
        },
        meta,
      );
      return { ok: true as const, response: this.#response(at.token, at.expiresIn, scopes, use.refreshToken) };
    });
    if (!result.ok) {
      const why: Record<string, string> = {
        unknown: 'refresh token is invalid',
        expired: 'refresh token has expired',
        revoked: 'refresh token was revoked',
        reuse: 'refresh token was already used; the grant is revoked',
        wrong_client: 'refresh token was issued to another client',
        principal_inactive: 'the principal of this grant is no longer active; the grant is revoked',
        audience: 'the audience of this grant is no longer allowed; the grant is revoked',
      };
      throw new KeyturnError('ERR_INVALID_GRANT', why[result.reason] ?? 'invalid refresh token');
    }
    return result.response;
  }

  /**
   * RFC 8693: exchanges a keyturn API key or access token (`subject_token`) for a short-lived,
   * down-scoped access token for one audience. The exchanging client is recorded as actor (`act`).
   */
  async exchange(client: Client, form: Readonly<Record<string, string>>, meta: RequestMeta): Promise<TokenResponse> {
    requireGrantType(client, TOKEN_EXCHANGE);
    const subjectToken = form.subject_token;
    const subjectType = form.subject_token_type;
    if (!subjectToken || !subjectType) throw new KeyturnError('ERR_VALIDATION', 'subject_token and subject_token_type are required');
    if (form.actor_token !== undefined) throw new KeyturnError('ERR_VALIDATION', 'actor_token is not supported: the authenticated client is the actor');
    if (form.requested_token_type !== undefined && form.requested_token_type !== TOKEN_TYPE_ACCESS) {
      throw new KeyturnError('ERR_VALIDATION', `requested_token_type: only ${TOKEN_TYPE_ACCESS}`);
    }
    if (form.resource === undefined && form.audience === undefined) {
      throw new KeyturnError('ERR_INVALID_TARGET', 'token exchange needs the audience (resource or audience) the new token is for');
    }
    const subject = await this.#subject(subjectToken, subjectType);
    const allowed = subject.scopes.filter((s) => client.scopes.includes(s));
    const requested = parseScope(form.scope);
    if (requested?.some((s) => !subject.scopes.includes(s))) throw new KeyturnError('ERR_INVALID_SCOPE', 'scope exceeds the subject token');
    const scopes = grantScopes(requested, allowed);
    if (scopes.length === 0 && subject.scopes.length > 0) throw new KeyturnError('ERR_INVALID_SCOPE', 'no scope of the subject token is allowed for this client');
    const audience = resolveAudience(form, client);
    const now = this.#d.ctx.now().getTime();
    const remaining = subject.expiresAt === null ? Infinity : Math.floor((subject.expiresAt - now) / 1000);
    const ttl = Math.max(1, Math.min(client.policy.exchangeTokenTtl, remaining));
    const act = subject.principal === client.principal ? undefined : { sub: client.principal, client_id: client.clientId };
    const prepared = await this.#d.accessTokens.prepare(
      { clientId: client.clientId, principal: subject.principal, scopes, audience, act },
      { ttl, format: 'jwt', alg: client.accessTokenAlg },
    );
    return this.#d.store.transaction(async (tx: Transaction) => {
      const at = await this.#d.accessTokens.record(tx, prepared, null);
      await appendEvent(
        tx,
        this.#d.ctx,
        { type: 'token.exchanged', target: subject.id, outcome: 'success', data: { client: client.clientId, subjectType: subject.kind, jti: at.jti, scopes, audience } },
        meta,
      );
      return { ...this.#response(at.token, at.expiresIn, scopes), issued_token_type: TOKEN_TYPE_ACCESS };
    });
  }

  async #subject(
    token: string,
    type: string,
  ): Promise<{ kind: 'api_key' | 'access_token'; id: string; principal: string; scopes: readonly string[]; expiresAt: number | null }> {
    if (type !== TOKEN_TYPE_ACCESS && type !== TOKEN_TYPE_API_KEY) {
      throw new KeyturnError('ERR_UNSUPPORTED_TOKEN_TYPE', `subject_token_type: use ${TOKEN_TYPE_ACCESS} or ${TOKEN_TYPE_API_KEY}`);
    }
    const asKey = tryParseSecret(token) ? await this.#d.keys.check(token) : undefined;
    if (asKey?.valid) {
      const k = asKey.key;
      return { kind: 'api_key', id: k.id, principal: k.principal, scopes: k.scopes, expiresAt: k.expiresAt ? Date.parse(k.expiresAt) : null };
    }
    if (type === TOKEN_TYPE_ACCESS) {
      const at: ActiveAccessToken | undefined = await this.#d.accessTokens.inspect(token);
      if (at) return { kind: 'access_token', id: at.jti, principal: at.principal, scopes: at.scopes, expiresAt: at.expiresAt };
    }
    // RFC 8693 §2.2.2: an invalid subject token is invalid_request.
    throw new KeyturnError('ERR_VALIDATION', 'subject_token is invalid, expired or revoked');
  }

  #response(accessToken: string, expiresIn: number, scopes: readonly string[], refreshToken?: string): TokenResponse {
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: expiresIn,
      scope: scopes.join(' '),
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
    };
  }
}
