import { appendEvent, type RequestMeta } from '../audit/index.js';
import type { DpopService } from '../binding/index.js';
import { timingSafeEqual } from 'node:crypto';
import { channelExporterDigest, channelThumbprint, CNF_TLS_EXPORTER, CNF_X5T, type TlsChannel } from '../core/channel.js';
import { checkKeyBinding, RELAYED_SESSION_PARAM, relayedSessionCnf, tlsTokenBinding, type SessionFailure } from '../binding/index.js';
import { KeyturnError } from '../core/errors.js';
import { satisfiesBinding, type Policy } from '../core/policy.js';
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
  /** Every `DPoP` header value, when the edge saw more than one (a proof is refused then, RFC 9449 §4.3). */
  readonly dpopProofs?: readonly string[] | undefined;
  /** The TLS connection the request came on, for certificate and channel binding; absent on plain HTTP. */
  readonly tls?: TlsChannel | undefined;
}

export interface TokenEndpointDeps extends GrantDeps {
  readonly store: Store;
  readonly issuer: () => string;
  readonly authenticator: ClientAuthenticator;
  /** DPoP proof checking, nonces and the replay store (the binding capability); without it a DPoP header is refused. */
  readonly dpop?: DpopService | undefined;
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

/** The `DPoP` header values of a request: none, one, or several (each refused by the proof check). */
export function dpopProofs(request: Pick<TokenRequest, 'dpop' | 'dpopProofs'>): readonly string[] {
  if (request.dpopProofs !== undefined) return request.dpopProofs;
  return request.dpop === undefined ? [] : [request.dpop];
}

/**
 * The DPoP key a request must prove it holds: a DPoP-bound refresh token's, or a DPoP-bound
 * subject token's in an exchange (a stolen bound token cannot be exchanged for an unbound one).
 * A subject bound to a certificate or TLS session must be exchanged on that connection, an API key
 * bound to networks or a certificate from them; one bound in a way this step cannot check is
 * refused (fail closed).
 */
function boundKey(decision: GrantDecision, tls: TlsChannel | undefined, meta: RequestMeta): string | undefined {
  if (decision.grantType === 'refresh_token') return decision.grant.jkt ?? undefined;
  if (decision.grantType !== TOKEN_EXCHANGE) return undefined;
  if (decision.subject.keyBinding !== undefined) {
    const failure = checkKeyBinding(decision.subject.keyBinding, { address: meta.sourceIp, thumbprint: channelThumbprint(tls) });
    if (failure !== null) {
      throw new KeyturnError('ERR_BINDING_REQUIRED', 'subject_token is an API key bound to networks or a certificate this request does not come from', {
        details: { binding: 'api-key', failure, key: decision.subject.id },
      });
    }
  }
  if (decision.subject.cnf === undefined) return undefined;
  const { jkt, ...others } = decision.subject.cnf;
  // A subject bound to a certificate or a TLS session: exchanged only on that connection.
  for (const [member, value] of Object.entries(others)) {
    const seen = member === CNF_X5T ? channelThumbprint(tls) : member === CNF_TLS_EXPORTER ? channelExporterDigest(tls) : undefined;
    if (seen === undefined || !sameDigest(seen, value)) throw new KeyturnError('ERR_BINDING_REQUIRED', 'subject_token is bound in a way this token request cannot prove');
  }
  return jkt;
}

function sameDigest(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/**
 * Step 4, binding: what ties the token to its holder, one `cnf` combining what applies:
 *
 * - `x5t#S256` (RFC 8705) for a client whose tokens are certificate-bound, `tls_exporter#S256` when
 *   the client asks for a TLS-session-bound token ({@link bindTls}; refused when it cannot have it);
 * - `jkt` (RFC 9449) when a `DPoP` proof is checked: when the request carries one, when the
 *   client's policy requires `dpop`, or when the refresh token presented is DPoP-bound (then the
 *   proof must be signed by the same key, RFC 9449 §5).
 *
 * - `tls_exporter#S256` alone when an API server's session endpoint relays the holder's connection
 *   ({@link bindRelayed}).
 *
 * Finally the policy's required binding must be met by that `cnf` (`ERR_BINDING_REQUIRED` otherwise).
 */
export function bind(
  deps: Pick<TokenEndpointDeps, 'dpop'>,
  request: Pick<TokenRequest, 'dpop' | 'dpopProofs' | 'tls' | 'endpoint'> & { form?: Readonly<Record<string, string>> },
  decision: GrantDecision,
  meta: RequestMeta,
): TokenBinding | Promise<TokenBinding> {
  const policy = decision.grantType === 'refresh_token' ? decision.policy : decision.client.policy;
  const proofs = dpopProofs(request);
  const relayed = request.form?.[RELAYED_SESSION_PARAM];
  if (relayed !== undefined) return required(policy.binding, bindRelayed(relayed, request.form ?? {}, decision, proofs.length > 0));
  const boundJkt = boundKey(decision, request.tls, meta);
  const tls = bindTls(request, decision)?.cnf;
  // A bearer (or TLS-bound) token asked for under a policy that allows one: answered without awaiting (the benchmarked path).
  if (proofs.length === 0 && policy.binding !== 'dpop' && boundJkt === undefined) return required(policy.binding, tls);
  return bindDpop(deps, request, decision, proofs, boundJkt, meta).then((cnf) => required(policy.binding, { ...tls, ...cnf }));
}

/**
 * A token exchange relayed by an API server's session endpoint (`keyturn/verifier`'s
 * `createSessionEndpoint`): the token is bound to the TLS 1.3 connection between the holder and
 * that API server, whose exporter digest the endpoint computed and compared with the holder's own
 * ({@link RELAYED_SESSION_PARAM}). keyturn stays the authority (its policy, scopes, lineage, audit
 * and revocation apply) and believes the digest only from the resource server of the token's
 * audience: a connection only it can see, for tokens only it accepts. Refused for anything else,
 * for a DPoP proof (the token is the holder's, not bound to the endpoint's key) and for a
 * sender-constrained subject (its binding cannot be proven here; it is constrained already).
 */
function bindRelayed(digest: string, form: Readonly<Record<string, string>>, decision: GrantDecision, withProof: boolean): Record<string, string> {
  const refuse = (failure: SessionFailure, code: 'ERR_VALIDATION' | 'ERR_UNAUTHORIZED_CLIENT' | 'ERR_BINDING_REQUIRED', message: string) =>
    new KeyturnError(code, message, { details: { binding: 'tls-session', failure } });
  if (decision.grantType !== TOKEN_EXCHANGE) throw refuse('not_exchange', 'ERR_VALIDATION', `${RELAYED_SESSION_PARAM} is for a session endpoint's token exchange (${TOKEN_EXCHANGE})`);
  const session = relayedSessionCnf(digest, form);
  if ('failure' in session) throw refuse(session.failure, 'ERR_VALIDATION', `${RELAYED_SESSION_PARAM}: one base64url SHA-256 digest (43 characters), without tls_exporter`);
  if (!decision.client.resourceServerFor.includes(decision.issue.grant.audience)) {
    throw refuse('not_resource_server', 'ERR_UNAUTHORIZED_CLIENT', "only the resource server of the token's audience may relay a holder's connection");
  }
  if (withProof) throw refuse('relayed_dpop', 'ERR_VALIDATION', 'a relayed session token is bound to the holder\'s connection: send no DPoP proof');
  if (decision.subject.cnf !== undefined || decision.subject.keyBinding !== undefined) {
    throw refuse('bound_subject', 'ERR_BINDING_REQUIRED', 'subject_token is sender-constrained: a session endpoint exchanges unbound access tokens and API keys');
  }
  return session.cnf;
}

/** The binding `cnf` makes, if it meets what the policy requires; `ERR_BINDING_REQUIRED` otherwise. */
function required(binding: Policy['binding'], cnf: Record<string, string> | undefined): TokenBinding {
  if (!satisfiesBinding(binding, cnf)) {
    throw new KeyturnError('ERR_BINDING_REQUIRED', `the client's policy requires a ${binding === 'any' ? 'bound' : binding} token, which this request cannot provide`);
  }
  return cnf === undefined ? UNBOUND : { cnf };
}

/** Checks the request's DPoP proof (audited when refused); the token's `cnf` on success. */
async function bindDpop(
  deps: Pick<TokenEndpointDeps, 'dpop'>,
  request: Pick<TokenRequest, 'tls' | 'endpoint'>,
  decision: GrantDecision,
  proofs: readonly string[],
  boundJkt: string | undefined,
  meta: RequestMeta,
): Promise<Record<string, string>> {
  const dpop = deps.dpop;
  if (dpop === undefined) throw new KeyturnError('ERR_INVALID_DPOP_PROOF', 'DPoP is not enabled on this server');
  // A refusal for a DPoP-bound refresh token names the family (the stolen credential), with its
  // client in the event's data: the binding_mismatch response revokes that family, not the client.
  const family = decision.grantType === 'refresh_token' && boundJkt !== undefined ? decision.grant.id : undefined;
  const audit = family === undefined ? { target: decision.client.clientId, grantType: decision.grantType, meta } : { target: family, client: decision.client.clientId, grantType: decision.grantType, meta };
  if (proofs.length === 0) await dpop.missing(audit);
  const proof = await dpop.check({ proofs, method: 'POST', url: request.endpoint, tls: request.tls, boundJkt }, audit);
  return { jkt: proof.jkt };
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
  // An opaque token carries its `cnf` in its row (recorded with it, migration 0191): introspection
  // answers it and the verifier's introspection mode checks it, exactly as for a JWT's claim.
  return { cnf: bound.cnf };
}

const TLS_REFUSALS: Readonly<Record<string, string>> = {
  missing_certificate: 'this client\'s tokens are bound to its TLS client certificate: present one',
  not_tls: 'a TLS-session-bound token needs a TLS connection',
  tls_version: 'a TLS-session-bound token needs TLS 1.3 (RFC 9266 tls-exporter)',
  middlebox: 'tls_exporter does not match this connection: something terminates TLS between the client and keyturn',
};

/**
 * Step 5, sign (JWT, on the signing thread) or generate (opaque) the decided access token,
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
      const bound = bind(this.#d, req, decision, meta);
      const binding = bound instanceof Promise ? await bound : bound;
      const signed = decision.issue === null ? null : await sign(this.#d.accessTokens, decision.issue, binding);
      const answer = await persist(this.#d, decision, signed, meta);
      // RFC 9449 §5: a DPoP-bound access token is of type DPoP.
      return binding.cnf?.jkt === undefined ? answer : { ...answer, token_type: 'DPoP' };
    } catch (err) {
      // DPoP refusals have their own, aggregated event (binding.dpop_failed); the nonce handshake none.
      if (err instanceof KeyturnError && err.code !== 'ERR_INVALID_DPOP_PROOF' && err.code !== 'ERR_USE_DPOP_NONCE') await this.#failed(client, grantType, err, meta);
      if (err instanceof KeyturnError && typeof err.details?.binding === 'string') {
        // A bound API key given as a subject from the wrong place names the key (the credential
        // refused, which the binding_mismatch response suspends), its presenting client in data.
        const key = typeof err.details.key === 'string' ? err.details.key : undefined;
        await this.#d.authenticator.failures.record(
          {
            type: 'binding.tls_failed',
            target: key ?? client.clientId,
            outcome: 'failure',
            reason: String(err.details.failure),
            data: { binding: err.details.binding as 'mtls' | 'tls-session' | 'api-key', at: 'token', ...(key === undefined ? {} : { client: client.clientId }) },
          },
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
