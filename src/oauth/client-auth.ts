import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import { FailureLog, type RequestMeta } from '../audit/index.js';
import { CLIENT_LIFECYCLE, isLive, PRINCIPAL_LIFECYCLE } from '../core/lifecycle.js';
import type { Context } from '../core/context.js';
import { KeyturnError } from '../core/errors.js';
import { isUniqueViolation, type Store } from '../store/port.js';
import { checkClientCertificate, type TlsClientAuthMetadata } from '../binding/index.js';
import type { TlsChannel } from '../core/channel.js';
import type { AuthMethod, Client, ClientService } from './clients.js';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/**
 * Algorithms accepted on client assertions: asymmetric only; never `none`, never HMAC. `Ed25519`
 * is the fully-specified name (RFC 9864) that oauth4webapi and openid-client put on Ed25519 keys.
 */
export const ASSERTION_ALGS = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA', 'Ed25519'] as const;
/** Longest lifetime of a client assertion we accept (RFC 7523 §3: the AS may limit it). */
const MAX_ASSERTION_LIFETIME_S = 300;

export interface ClientCredentials {
  /** The `Authorization` header, if any. */
  readonly authorization: string | undefined;
  readonly form: Readonly<Record<string, string>>;
  /** Audiences a client assertion may name: the issuer and this endpoint's URL. */
  readonly audiences: readonly string[];
  /** The TLS connection the request came on (RFC 8705 client certificate), absent on plain HTTP. */
  readonly tls?: TlsChannel | undefined;
}

function invalidClient(message: string): KeyturnError {
  return new KeyturnError('ERR_INVALID_CLIENT', message);
}

/** RFC 6749 §2.3.1: client id and secret are form-urlencoded, then Basic-encoded. */
export function parseBasic(header: string): { clientId: string; secret: string } {
  const match = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header);
  if (!match) throw invalidClient('malformed Basic authorization');
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw invalidClient('malformed Basic authorization');
  try {
    const unform = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { clientId: unform(decoded.slice(0, colon)), secret: unform(decoded.slice(colon + 1)) };
  } catch {
    throw invalidClient('malformed Basic authorization');
  }
}

/**
 * The client's registered JWKS as assertion verification keys. An Ed25519 key registered with
 * `alg: EdDSA` also verifies `alg: Ed25519` (RFC 9864's name for the same algorithm on that key,
 * which oauth4webapi and openid-client write), and the other way round: the `alg` member is
 * dropped from such keys. {@link ASSERTION_ALGS} still limits the algorithms.
 */
function assertionKeys(jwks: { keys: Record<string, unknown>[] }): { keys: JWK[] } {
  return {
    keys: jwks.keys.map((k) => {
      if (k.kty === 'OKP' && k.crv === 'Ed25519' && (k.alg === 'EdDSA' || k.alg === 'Ed25519')) {
        const { alg: _alg, ...rest } = k;
        void _alg;
        return rest as JWK;
      }
      return k as JWK;
    }),
  };
}

/**
 * Client authentication at the token, introspection and revocation endpoints:
 * `client_secret_basic`, `client_secret_post` (either, for secret clients) and `private_key_jwt`
 * (RFC 7523: asymmetric algorithms only, `iss` = `sub` = client id, our audience, short-lived,
 * `jti` never accepted twice). Exactly one method per request. Every failure is `invalid_client`
 * and is recorded as a `client.auth_failed` event through `failures` (aggregated: the first of a
 * burst in full, the rest in a summary). The claimed client id is the target only when it names a
 * registered client; otherwise it is recorded sanitised and bounded, as `data.claimed`.
 */
/** Where successful client-secret authentications are counted (the audit usage log). */
export interface ClientUsageCounter {
  note(credential: string, address: string | null | undefined, kind: 'client_secret'): void;
}

export class ClientAuthenticator {
  readonly #clients: ClientService;
  readonly #store: Store;
  readonly #ctx: Context;
  readonly #failures: FailureLog;
  readonly #usage: ClientUsageCounter | undefined;

  /** `usage`: where successful secret authentications are counted per client (in memory; written per interval). */
  constructor(clients: ClientService, store: Store, ctx: Context, failures?: FailureLog, usage?: ClientUsageCounter) {
    this.#clients = clients;
    this.#store = store;
    this.#ctx = ctx;
    this.#failures = failures ?? new FailureLog({ store, ctx });
    this.#usage = usage;
  }

  /** Where failures at the client-authenticated endpoints are recorded, aggregated. */
  get failures(): FailureLog {
    return this.#failures;
  }

  async authenticate(creds: ClientCredentials, meta: RequestMeta): Promise<Client> {
    let claimedId: string | null = null;
    try {
      const { method, clientId, client } = await this.#authenticate(creds, (id) => (claimedId = id));
      if (!isLive(CLIENT_LIFECYCLE, client.status)) throw invalidClient('client is disabled');
      if (!isLive(PRINCIPAL_LIFECYCLE, client.principalStatus)) throw invalidClient(`the client's principal is ${client.principalStatus}`);
      const allowed: readonly AuthMethod[] =
        client.authMethod === 'client_secret_basic' || client.authMethod === 'client_secret_post' ? ['client_secret_basic', 'client_secret_post'] : [client.authMethod];
      if (!allowed.includes(method)) throw invalidClient(`client ${clientId} does not authenticate with ${method}`);
      if (method === 'client_secret_basic' || method === 'client_secret_post') this.#usage?.note(client.clientId, meta.sourceIp, 'client_secret');
      return client;
    } catch (err) {
      if (err instanceof KeyturnError && err.code === 'ERR_INVALID_CLIENT') {
        const claimed: string | null = claimedId;
        // Only an id that names a registered client becomes the target; `find` refuses over-long ids without a read.
        const known = claimed === null ? undefined : await this.#clients.find(claimed);
        await this.#failures.record({ type: 'client.auth_failed', target: known ? known.clientId : null, outcome: 'failure', reason: err.message, data: {} }, meta, known ? null : claimed);
      }
      throw err;
    }
  }

  async #authenticate(
    creds: ClientCredentials,
    claim: (clientId: string) => void,
  ): Promise<{ method: AuthMethod; clientId: string; client: Client }> {
    const { form, authorization } = creds;
    const usesBasic = authorization !== undefined && /^Basic /i.test(authorization);
    const usesPost = form.client_secret !== undefined;
    const usesJwt = form.client_assertion !== undefined || form.client_assertion_type !== undefined;
    if (Number(usesBasic) + Number(usesPost) + Number(usesJwt) > 1) throw invalidClient('use exactly one client authentication method');
    if (usesBasic) {
      const { clientId, secret } = parseBasic(authorization!);
      claim(clientId);
      if (form.client_id !== undefined && form.client_id !== clientId) throw invalidClient('client_id does not match the credentials');
      const client = await this.#clients.checkSecret(clientId, secret);
      if (!client) throw invalidClient('unknown client or wrong secret');
      return { method: 'client_secret_basic', clientId, client };
    }
    if (usesPost) {
      const clientId = form.client_id;
      if (!clientId) throw invalidClient('client_id is required with client_secret');
      claim(clientId);
      const client = await this.#clients.checkSecret(clientId, form.client_secret!);
      if (!client) throw invalidClient('unknown client or wrong secret');
      return { method: 'client_secret_post', clientId, client };
    }
    if (usesJwt) return this.#assertion(creds, claim);
    if (form.client_id !== undefined) return this.#certificate(creds, form.client_id, claim);
    throw invalidClient('client authentication required');
  }

  /**
   * RFC 8705 §2: only `client_id` in the form; the connection's certificate authenticates a
   * `tls_client_auth` client (chains to the client CA, registered subject DN or SAN) or a
   * `self_signed_tls_client_auth` client (registered thumbprint).
   */
  async #certificate(creds: ClientCredentials, clientId: string, claim: (clientId: string) => void): Promise<{ method: AuthMethod; clientId: string; client: Client }> {
    claim(clientId);
    const client = await this.#clients.find(clientId);
    if (!client) throw invalidClient('unknown client');
    const method = client.authMethod;
    if (method !== 'tls_client_auth' && method !== 'self_signed_tls_client_auth') throw invalidClient('client authentication required');
    const failure = checkClientCertificate(method, creds.tls, client.tlsClientAuth as TlsClientAuthMetadata | null, client.jwks);
    if (failure !== null) throw invalidClient(`${method}: ${failure}`);
    return { method, clientId, client };
  }

  async #assertion(creds: ClientCredentials, claim: (clientId: string) => void): Promise<{ method: AuthMethod; clientId: string; client: Client }> {
    const { form } = creds;
    if (form.client_assertion_type !== CLIENT_ASSERTION_TYPE) throw invalidClient(`client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`);
    const assertion = form.client_assertion;
    if (!assertion || assertion.length > 8192) throw invalidClient('client_assertion is missing or too large');
    let unverifiedIss: unknown;
    try {
      decodeProtectedHeader(assertion);
      unverifiedIss = JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString('utf8')).iss;
    } catch {
      throw invalidClient('client_assertion is not a JWT');
    }
    const clientId = form.client_id ?? (typeof unverifiedIss === 'string' ? unverifiedIss : undefined);
    if (!clientId) throw invalidClient('cannot tell which client the assertion is for');
    claim(clientId);
    if (form.client_id !== undefined && unverifiedIss !== form.client_id) throw invalidClient('client_id does not match the assertion');
    const client = await this.#clients.find(clientId);
    if (!client || !client.jwks) throw invalidClient('unknown client or client without registered keys');
    const now = this.#ctx.now();
    let payload;
    try {
      ({ payload } = await jwtVerify(assertion, createLocalJWKSet(assertionKeys(client.jwks)), {
        algorithms: [...ASSERTION_ALGS],
        issuer: clientId,
        subject: clientId,
        audience: [...creds.audiences],
        requiredClaims: ['exp', 'jti'],
        currentDate: now,
        clockTolerance: 30,
      }));
    } catch (err) {
      throw invalidClient(`client_assertion rejected: ${(err as { code?: string }).code ?? 'invalid'}`);
    }
    const exp = payload.exp! * 1000;
    const iat = typeof payload.iat === 'number' ? payload.iat * 1000 : now.getTime();
    if (exp - Math.min(iat, now.getTime()) > MAX_ASSERTION_LIFETIME_S * 1000 + 30_000) throw invalidClient('client_assertion lives too long (max 5 minutes)');
    try {
      await this.#store.transaction(async (tx) => {
        await tx.run('DELETE FROM oauth_assertion_jtis WHERE expires_at < ?', [now.getTime() - 60_000]);
        await tx.run('INSERT INTO oauth_assertion_jtis (client_id, jti, expires_at) VALUES (?, ?, ?)', [clientId, String(payload.jti).slice(0, 256), exp]);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw invalidClient('client_assertion was already used (jti replay)');
      throw err;
    }
    return { method: 'private_key_jwt', clientId, client };
  }
}
