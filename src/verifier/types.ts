import type { Presentation } from './tls-binding.js';
/**
 * The shapes the verifier library exposes. Kept apart from the implementation so middleware and
 * callers can name them without pulling anything else in.
 */

import type { DpopRequestFailure, VerifiableRequest, VerifierDpopOptions } from './dpop.js';

/**
 * Why a credential was refused: the codes keyturn's `POST /v1/keys/verify` answers for API keys,
 * and `ERR_INVALID_TOKEN` for an OAuth access token (JWT or opaque) — its {@link TokenFailureReason}
 * says why.
 */
export const VERIFY_FAILURE_CODES = [
  'ERR_SECRET_FORMAT',
  'ERR_KEY_UNKNOWN',
  'ERR_KEY_EXPIRED',
  'ERR_KEY_REVOKED',
  'ERR_KEY_SUSPENDED',
  'ERR_PRINCIPAL_INACTIVE',
  'ERR_BINDING_MISMATCH',
  'ERR_INVALID_TOKEN',
] as const;

/**
 * Why an access token was refused (`ERR_INVALID_TOKEN`), for logs; never sent to the client:
 * - `malformed`: not a well-formed JWS/JWT;
 * - `algorithm`: `alg` not in the allow-list (e.g. `none`, `HS256`), or not the key's algorithm;
 * - `type`: the JWT `typ` is not `at+jwt` (RFC 9068), or introspection says it is not an access token;
 * - `key_unknown`: no key in the JWKS has its `kid` (even after a refetch);
 * - `signature`: the signature does not verify;
 * - `issuer`, `audience`: `iss` / `aud` are not the configured ones;
 * - `expired`, `not_yet_valid`: `exp` / `nbf` (beyond the clock tolerance);
 * - `claims`: a required claim (`sub`, `client_id`, `exp`, `iat`, `jti`) is missing or of the wrong type;
 * - `inactive`: introspection answered `active: false` (unknown, expired or revoked);
 * - `bound`: a sender-constrained token presented without what its binding needs: a token whose
 *   `cnf` claims a DPoP key (`jkt`, RFC 9449) presented as a plain Bearer token (or to `verify`);
 * - `certificate`: a certificate-bound token (`cnf["x5t#S256"]`, RFC 8705) presented on a
 *   connection without that client certificate;
 * - `tls_session`: a TLS-session-bound token (`cnf["tls_exporter#S256"]`) presented on another
 *   connection than the one it was issued on (another socket, a reconnect, through a proxy);
 * - `cnf`: a `cnf` this verifier cannot check — a member other than `jkt`, `x5t#S256` and
 *   `tls_exporter#S256`, a wrong type, an empty `cnf`: refused, fail closed;
 * - `not_bound`: a token that is not DPoP-bound (or an API key) sent with the `DPoP` scheme.
 */
export const TOKEN_FAILURE_REASONS = [
  'malformed',
  'algorithm',
  'type',
  'key_unknown',
  'signature',
  'issuer',
  'audience',
  'expired',
  'not_yet_valid',
  'claims',
  'inactive',
  'bound',
  'certificate',
  'tls_session',
  'cnf',
  'not_bound',
] as const;

/**
 * Why an access token was refused.
 *
 * @example
 * ```ts
 * const r = await verifier.verify(token);
 * if (!r.valid && r.reason === 'expired') log.info('client sent an expired access token');
 * ```
 */
export type TokenFailureReason = (typeof TOKEN_FAILURE_REASONS)[number];

/**
 * A stable code for a refused credential.
 *
 * @example
 * ```ts
 * const result = await verifier.verify(key);
 * if (!result.valid && result.code === 'ERR_KEY_EXPIRED') console.log('ask the client to rotate');
 * ```
 */
export type VerifyFailureCode = (typeof VERIFY_FAILURE_CODES)[number];

/**
 * A credential keyturn vouched for. Frozen: the same object may be handed to many callers.
 *
 * @example
 * ```ts
 * const result = await verifier.verify(key);
 * if (result.valid) console.log(result.keyId, result.principal, result.scopes);
 * ```
 */
export interface VerifiedKey {
  readonly valid: true;
  readonly kind: 'api_key';
  /** Id of the API key, e.g. `key_…` (not secret). */
  readonly keyId: string;
  /** Id of the principal the key acts for. */
  readonly principal: string;
  readonly scopes: readonly string[];
  /** ISO time at which the key stops working, or `null` when it has no expiry. */
  readonly expiresAt: string | null;
  /**
   * Present when the key has a rotation schedule, a deadline or is in its grace after a rotation:
   * `status` `rotating` (a successor exists), `dueAt` (rotation due), `sunset` (when it stops
   * working), `softDeadline` (a deadline it passes without stopping). The middlewares then add
   * `Sunset` (RFC 8594) and `Link: <…>; rel="sunset"` to the response, so the holder hears of it.
   */
  readonly rotation?: KeyRotation;
  /**
   * Where the key may be used from (source networks, a client certificate `x5t#S256`): checked
   * against the request's socket on every use, cached or not; a use from elsewhere is
   * `ERR_BINDING_MISMATCH`.
   */
  readonly binding?: { readonly networks?: readonly string[]; readonly 'x5t#S256'?: string };
}

/** What keyturn says about a key's rotation (all times ISO 8601). */
export interface KeyRotation {
  readonly status: 'active' | 'rotating';
  readonly dueAt: string | null;
  readonly sunset: string | null;
  readonly softDeadline: string | null;
}

/**
 * An OAuth access token keyturn issued and the verifier accepted: a JWT (RFC 9068) checked locally,
 * or an opaque token checked through introspection (RFC 7662). Frozen.
 *
 * @example
 * ```ts
 * const result = await verifier.verify(accessToken);
 * if (result.valid && result.kind !== 'api_key') console.log(result.clientId, result.sub, result.scopes);
 * ```
 */
export interface VerifiedAccessToken {
  readonly valid: true;
  readonly kind: 'jwt' | 'opaque';
  /** `sub`: the principal the token acts for. */
  readonly sub: string;
  /** The same as {@link sub}, so code written for API keys (`credential.principal`) works for every kind. */
  readonly principal: string;
  /** `client_id`: the OAuth client the token was issued to. */
  readonly clientId: string;
  /** `scope`, split on spaces. */
  readonly scopes: readonly string[];
  /** ISO time of `exp`. */
  readonly expiresAt: string;
  /** `jti` (always present in a JWT; `null` when introspection did not give one). */
  readonly tokenId: string | null;
  /** RFC 8693 actor, for a token obtained by token exchange on someone's behalf: the current (outermost) actor only. */
  readonly act?: TokenActor;
  /**
   * Every actor of a nested RFC 8693 §4.1 `act` claim, outermost first: `actors[0]` is {@link act}
   * (who presented the token now), each next one the actor before it (a token exchanged again
   * nests its previous actor). Present exactly when `act` is; at most {@link MAX_ACTORS} long.
   *
   * @example
   * ```ts
   * // edge exchanged the user's key, then downstream exchanged edge's token:
   * result.actors?.map((a) => a.client_id); // ['downstream', 'edge']
   * ```
   */
  readonly actors?: readonly TokenActor[];
  /**
   * RFC 7800 confirmation of a sender-constrained token, every member of which was checked: `jkt`
   * (RFC 9449 §6: the thumbprint of the key its DPoP proof was signed with), `x5t#S256` (RFC 8705
   * §3: the client certificate's thumbprint), `tls_exporter#S256` (the TLS session it was issued on).
   */
  readonly cnf?: TokenConfirmation;
}

/** A token's RFC 7800 `cnf` members this verifier checks (at least one present). Frozen. */
export interface TokenConfirmation {
  readonly jkt?: string;
  readonly 'x5t#S256'?: string;
  readonly 'tls_exporter#S256'?: string;
}

/** One RFC 8693 actor: who acted (`sub`) and, for keyturn's tokens, through which client. Frozen. */
export interface TokenActor {
  readonly sub: string;
  readonly client_id?: string;
}

/** The most nested actors a token may carry; a deeper `act` claim is refused as malformed. */
export const MAX_ACTORS = 16;

/**
 * Whatever the verifier accepted; `kind` tells which.
 *
 * @example
 * ```ts
 * function who(c: VerifiedCredential): string {
 *   return c.kind === 'api_key' ? `key ${c.keyId}` : `client ${c.clientId}`;
 * }
 * ```
 */
export type VerifiedCredential = VerifiedKey | VerifiedAccessToken;

/**
 * A refused credential: a result, not an exception.
 *
 * @example
 * ```ts
 * const result = await verifier.verify('kt_live_bogus');
 * // { valid: false, code: 'ERR_SECRET_FORMAT' }
 * ```
 */
export interface VerifyFailure {
  readonly valid: false;
  readonly code: VerifyFailureCode;
  /** With `ERR_INVALID_TOKEN`: the exact reason, for logs (the middleware never sends it). */
  readonly reason?: TokenFailureReason;
}

/**
 * What {@link Verifier.verify} answers. Only an outage throws (`KeyturnError` `ERR_UPSTREAM`).
 *
 * @example
 * ```ts
 * const result: VerifyResult = await verifier.verify(key);
 * if (!result.valid) return deny(result.code);
 * ```
 */
export type VerifyResult = VerifiedCredential | VerifyFailure;

/**
 * Why a request was refused before or after its credential was checked:
 * - `ERR_UNAUTHENTICATED`: no `Authorization: Bearer` credential at all (RFC 6750 §3.1: no error code);
 * - `ERR_VALIDATION`: a `Bearer` header that is not well formed (`invalid_request`);
 * - the {@link VerifyFailureCode}s: the credential itself was refused (`invalid_token`).
 *
 * @example
 * ```ts
 * const r = await verifier.verifyRequest(req);
 * if (!r.valid && r.code === 'ERR_UNAUTHENTICATED') askForCredentials();
 * ```
 */
export type RequestFailureCode = VerifyFailureCode | 'ERR_UNAUTHENTICATED' | 'ERR_VALIDATION' | DpopRequestFailure['code'];

/**
 * What {@link Verifier.verifyRequest} answers.
 *
 * @example
 * ```ts
 * const r = await verifier.verifyRequest(req, { requiredScopes: ['write'] });
 * if (r.valid) handle(req, r);
 * else if (r.code === 'ERR_INSUFFICIENT_SCOPE') forbid(r.requiredScopes);
 * ```
 */
export type RequestVerification =
  | VerifiedCredential
  | VerifyFailure
  | { readonly valid: false; readonly code: 'ERR_UNAUTHENTICATED' | 'ERR_VALIDATION' }
  | DpopRequestFailure
  | {
      readonly valid: false;
      readonly code: 'ERR_INSUFFICIENT_SCOPE';
      /** The scopes the request needed (all of them). */
      readonly requiredScopes: readonly string[];
      /** The credential, valid but lacking a scope. */
      readonly credential: VerifiedCredential;
    };

/** State of the change stream: `off` when disabled or closed. */
export type StreamState = 'connecting' | 'open' | 'down' | 'off';

/**
 * Counters for observing a verifier (tests, metrics, benchmarks).
 *
 * @example
 * ```ts
 * const { hits, misses, upstreamRequests, stream } = verifier.stats();
 * ```
 */
export interface VerifierStats {
  readonly stream: StreamState;
  readonly cacheSize: number;
  /** Answers served from the cache. */
  readonly hits: number;
  /** Well-formed credentials not in the cache. */
  readonly misses: number;
  /** Requests sent to `POST /v1/keys/verify`. */
  readonly upstreamRequests: number;
  /** Times the JWKS was fetched (first use, unknown `kid`, age). */
  readonly jwksFetches: number;
  /** Requests sent to the introspection endpoint. */
  readonly introspections: number;
  /** Opaque access tokens answered from the introspection cache. */
  readonly introspectionHits: number;
  /** Times the change stream delivered `ready` (first connect and each reconnect). */
  readonly streamConnects: number;
  /** `changed` and `reset` events received on the change stream. */
  readonly invalidations: number;
}

/**
 * Options of {@link createVerifier}.
 *
 * @example
 * ```ts
 * const options: VerifierOptions = { url: 'https://keyturn.internal', cacheTtlMs: 10_000, requiredScopes: ['read'] };
 * ```
 */
export interface VerifierOptions {
  /** Base URL of keyturn, e.g. `https://keyturn.internal:8080` (no trailing path needed). */
  readonly url: string;
  /** Longest time a positive answer is served from the cache (default 30 000 ms). `0` disables caching. */
  readonly cacheTtlMs?: number;
  /** Most cached answers kept; the oldest goes first (default 10 000). */
  readonly maxEntries?: number;
  /**
   * Longest time a negative answer (`ERR_KEY_UNKNOWN`, `…_REVOKED`, `…_SUSPENDED`, `…_EXPIRED`,
   * `ERR_PRINCIPAL_INACTIVE`, or keyturn's 429 for too many failures) is served from the cache,
   * so a flood of invented keys reaches keyturn once per key and TTL, not once per request
   * (default 5 000 ms; `0` disables it). The trade-off: a key unsuspended (or whose principal is
   * enabled again) is still refused for up to this long while the change stream is down; with the
   * stream up, any key change drops every negative answer at once. A key cannot be refused for
   * having been asked before it existed: a new key's secret is random and first shown at creation.
   */
  readonly negativeCacheTtlMs?: number;
  /** Most negative answers kept; the oldest goes first (default 10 000). */
  readonly negativeMaxEntries?: number;
  /** `fetch` to use (default: the global one). Used for both the verify calls and the change stream. */
  readonly fetch?: typeof globalThis.fetch;
  /**
   * A keyturn API key with scope `verify`, sent as `Authorization: Bearer` on the change stream:
   * `GET /v1/keys/changes` names key ids as they change, so keyturn serves it only to such a key.
   * Without it the stream stays off and a revocation is honoured within {@link cacheTtlMs}.
   * Create one with `keyturn keys create --owner <api> --name verifier --scopes verify`.
   */
  readonly apiKey?: string | undefined;
  /**
   * Follow `GET /v1/keys/changes` to drop revoked keys at once (default: on when {@link apiKey} is
   * given). `true` without `apiKey` is a configuration error.
   */
  readonly stream?: boolean;
  /** Scopes every request must carry (all of them), used by {@link Verifier.verifyRequest} and the middleware. */
  readonly requiredScopes?: readonly string[];
  /** Accept only keys with one of these prefixes (e.g. `['kt_live']`); others are refused locally. */
  readonly prefixes?: readonly string[];
  /** Timeout of one verify call (default 5 000 ms); a timeout is an outage (`ERR_UPSTREAM`). */
  readonly timeoutMs?: number;
  /** Clock in epoch milliseconds (default `Date.now`); lets tests move time. */
  readonly now?: () => number;
  /** First reconnect delay of the change stream (default 250 ms); doubles up to {@link reconnectMaxMs}. */
  readonly reconnectMinMs?: number;
  /** Longest reconnect delay of the change stream (default 30 000 ms). */
  readonly reconnectMaxMs?: number;
  /** Told when the change stream opens or goes down (never given a secret). */
  readonly onStreamState?: (state: StreamState) => void;

  // OAuth access tokens -------------------------------------------------------------------------

  /**
   * This API's resource identifier(s): an access token must name one of them in `aud`. Required to
   * accept access tokens: without it, JWTs are refused (`ERR_SECRET_FORMAT`, as any credential the
   * verifier does not accept) and `verifyJwt` throws `ERR_CONFIG`.
   */
  readonly audience?: string | readonly string[];
  /** Expected `iss` (default: {@link url}, keyturn's default issuer). */
  readonly issuer?: string;
  /** Where the JWK Set is fetched (default `<url>/oauth/jwks`, or the metadata's `jwks_uri` with {@link discovery}). */
  readonly jwksUri?: string;
  /**
   * Read `jwks_uri` and `introspection_endpoint` from `<url>/.well-known/oauth-authorization-server`
   * (RFC 8414) on first need instead of assuming keyturn's paths (default `false`). The metadata's
   * `issuer` must equal {@link issuer}. Explicit `jwksUri` / `introspection.url` win.
   */
  readonly discovery?: boolean;
  /** A fixed JWK Set instead of fetching one (never refetched); e.g. for an air-gapped API or a benchmark. */
  readonly jwks?: { readonly keys: readonly PublicJwk[] };
  /** Accepted JWS algorithms (default `['ES256', 'EdDSA']`); `none` and `HS*` are refused at creation. */
  readonly algorithms?: readonly string[];
  /** Leeway for `exp` and `nbf`, in seconds (default 5). */
  readonly clockToleranceSec?: number;
  /** Least time between two JWKS fetches caused by an unknown `kid` (default 30 000 ms). */
  readonly jwksCooldownMs?: number;
  /** Age after which the JWKS is refetched in the background while the cached one keeps serving (default 600 000 ms). */
  readonly jwksMaxAgeMs?: number;
  /** Prefixes of keyturn's opaque access tokens (default `['kta']`); such tokens go to introspection, never to the key check. */
  readonly accessTokenPrefixes?: readonly string[];
  /**
   * Credentials of an OAuth client of keyturn used to introspect opaque access tokens (RFC 7662,
   * `client_secret_basic`). Without them opaque access tokens are refused (`ERR_SECRET_FORMAT`).
   * `url` defaults to `<url>/oauth/introspect`.
   */
  readonly introspection?: { readonly clientId: string; readonly clientSecret: string; readonly url?: string };
  /** Longest time an `active: true` introspection answer is reused (default 30 000 ms; never past `exp`). `0` disables. */
  readonly introspectionCacheTtlMs?: number;
  /** Most cached introspection answers (default 10 000). */
  readonly introspectionMaxEntries?: number;
  /**
   * DPoP-bound access tokens (RFC 9449), always accepted by {@link Verifier.verifyRequest} with
   * `Authorization: DPoP` and a valid proof: where `htu` comes from, proof age, algorithms, nonces
   * and the replay store.
   */
  readonly dpop?: VerifierDpopOptions;
}

/** A public JSON Web Key as found in a JWK Set (RFC 7517). */
export interface PublicJwk {
  readonly kty?: string;
  readonly kid?: string;
  readonly alg?: string;
  readonly use?: string;
  readonly key_ops?: readonly string[];
  readonly crv?: string;
  readonly x?: string;
  readonly y?: string;
  readonly n?: string;
  readonly e?: string;
  readonly [member: string]: unknown;
}

/**
 * A verifier for keyturn API keys and OAuth access tokens, embedded in an API server.
 *
 * @example
 * ```ts
 * const verifier = createVerifier({ url: 'http://127.0.0.1:8080' });
 * const result = await verifier.verify(req.headers['x-api-key'] as string);
 * await verifier.close();
 * ```
 */
export interface Verifier {
  /**
   * Checks one credential, whatever its kind: a JWT (three dot-separated parts) locally against the
   * JWKS; an opaque access token (an {@link VerifierOptions.accessTokenPrefixes} prefix) through
   * introspection; anything else as an API key, locally for format, then from the cache or keyturn.
   * Throws only on an outage.
   */
  verify(credential: string, presentation?: Presentation): Promise<VerifyResult>;
  /**
   * Checks a JWT access token only (no kind detection): the fastest path, e.g. for benchmarks.
   * Throws `ERR_CONFIG` when no `audience` is configured, and `ERR_UPSTREAM` when the JWKS cannot be fetched.
   */
  verifyJwt(token: string, presentation?: Presentation): Promise<VerifyResult>;
  /**
   * Checks the `Authorization: Bearer …` credential of a request (RFC 6750 §2.1) and, when given or
   * configured, that it carries `requiredScopes`. A DPoP-bound access token is accepted only as
   * `Authorization: DPoP …` with a valid `DPoP` proof for this request (RFC 9449 §7); as `Bearer`
   * it is refused (reason `bound`). A token bound to a TLS client certificate or to a TLS session
   * is checked against the request's own socket (`req.socket`); a token bound both ways (a DPoP
   * key and a certificate) needs both.
   */
  verifyRequest(req: VerifiableRequest, options?: { readonly requiredScopes?: readonly string[] }): Promise<RequestVerification>;
  /** The DPoP proof algorithms accepted (for `WWW-Authenticate: DPoP algs="…"`). */
  readonly dpopAlgorithms?: readonly string[];
  /** The DPoP nonce to hand out now, when the verifier requires nonces. */
  dpopNonce?(): string | undefined;
  /** Scopes configured at creation (empty when none). */
  readonly requiredScopes: readonly string[];
  stats(): VerifierStats;
  /** Drops every cached answer (the next verifications ask keyturn). */
  clear(): void;
  /** Stops following the change stream and drops the cache. Later calls to `verify` reject. */
  close(): Promise<void>;
}
