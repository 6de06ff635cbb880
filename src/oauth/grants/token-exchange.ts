import { appendEvent, type RequestMeta } from '../../audit/index.js';
import type { KeyBinding } from '../../binding/index.js';
import { KeyturnError } from '../../core/errors.js';
import { tryParseSecret } from '../../core/secret.js';
import type { Transaction } from '../../store/port.js';
import type { Actor, PreparedAccessToken } from '../access-tokens.js';
import type { Client } from '../clients.js';
import { MAX_EXCHANGE_DEPTH } from '../lineage.js';
import { tokenResponse, type AccessTokenSpec, type GrantDeps, type TokenResponse } from './decision.js';
import { grantScopes, parseScope, requireGrantType, resolveAudience } from './request.js';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TOKEN_TYPE_ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
/** keyturn's own token type URI for API keys as RFC 8693 subject tokens. */
export const TOKEN_TYPE_API_KEY = 'urn:keyturn:params:oauth:token-type:api_key';

/** The credential a token exchange acts for: a keyturn API key or access token. */
export interface ExchangeSubject {
  readonly kind: 'api_key' | 'access_token';
  readonly id: string;
  readonly principal: string;
  readonly scopes: readonly string[];
  /** Epoch ms, or `null` for a credential that does not expire. */
  readonly expiresAt: number | null;
  /** The subject access token's own actor (it was exchanged before), to nest under the new one. */
  readonly act?: Actor | undefined;
  /** How many exchanges the subject itself is from its root (0: an API key or a directly issued token). */
  readonly depth: number;
  /** The subject access token's binding (RFC 7800): the exchange must prove it holds the key. */
  readonly cnf?: Readonly<Record<string, string>> | undefined;
  /** The subject API key's restriction (source networks, certificate): the exchange request must meet it. */
  readonly keyBinding?: KeyBinding | undefined;
}

/** What a token exchange (RFC 8693) is to issue and persist. */
export interface TokenExchangeDecision {
  readonly grantType: typeof TOKEN_EXCHANGE;
  readonly client: Client;
  /** A short-lived JWT for the subject's principal, down-scoped, for one audience, with the client as `act`. */
  readonly issue: AccessTokenSpec;
  readonly subject: ExchangeSubject;
}

/** RFC 8693 §2.2.2: a subject token that is not valid, or not of the type it was said to be, is `invalid_request`. */
function invalidSubject(message: string): KeyturnError {
  return new KeyturnError('ERR_VALIDATION', message);
}

/**
 * The subject token of an exchange, recognised only as the type `subject_token_type` names: an
 * API key for the API key type, one of our access tokens for the access token type — whose whole
 * exchange chain must still stand (its client enabled, its principals active, every token and
 * key it descends from live). RFC 8693 §2.2.2 `invalid_request` otherwise, including a valid
 * credential of the other type.
 */
export async function exchangeSubject(deps: Pick<GrantDeps, 'keys' | 'accessTokens' | 'lineage'>, token: string, type: string): Promise<ExchangeSubject> {
  if (type !== TOKEN_TYPE_ACCESS && type !== TOKEN_TYPE_API_KEY) {
    throw new KeyturnError('ERR_UNSUPPORTED_TOKEN_TYPE', `subject_token_type: use ${TOKEN_TYPE_ACCESS} or ${TOKEN_TYPE_API_KEY}`);
  }
  const asKey = tryParseSecret(token) ? await deps.keys.check(token) : undefined;
  if (type === TOKEN_TYPE_API_KEY) {
    if (asKey?.valid) {
      const k = asKey.key;
      return { kind: 'api_key', id: k.id, principal: k.principal, scopes: k.scopes, expiresAt: k.expiresAt ? Date.parse(k.expiresAt) : null, depth: 0, ...(k.binding ? { keyBinding: k.binding } : {}) };
    }
    if (asKey === undefined || asKey.reason === 'unknown') {
      if (await deps.accessTokens.inspect(token)) throw invalidSubject(`subject_token is an access token, not of subject_token_type ${TOKEN_TYPE_API_KEY}`);
    }
    throw invalidSubject('subject_token is invalid, expired or revoked');
  }
  if (asKey?.valid) throw invalidSubject(`subject_token is an API key, not of subject_token_type ${TOKEN_TYPE_ACCESS}`);
  const at = await deps.accessTokens.inspect(token);
  const standing = at && (await deps.lineage.check(at));
  if (!at || !standing?.stands) throw invalidSubject('subject_token is invalid, expired or revoked');
  return { kind: 'access_token', id: at.jti, principal: at.principal, scopes: at.scopes, expiresAt: at.expiresAt, act: at.act, depth: standing.depth, ...(at.cnf ? { cnf: at.cnf } : {}) };
}

/**
 * The actor of an exchanged token (RFC 8693 §4.1): the exchanging client, with the subject's own
 * actor nested under it when the subject was itself exchanged; none when a client exchanges a
 * token of its own principal that nobody else acted on.
 */
export function exchangeActor(client: Pick<Client, 'clientId' | 'principal'>, subject: Pick<ExchangeSubject, 'principal' | 'act'>): Actor | undefined {
  if (subject.act) return { sub: client.principal, client_id: client.clientId, act: subject.act };
  return subject.principal === client.principal ? undefined : { sub: client.principal, client_id: client.clientId };
}

/**
 * Decides a token exchange: exchanges a keyturn API key or access token (`subject_token`) for a
 * short-lived, down-scoped access token for one audience, living no longer than the subject. The
 * exchanging client is recorded as actor (`act`) when it acts for another principal.
 */
export async function decideTokenExchange(
  deps: Pick<GrantDeps, 'ctx' | 'keys' | 'accessTokens' | 'lineage'>,
  client: Client,
  form: Readonly<Record<string, string>>,
): Promise<TokenExchangeDecision> {
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
  const subject = await exchangeSubject(deps, subjectToken, subjectType);
  if (subject.depth + 1 > MAX_EXCHANGE_DEPTH) {
    throw new KeyturnError('ERR_VALIDATION', `subject_token was exchanged too often: at most ${MAX_EXCHANGE_DEPTH} exchanges in a row`);
  }
  const allowed = subject.scopes.filter((s) => client.scopes.includes(s));
  const requested = parseScope(form.scope);
  if (requested?.some((s) => !subject.scopes.includes(s))) throw new KeyturnError('ERR_INVALID_SCOPE', 'scope exceeds the subject token');
  const scopes = grantScopes(requested, allowed);
  if (scopes.length === 0 && subject.scopes.length > 0) throw new KeyturnError('ERR_INVALID_SCOPE', 'no scope of the subject token is allowed for this client');
  const audience = resolveAudience(form, client);
  const now = deps.ctx.now().getTime();
  const remaining = subject.expiresAt === null ? Infinity : Math.floor((subject.expiresAt - now) / 1000);
  const ttl = Math.max(1, Math.min(client.policy.exchangeTokenTtl, remaining));
  const act = exchangeActor(client, subject);
  return {
    grantType: TOKEN_EXCHANGE,
    client,
    issue: { grant: { clientId: client.clientId, principal: subject.principal, scopes, audience, act }, options: { ttl, format: 'jwt', alg: client.accessTokenAlg } },
    subject,
  };
}

/**
 * Persists a decided and signed exchange inside `tx`: the access token's row (no grant), its
 * parent in the lineage (the subject, so the token stands or falls with it), and one
 * `token.exchanged` event.
 */
export async function persistTokenExchange(
  tx: Transaction,
  deps: Pick<GrantDeps, 'ctx' | 'accessTokens' | 'lineage'>,
  decision: TokenExchangeDecision,
  signed: PreparedAccessToken,
  meta: RequestMeta,
): Promise<TokenResponse> {
  const { client, subject, issue } = decision;
  const at = await deps.accessTokens.record(tx, signed, null, { exchanged: true });
  await deps.lineage.record(tx, at.jti, { kind: subject.kind, id: subject.id }, subject.depth + 1, at.expiresAt);
  await appendEvent(
    tx,
    deps.ctx,
    {
      type: 'token.exchanged',
      target: subject.id,
      outcome: 'success',
      data: { client: client.clientId, subjectType: subject.kind, jti: at.jti, scopes: issue.grant.scopes, audience: issue.grant.audience },
    },
    meta,
  );
  return { ...tokenResponse(at.token, at.expiresIn, issue.grant.scopes), issued_token_type: TOKEN_TYPE_ACCESS };
}
