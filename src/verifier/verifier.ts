import { channelThumbprint } from '../core/channel.js';
import { keyBindingHolds, presentationOf, type Presentation } from './tls-binding.js';
import { KeyturnError } from '../core/errors.js';
import { secretDigest, tryParseSecret } from '../core/secret.js';
import { readAuthorization, ResourceDpop, type VerifiableRequest } from './dpop.js';
import { AnswerCache, DeadlineCache } from './cache.js';
import { Introspector } from './introspection.js';
import { checkHttpUrl, createJwtVerifier, nonNegative, positive, TOKEN_FAILURES, type JwtVerifier } from './jwt.js';
import { ChangeStream, type SseEvent } from './stream.js';
import {
  VERIFY_FAILURE_CODES,
  type RequestVerification,
  type StreamState,
  type VerifiedCredential,
  type KeyRotation,
  type VerifiedKey,
  type Verifier,
  type VerifierOptions,
  type VerifierStats,
  type VerifyFailure,
  type VerifyFailureCode,
  type VerifyResult,
} from './types.js';

const FAILURES: Readonly<Record<VerifyFailureCode, VerifyFailure>> = Object.freeze(
  Object.fromEntries(VERIFY_FAILURE_CODES.map((code) => [code, Object.freeze({ valid: false, code })])) as Record<VerifyFailureCode, VerifyFailure>,
);
/** Codes `POST /v1/keys/verify` may answer for an API key. */
const KNOWN_FAILURES = new Set<string>(VERIFY_FAILURE_CODES.filter((code) => code !== 'ERR_INVALID_TOKEN'));
const DEFAULT_ACCESS_TOKEN_PREFIXES = Object.freeze(['kta']);
const UNAUTHENTICATED = Object.freeze({ valid: false, code: 'ERR_UNAUTHENTICATED' } as const);
const MALFORMED_HEADER = Object.freeze({ valid: false, code: 'ERR_VALIDATION' } as const);
const NO_SCOPES: readonly string[] = Object.freeze([]);

/** Largest verify answer read; keyturn's is a few hundred bytes. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * Creates a verifier for keyturn API keys and OAuth access tokens, for API servers to embed.
 *
 * The kind of a credential is decided by its shape: three dot-separated parts is a JWT access
 * token (verified locally, see {@link createJwtVerifier}; needs `audience`); a keyturn secret with
 * an `accessTokenPrefixes` prefix (default `kta`) is an opaque access token (checked through
 * introspection; needs `introspection` credentials and `audience`); anything else is an API key:
 *
 * - The key format and checksum are checked locally: a malformed key never causes a request.
 * - Positive answers are cached by the key's SHA-256 digest for at most `cacheTtlMs` and never past
 *   the key's `expiresAt`, in a cache of at most `maxEntries`. Negative answers are cached for
 *   `negativeCacheTtlMs` (default 5 s, at most `negativeMaxEntries`), so a flood of invented keys
 *   is not forwarded one for one; any change on the stream drops them.
 * - With `apiKey` (a keyturn API key with scope `verify`) the verifier follows `GET /v1/keys/changes`: a changed
 *   (e.g. revoked) key leaves the cache as soon as its event arrives (well under a second), a
 *   `reset` or a reconnect clears it. While the stream is down, a revocation is honoured within
 *   `cacheTtlMs` at most.
 * - Concurrent verifications of the same uncached key share one request.
 * - Only an outage (network error, timeout, 5xx or an answer it cannot read) throws, as
 *   `KeyturnError` with code `ERR_UPSTREAM`; a bad key is a `{ valid: false, code }` result.
 *
 * @example
 * ```ts
 * import { createVerifier } from 'keyturn/verifier';
 *
 * const verifier = createVerifier({ url: 'http://127.0.0.1:8080', requiredScopes: ['read'] });
 * const result = await verifier.verify(presentedKey);
 * if (result.valid) console.log(result.principal, result.scopes);
 * else console.log(result.code); // e.g. ERR_KEY_REVOKED
 * await verifier.close();
 * ```
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const base = normalizeUrl(options.url);
  const verifyUrl = `${base}/v1/keys/verify`;
  const doFetch = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  const timeoutMs = positive(options.timeoutMs, 5_000, 'timeoutMs');
  const cache = new AnswerCache({
    ttlMs: nonNegative(options.cacheTtlMs, 30_000, 'cacheTtlMs'),
    maxEntries: nonNegative(options.maxEntries, 10_000, 'maxEntries'),
  });
  // Negative answers by digest, briefly: invented keys are not forwarded one for one.
  const negativeTtlMs = nonNegative(options.negativeCacheTtlMs, 5_000, 'negativeCacheTtlMs');
  const negatives = new DeadlineCache<VerifyFailure>(negativeTtlMs <= 0 ? 0 : nonNegative(options.negativeMaxEntries, 10_000, 'negativeMaxEntries'));
  const prefixes = options.prefixes === undefined ? undefined : new Set(options.prefixes);
  const requiredScopes = Object.freeze([...(options.requiredScopes ?? [])]);
  const inflight = new Map<string, Promise<VerifyResult>>();
  const accessTokenPrefixes = new Set(options.accessTokenPrefixes ?? DEFAULT_ACCESS_TOKEN_PREFIXES);
  const audience = options.audience;
  const issuer = options.issuer ?? base;
  if (audience === undefined && (options.jwksUri !== undefined || options.jwks !== undefined || options.introspection !== undefined)) {
    throw new KeyturnError('ERR_CONFIG', 'verifier: access tokens need `audience` (this API\'s resource identifier)');
  }
  if (options.jwks !== undefined && options.jwksUri !== undefined) throw new KeyturnError('ERR_CONFIG', 'verifier: give jwksUri or jwks, not both');
  const metadata = options.discovery === true ? discoverer(`${base}/.well-known/oauth-authorization-server`, issuer, doFetch, timeoutMs) : undefined;
  const jwt: JwtVerifier | undefined =
    audience === undefined
      ? undefined
      : createJwtVerifier({
          issuer,
          audience,
          ...(options.jwks !== undefined
            ? { jwks: options.jwks }
            : { jwksUri: options.jwksUri ?? (metadata === undefined ? `${base}/oauth/jwks` : async () => (await metadata()).jwksUri) }),
          ...(options.algorithms === undefined ? {} : { algorithms: options.algorithms }),
          ...(options.clockToleranceSec === undefined ? {} : { clockToleranceSec: options.clockToleranceSec }),
          ...(options.jwksCooldownMs === undefined ? {} : { jwksCooldownMs: options.jwksCooldownMs }),
          ...(options.jwksMaxAgeMs === undefined ? {} : { jwksMaxAgeMs: options.jwksMaxAgeMs }),
          ...(options.now === undefined ? {} : { now: options.now }),
          timeoutMs,
          fetch: doFetch,
        });
  const introspection = options.introspection;
  if (introspection !== undefined) {
    if (typeof introspection.clientId !== 'string' || introspection.clientId.length === 0 || typeof introspection.clientSecret !== 'string' || introspection.clientSecret.length === 0) {
      throw new KeyturnError('ERR_CONFIG', 'verifier introspection: clientId and clientSecret are required');
    }
    if (introspection.url !== undefined) checkHttpUrl(introspection.url, 'introspection.url');
  }
  const introspector =
    introspection === undefined || audience === undefined
      ? undefined
      : new Introspector({
          url: introspection.url ?? (metadata === undefined ? `${base}/oauth/introspect` : async () => (await metadata()).introspectionEndpoint),
          clientId: introspection.clientId,
          clientSecret: introspection.clientSecret,
          issuer,
          audience: typeof audience === 'string' ? [audience] : [...audience],
          ttlMs: nonNegative(options.introspectionCacheTtlMs, 30_000, 'introspectionCacheTtlMs'),
          maxEntries: nonNegative(options.introspectionMaxEntries, 10_000, 'introspectionMaxEntries'),
          timeoutMs,
          fetch: doFetch,
          now,
        });
  const dpop = new ResourceDpop(options.dpop ?? {}, now);
  let closed = false;
  let hits = 0;
  let misses = 0;
  let upstreamRequests = 0;
  let streamConnects = 0;
  let invalidations = 0;

  const onEvent = (event: SseEvent) => {
    switch (event.event) {
      case 'ready':
        // Whatever changed while we were not listening is unknown: start afresh.
        streamConnects++;
        cache.clear();
        negatives.clear();
        break;
      case 'changed': {
        invalidations++;
        // Negative answers carry no key id: any change (an unsuspension, say) drops them all.
        negatives.clear();
        const keyId = readKeyId(event.data);
        if (keyId === undefined) cache.clear();
        else cache.dropKey(keyId);
        break;
      }
      case 'reset':
        invalidations++;
        cache.clear();
        negatives.clear();
        break;
      default:
        break;
    }
  };

  const apiKey = options.apiKey;
  if (apiKey !== undefined && (typeof apiKey !== 'string' || !/^[\x21-\x7e]{1,512}$/.test(apiKey))) {
    throw new KeyturnError('ERR_CONFIG', 'verifier: apiKey must be a keyturn API key (printable, no spaces)');
  }
  if (options.stream === true && apiKey === undefined) {
    throw new KeyturnError('ERR_CONFIG', 'verifier: the change stream needs `apiKey`, a keyturn API key with scope "verify"');
  }
  const stream =
    options.stream === false || apiKey === undefined
      ? undefined
      : new ChangeStream({
          url: `${base}/v1/keys/changes`,
          authorization: `Bearer ${apiKey}`,
          fetch: doFetch,
          onEvent,
          onState: (state: StreamState) => options.onStreamState?.(state),
          reconnectMinMs: positive(options.reconnectMinMs, 250, 'reconnectMinMs'),
          reconnectMaxMs: positive(options.reconnectMaxMs, 30_000, 'reconnectMaxMs'),
        });
  stream?.start();

  async function ask(digest: string, credential: string, presentation?: Presentation): Promise<VerifyResult> {
    const generation = cache.generation;
    const negativeGeneration = negatives.generation;
    upstreamRequests++;
    let res: Response;
    try {
      res = await doFetch(verifyUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({
          key: credential,
          ...(presentation?.address === undefined ? {} : { address: presentation.address }),
          ...(channelThumbprint(presentation?.tls) === undefined ? {} : { 'x5t#S256': channelThumbprint(presentation?.tls) }),
        }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw upstream('keyturn could not be reached', undefined, err);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw upstream('keyturn answer could not be read', res.status, err);
    }
    if (res.status === 429) {
      // keyturn answers 429 only to a failed verification past this source's limit: the key is refused.
      negatives.set(digest, FAILURES.ERR_KEY_UNKNOWN, now() + negativeTtlMs, now(), negativeGeneration);
      return FAILURES.ERR_KEY_UNKNOWN;
    }
    if (res.status !== 200) throw upstream(`keyturn answered HTTP ${res.status}`, res.status);
    if (text.length > MAX_ANSWER_BYTES) throw upstream('keyturn answer is too large', res.status);
    const answer = readAnswer(text);
    if (answer === undefined) throw upstream('keyturn answer is not a verification result', res.status);
    if (answer.result.valid) cache.set(digest, answer.result, answer.expiresAtMs, now(), generation);
    // A binding refusal says where the key was used from, not what it is: another request may pass.
    else if (answer.result.code !== 'ERR_BINDING_MISMATCH') negatives.set(digest, answer.result, now() + negativeTtlMs, now(), negativeGeneration);
    return answer.result;
  }

  async function verify(credential: string, presentation?: Presentation): Promise<VerifyResult> {
    const result = await verifyAny(credential, presentation);
    // A bound API key is checked against this request's socket on every use, cached or not.
    if (result.valid && result.kind === 'api_key' && result.binding !== undefined && !keyBindingHolds(result.binding, presentation)) return FAILURES.ERR_BINDING_MISMATCH;
    return result;
  }

  async function verifyAny(credential: string, presentation?: Presentation): Promise<VerifyResult> {
    if (closed) throw new KeyturnError('ERR_UPSTREAM', 'verifier is closed');
    if (typeof credential !== 'string') return FAILURES.ERR_SECRET_FORMAT;
    if (isJwtShaped(credential)) return jwt === undefined ? FAILURES.ERR_SECRET_FORMAT : jwt.verify(credential, presentation);
    const parsed = tryParseSecret(credential);
    if (parsed === undefined) return FAILURES.ERR_SECRET_FORMAT;
    if (accessTokenPrefixes.has(parsed.prefix)) return introspector === undefined ? FAILURES.ERR_SECRET_FORMAT : introspector.verify(parsed.text, presentation);
    if (prefixes !== undefined && !prefixes.has(parsed.prefix)) return FAILURES.ERR_SECRET_FORMAT;
    const digest = secretDigest(parsed.text);
    const cached = cache.get(digest, now());
    if (cached !== undefined) {
      hits++;
      return cached;
    }
    const refused = negatives.get(digest, now());
    if (refused !== undefined) {
      hits++;
      return refused;
    }
    misses++;
    const pending = inflight.get(digest);
    if (pending !== undefined) return pending;
    const request = ask(digest, parsed.text, presentation).finally(() => inflight.delete(digest));
    inflight.set(digest, request);
    return request;
  }

  /**
   * A credential sent with the `DPoP` scheme: an access token whose `cnf.jkt` the request's proof
   * must match (RFC 9449 §7.1). Anything else (an API key, a token without `jkt`) is refused. A
   * token also bound to the connection (`x5t#S256`, `tls_exporter#S256`) needs that too.
   */
  async function verifyDpop(req: VerifiableRequest, token: string, presentation: Presentation | undefined): Promise<RequestVerification> {
    if (closed) throw new KeyturnError('ERR_UPSTREAM', 'verifier is closed');
    let result: VerifyResult;
    if (isJwtShaped(token)) result = jwt === undefined ? FAILURES.ERR_SECRET_FORMAT : await jwt.verifyBound(token, presentation);
    else {
      const parsed = tryParseSecret(token);
      if (parsed === undefined || !accessTokenPrefixes.has(parsed.prefix)) return TOKEN_FAILURES.not_bound;
      result = introspector === undefined ? FAILURES.ERR_SECRET_FORMAT : await introspector.verifyBound(parsed.text, presentation);
    }
    if (!result.valid) return result;
    if (result.kind === 'api_key' || result.cnf?.jkt === undefined) return TOKEN_FAILURES.not_bound;
    return (await dpop.check(req, token, result.cnf.jkt)) ?? result;
  }

  async function verifyRequest(req: VerifiableRequest, opts: { readonly requiredScopes?: readonly string[] } = {}): Promise<RequestVerification> {
    const credentials = readAuthorization(req.headers.authorization);
    if (credentials.kind === 'none') return UNAUTHENTICATED;
    if (credentials.kind === 'malformed') return MALFORMED_HEADER;
    const presentation = presentationOf(req);
    // As Bearer, a DPoP-bound token is refused (`bound`): a stolen DPoP-bound token is useless without its key.
    const result = credentials.scheme === 'dpop' ? await verifyDpop(req, credentials.token, presentation) : await verify(credentials.token, presentation);
    if (!result.valid) return result;
    const needed = opts.requiredScopes ?? requiredScopes;
    if (needed.length > 0 && !hasScopes(result, needed)) {
      return { valid: false, code: 'ERR_INSUFFICIENT_SCOPE', requiredScopes: needed, credential: result };
    }
    return result;
  }

  const verifyJwt =
    jwt === undefined
      ? () => Promise.reject(new KeyturnError('ERR_CONFIG', 'verifier: JWT access tokens need the `audience` option'))
      : (token: string, presentation?: Presentation) => (closed ? Promise.reject(new KeyturnError('ERR_UPSTREAM', 'verifier is closed')) : jwt.verify(token, presentation));

  return {
    verify,
    verifyJwt,
    verifyRequest,
    dpopAlgorithms: dpop.algorithms,
    dpopNonce: () => dpop.nonce(),
    requiredScopes: requiredScopes.length === 0 ? NO_SCOPES : requiredScopes,
    stats: (): VerifierStats => ({
      stream: stream?.state ?? 'off',
      cacheSize: cache.size,
      hits,
      misses,
      upstreamRequests,
      jwksFetches: jwt?.jwksFetches ?? 0,
      introspections: introspector?.requests ?? 0,
      introspectionHits: introspector?.hits ?? 0,
      streamConnects,
      invalidations,
    }),
    clear: () => {
      cache.clear();
      negatives.clear();
      introspector?.clear();
    },
    async close() {
      closed = true;
      cache.clear();
      negatives.clear();
      introspector?.clear();
      await stream?.close();
    },
  };
}

/**
 * True when `credential` carries every scope in `scopes`.
 *
 * @example
 * ```ts
 * const r = await verifier.verify(key);
 * if (r.valid && hasScopes(r, ['write'])) …
 * ```
 */
export function hasScopes(credential: Pick<VerifiedCredential, 'scopes'>, scopes: readonly string[]): boolean {
  for (const scope of scopes) if (!credential.scopes.includes(scope)) return false;
  return true;
}

function upstream(message: string, status: number | undefined, cause?: unknown): KeyturnError {
  return new KeyturnError('ERR_UPSTREAM', message, {
    ...(status === undefined ? {} : { details: { status } }),
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Reads and checks the JSON answer of `POST /v1/keys/verify`; `undefined` when it is not one. */
function readAnswer(text: string): { result: VerifiedKey | VerifyFailure; expiresAtMs: number | null } | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (body === null || typeof body !== 'object') return undefined;
  const b = body as Record<string, unknown>;
  if (b.valid === false) {
    // Fail closed on a code this version does not know: the key is refused either way.
    const code = typeof b.code === 'string' && KNOWN_FAILURES.has(b.code) ? (b.code as VerifyFailureCode) : 'ERR_KEY_UNKNOWN';
    return { result: FAILURES[code], expiresAtMs: null };
  }
  if (b.valid !== true) return undefined;
  const { keyId, principal, scopes, expiresAt } = b;
  if (typeof keyId !== 'string' || typeof principal !== 'string') return undefined;
  if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string')) return undefined;
  let expiresAtMs: number | null = null;
  if (expiresAt !== null && expiresAt !== undefined) {
    if (typeof expiresAt !== 'string') return undefined;
    expiresAtMs = Date.parse(expiresAt);
    if (Number.isNaN(expiresAtMs)) return undefined;
  }
  const rotation = readRotation(b.rotation);
  if (rotation === false) return undefined;
  const binding = readBinding(b.binding);
  if (binding === false) return undefined;
  const result: VerifiedKey = Object.freeze({
    valid: true,
    kind: 'api_key',
    keyId,
    principal,
    scopes: Object.freeze([...(scopes as string[])]),
    expiresAt: expiresAtMs === null ? null : (expiresAt as string),
    ...(rotation ? { rotation } : {}),
    ...(binding ? { binding } : {}),
  });
  // A key in its grace is cached no longer than its sunset: never accepted past it.
  const sunsetMs = rotation?.sunset ? Date.parse(rotation.sunset) : null;
  const until = sunsetMs === null ? expiresAtMs : expiresAtMs === null ? sunsetMs : Math.min(expiresAtMs, sunsetMs);
  return { result, expiresAtMs: until };
}

/** The `rotation` member of a verify answer: absent, well-formed, or `false` (not an answer). */
function readRotation(value: unknown): KeyRotation | undefined | false {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object') return false;
  const r = value as Record<string, unknown>;
  const time = (v: unknown) => v === null || (typeof v === 'string' && !Number.isNaN(Date.parse(v)));
  if ((r.status !== 'active' && r.status !== 'rotating') || !time(r.dueAt) || !time(r.sunset) || !time(r.softDeadline)) return false;
  return Object.freeze({ status: r.status, dueAt: r.dueAt as string | null, sunset: r.sunset as string | null, softDeadline: r.softDeadline as string | null });
}

function readKeyId(data: string): string | undefined {
  try {
    const parsed = JSON.parse(data) as { keyId?: unknown };
    return typeof parsed.keyId === 'string' ? parsed.keyId : undefined;
  } catch {
    return undefined;
  }
}

function normalizeUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new KeyturnError('ERR_CONFIG', 'verifier url: not a URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new KeyturnError('ERR_CONFIG', 'verifier url: must be http or https');
  if (parsed.username || parsed.password) throw new KeyturnError('ERR_CONFIG', 'verifier url: must not carry credentials');
  if (parsed.search || parsed.hash) throw new KeyturnError('ERR_CONFIG', 'verifier url: must not have a query or fragment');
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
}

/** A JWS compact serialization has exactly two dots; a keyturn secret has none. */
function isJwtShaped(credential: string): boolean {
  const first = credential.indexOf('.');
  if (first === -1) return false;
  const second = credential.indexOf('.', first + 1);
  return second !== -1 && credential.indexOf('.', second + 1) === -1;
}

/**
 * Reads RFC 8414 metadata once (a failure is retried on the next need): `jwks_uri`,
 * `introspection_endpoint` (http or https), and an `issuer` that must be the expected one
 * (RFC 8414 §3.3). Anything else is an outage (`ERR_UPSTREAM`).
 */
function discoverer(
  url: string,
  issuer: string,
  doFetch: typeof globalThis.fetch,
  timeoutMs: number,
): () => Promise<{ jwksUri: string; introspectionEndpoint: string }> {
  let pending: Promise<{ jwksUri: string; introspectionEndpoint: string }> | undefined;
  const load = async () => {
    let res: Response;
    let text: string;
    try {
      res = await doFetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
      text = await res.text();
    } catch (cause) {
      throw new KeyturnError('ERR_UPSTREAM', 'authorization server metadata could not be fetched', { cause });
    }
    if (res.status !== 200) throw upstream(`authorization server metadata answered HTTP ${res.status}`, res.status);
    if (text.length > MAX_ANSWER_BYTES) throw upstream('authorization server metadata is too large', res.status);
    let body: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(text);
      body = parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined;
    } catch {
      body = undefined;
    }
    if (body === undefined) throw upstream('authorization server metadata is not a JSON object', res.status);
    if (body.issuer !== issuer) throw upstream('authorization server metadata names another issuer', res.status);
    const { jwks_uri: jwksUri, introspection_endpoint: introspectionEndpoint } = body;
    if (typeof jwksUri !== 'string' || !/^https?:\/\//.test(jwksUri)) throw upstream('authorization server metadata has no usable jwks_uri', res.status);
    if (typeof introspectionEndpoint !== 'string' || !/^https?:\/\//.test(introspectionEndpoint)) {
      throw upstream('authorization server metadata has no usable introspection_endpoint', res.status);
    }
    return { jwksUri, introspectionEndpoint };
  };
  return () => {
    pending ??= load().catch((err: unknown) => {
      pending = undefined;
      throw err;
    });
    return pending;
  };
}

/** A key's `binding` from keyturn's answer: `undefined` when absent, `false` when malformed (the answer is then refused). */
function readBinding(value: unknown): VerifiedKey['binding'] | false {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object') return false;
  const { networks, 'x5t#S256': x5t } = value as Record<string, unknown>;
  if (networks !== undefined && (!Array.isArray(networks) || !networks.every((n) => typeof n === 'string'))) return false;
  if (x5t !== undefined && typeof x5t !== 'string') return false;
  if (networks === undefined && x5t === undefined) return false;
  return Object.freeze({ ...(networks ? { networks: Object.freeze([...(networks as string[])]) } : {}), ...(x5t ? { 'x5t#S256': x5t as string } : {}) });
}
