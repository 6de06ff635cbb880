import { appendEvent, type RequestMeta } from '../audit/index.js';
import type { TlsChannel } from '../core/channel.js';
import { tlsTokenBinding } from '../binding/index.js';
import { KeyturnError } from '../core/errors.js';
import type { Store } from '../store/port.js';
import type { AccessTokenService, PreparedAccessToken } from './access-tokens.js';
import type { ClientAuthenticator } from './client-auth.js';
import type { Client } from './clients.js';
import { decideClientCredentials, persistClientCredentials, type ClientCredentialsDecision } from './grants/client-credentials.js';
import type { AccessTokenSpec, GrantDeps, TokenResponse } from './grants/decision.js';
import { decideRefresh, persistRefresh, type RefreshDecision } from './grants/refresh-token.js';
import { decideTokenExchange, persistTokenExchange, TOKEN_EXCHANGE, type TokenExchangeDecision } from './grants/token-exchange.js';

export type { TokenResponse } from './grants/decision.js';

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

export interface TokenEndpointDeps extends GrantDeps {
  readonly store: Store;
  readonly issuer: () => string;
  readonly authenticator: ClientAuthenticator;
}

/** What one grant type decided: what to issue, for whom, which scopes and audience, what to persist. */
export type GrantDecision = ClientCredentialsDecision | RefreshDecision | TokenExchangeDecision;

/** How an access token is bound to its holder: the RFC 7800 `cnf` claim, if any. */
export interface TokenBinding {
  /** `jkt` (DPoP, RFC 9449), `x5t#S256` (mTLS, RFC 8705), or a TLS-exporter digest. */
  readonly cnf?: Record<string, string> | undefined;
}

const UNBOUND: TokenBinding = Object.freeze({});

/**
 * A client-supplied value made fit for `error_description`, whose characters RFC 6749 §5.2
 * limits to %x20-21 / %x23-5B / %x5D-7E: anything else becomes `?`.
 */
export function descriptionSafe(value: string): string {
  return value.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '?');
}

/**
 * Step 1, parse: the form is parsed at the edge (repeated parameters refused there); what is
 * left is the grant type, which must be present before the client is even authenticated.
 */
export function parseGrantType(form: Readonly<Record<string, string>>): string {
  const grantType = form.grant_type;
  if (!grantType) throw new KeyturnError('ERR_VALIDATION', 'grant_type is required');
  return grantType;
}

/**
 * Step 2, authenticate the client (RFC 6749 §2.3, RFC 7523): by secret or assertion, whose
 * audience may be the issuer or this endpoint. Every failure is `invalid_client`, audited.
 */
export function authenticateClient(deps: Pick<TokenEndpointDeps, 'authenticator' | 'issuer'>, req: TokenRequest): Promise<Client> {
  return deps.authenticator.authenticate({ authorization: req.authorization, form: req.form, audiences: [deps.issuer(), req.endpoint], tls: req.tls }, req.meta);
}

/**
 * Step 3, the per-grant decision (`grants/`): what to issue and persist, decided before any
 * transaction opens. `client_credentials` decides without I/O, so it is answered synchronously
 * (the benchmarked path awaits nothing here).
 */
export function decide(deps: GrantDeps, grantType: string, client: Client, form: Readonly<Record<string, string>>): GrantDecision | Promise<GrantDecision> {
  switch (grantType) {
    case 'client_credentials':
      return decideClientCredentials(client, form);
    case 'refresh_token':
      return decideRefresh(deps, client, form);
    case TOKEN_EXCHANGE:
      return decideTokenExchange(deps, client, form);
    default:
      throw new KeyturnError('ERR_UNSUPPORTED_GRANT_TYPE', `unsupported grant_type ${descriptionSafe(grantType.slice(0, 80))}`);
  }
}

/**
 * Step 4, binding: what ties the token to its holder, from the request's `DPoP` header and TLS
 * channel. Empty today (every token is a bearer token); the binding capability fills it.
 */
export function bind(request: Pick<TokenRequest, 'dpop' | 'tls'> & { form?: Readonly<Record<string, string>> }, decision: GrantDecision): TokenBinding {
  return bindTls(request, decision) ?? UNBOUND;
}

/**
 * The TLS part of {@link bind} (`src/binding/tls-session.ts`): certificate-bound (RFC 8705) and
 * TLS-session-bound tokens. A request that asks for a binding it cannot have is refused
 * (`invalid_request`), never answered with a weaker token.
 */
export function bindTls(request: Pick<TokenRequest, 'tls'> & { form?: Readonly<Record<string, string>> }, decision: GrantDecision): TokenBinding | undefined {
  const bound = tlsTokenBinding(request.tls, request.form ?? {}, decision.client.certificateBoundAccessTokens);
  if (bound === undefined) return undefined;
  if ('refusal' in bound) {
    const { kind, failure } = bound.refusal;
    throw new KeyturnError('ERR_VALIDATION', TLS_REFUSALS[failure] ?? `${kind} binding refused: ${failure}`, { details: { binding: kind, failure } });
  }
  // `cnf` travels in the JWT only: an opaque token would silently become a bearer token.
  if (decision.issue?.options.format === 'opaque') {
    throw new KeyturnError('ERR_VALIDATION', "certificate- and TLS-session-bound tokens are JWTs: this client's policy issues opaque access tokens", {
      details: { binding: 'cnf' in bound && bound.cnf['x5t#S256'] !== undefined ? 'mtls' : 'tls-session', failure: 'opaque_format' },
    });
  }
  return { cnf: bound.cnf };
}

const TLS_REFUSALS: Readonly<Record<string, string>> = {
  missing_certificate: 'this client\'s tokens are bound to its TLS client certificate: present one',
  not_tls: 'a TLS-session-bound token needs a TLS connection',
  tls_version: 'a TLS-session-bound token needs TLS 1.3 (RFC 9266 tls-exporter)',
  middlebox: 'tls_exporter does not match this connection: something terminates TLS between the client and keyturn',
};

/**
 * Step 5, sign (JWT, on libuv's thread pool) or generate (opaque) the decided access token,
 * outside any store transaction: on SQLite an open transaction holds the one writer.
 */
export function sign(accessTokens: Pick<AccessTokenService, 'prepare'>, issue: AccessTokenSpec, binding: TokenBinding): Promise<PreparedAccessToken> {
  return accessTokens.prepare(binding.cnf === undefined ? issue.grant : { ...issue.grant, cnf: binding.cnf }, issue.options);
}

/**
 * Step 6, persist and audit in one transaction: the grant's own writes (refresh family started
 * or rotated), the access token's row and one event. A refusal decided inside (a refresh token
 * reused, a principal no longer active) commits what it revoked, then throws.
 */
export async function persist(
  deps: Pick<TokenEndpointDeps, 'store' | 'ctx' | 'accessTokens' | 'refreshTokens' | 'principals' | 'lineage'>,
  decision: GrantDecision,
  signed: PreparedAccessToken | null,
  meta: RequestMeta,
): Promise<TokenResponse> {
  const out = await deps.store.transaction((tx) => {
    switch (decision.grantType) {
      case 'client_credentials':
        return persistClientCredentials(tx, deps, decision, signed!, meta);
      case 'refresh_token':
        return persistRefresh(tx, deps, decision, signed, meta);
      case TOKEN_EXCHANGE:
        return persistTokenExchange(tx, deps, decision, signed!, meta);
    }
  });
  if (out instanceof KeyturnError) throw out;
  return out;
}

/**
 * The token endpoint (RFC 6749 §3.2) as ordered steps, each exported above and tested alone:
 * {@link parseGrantType} → {@link authenticateClient} → {@link decide} (`grants/client-credentials`,
 * `grants/refresh-token`, `grants/token-exchange`) → {@link bind} → {@link sign} (outside the
 * transaction) → {@link persist} (with the audit event). A failure after authentication is audited
 * as `token.request_failed`.
 */
export class TokenEndpoint {
  readonly #d: TokenEndpointDeps;

  constructor(deps: TokenEndpointDeps) {
    this.#d = deps;
  }

  async handle(req: TokenRequest): Promise<TokenResponse> {
    const grantType = parseGrantType(req.form);
    const client = await authenticateClient(this.#d, req);
    const meta: RequestMeta = { ...req.meta, actor: client.principal, actorKind: 'service' };
    try {
      const decided = decide(this.#d, grantType, client, req.form);
      const decision = decided instanceof Promise ? await decided : decided;
      const signed = decision.issue === null ? null : await sign(this.#d.accessTokens, decision.issue, bind(req, decision));
      return await persist(this.#d, decision, signed, meta);
    } catch (err) {
      if (err instanceof KeyturnError) await this.#failed(client, grantType, err, meta);
      if (err instanceof KeyturnError && typeof err.details?.binding === 'string') {
        await this.#d.authenticator.failures.record(
          { type: 'binding.tls_failed', target: client.clientId, outcome: 'failure', reason: String(err.details.failure), data: { binding: err.details.binding as 'mtls' | 'tls-session', at: 'token' } },
          meta,
        );
      }
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
}
