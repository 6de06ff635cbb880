/**
 * The shapes the verifier library exposes. Kept apart from the implementation so middleware and
 * callers can name them without pulling anything else in.
 */

/** Why a credential was refused, as keyturn's `POST /v1/keys/verify` answers it. */
export const VERIFY_FAILURE_CODES = [
  'ERR_SECRET_FORMAT',
  'ERR_KEY_UNKNOWN',
  'ERR_KEY_EXPIRED',
  'ERR_KEY_REVOKED',
  'ERR_KEY_SUSPENDED',
  'ERR_PRINCIPAL_INACTIVE',
] as const;

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
  /** Id of the API key, e.g. `key_…` (not secret). */
  readonly keyId: string;
  /** Id of the principal the key acts for. */
  readonly principal: string;
  readonly scopes: readonly string[];
  /** ISO time at which the key stops working, or `null` when it has no expiry. */
  readonly expiresAt: string | null;
}

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
export type VerifyResult = VerifiedKey | VerifyFailure;

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
export type RequestFailureCode = VerifyFailureCode | 'ERR_UNAUTHENTICATED' | 'ERR_VALIDATION';

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
  | VerifiedKey
  | { readonly valid: false; readonly code: RequestFailureCode }
  | {
      readonly valid: false;
      readonly code: 'ERR_INSUFFICIENT_SCOPE';
      /** The scopes the request needed (all of them). */
      readonly requiredScopes: readonly string[];
      /** The credential, valid but lacking a scope. */
      readonly credential: VerifiedKey;
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
  /** `fetch` to use (default: the global one). Used for both the verify calls and the change stream. */
  readonly fetch?: typeof globalThis.fetch;
  /** Follow `GET /v1/keys/changes` to drop revoked keys at once (default `true`). */
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
}

/**
 * A verifier for keyturn API keys, embedded in an API server.
 *
 * @example
 * ```ts
 * const verifier = createVerifier({ url: 'http://127.0.0.1:8080' });
 * const result = await verifier.verify(req.headers['x-api-key'] as string);
 * await verifier.close();
 * ```
 */
export interface Verifier {
  /** Checks one credential: locally for format, then from the cache or keyturn. Throws only on an outage. */
  verify(credential: string): Promise<VerifyResult>;
  /**
   * Checks the `Authorization: Bearer …` credential of a request (RFC 6750 §2.1) and, when given or
   * configured, that it carries `requiredScopes`.
   */
  verifyRequest(req: { readonly headers: { readonly authorization?: string | undefined } }, options?: { readonly requiredScopes?: readonly string[] }): Promise<RequestVerification>;
  /** Scopes configured at creation (empty when none). */
  readonly requiredScopes: readonly string[];
  stats(): VerifierStats;
  /** Drops every cached answer (the next verifications ask keyturn). */
  clear(): void;
  /** Stops following the change stream and drops the cache. Later calls to `verify` reject. */
  close(): Promise<void>;
}
