import { errors, importJWK, jwtVerify, type FlattenedJWSInput, type JWTHeaderParameters, type JWTPayload, type JWTVerifyOptions } from 'jose';
import { checkConfirmation, type Presentation } from './tls-binding.js';
import { CNF_TLS_EXPORTER, CNF_X5T } from '../core/channel.js';
import { KeyturnError } from '../core/errors.js';
import {
  MAX_ACTORS,
  TOKEN_FAILURE_REASONS,
  type PublicJwk,
  type TokenActor,
  type TokenConfirmation,
  type TokenFailureReason,
  type VerifiedAccessToken,
  type VerifyFailure,
  type VerifyResult,
} from './types.js';

/** Algorithms accepted unless configured: what keyturn signs with. */
export const DEFAULT_ALGORITHMS: readonly string[] = Object.freeze(['ES256', 'EdDSA']);

/** Refusals, one frozen object per reason: a refused token allocates nothing. */
export const TOKEN_FAILURES: Readonly<Record<TokenFailureReason, VerifyFailure>> = Object.freeze(
  Object.fromEntries(TOKEN_FAILURE_REASONS.map((reason) => [reason, Object.freeze({ valid: false, code: 'ERR_INVALID_TOKEN', reason })])) as Record<
    TokenFailureReason,
    VerifyFailure
  >,
);

/** Longest JWT looked at; keyturn's are well under 1 KiB. */
const MAX_JWT_LENGTH = 16 * 1024;
/** Largest JWKS answer read. */
const MAX_JWKS_BYTES = 256 * 1024;
/** Most distinct `scope` strings whose split form is kept. */
const MAX_SCOPE_STRINGS = 256;
/** Largest `exp` a `Date` can hold (seconds). */
export const MAX_DATE_SEC = 8.64e12;
/** Most distinct encoded protected headers whose key is remembered. */
const MAX_HEADERS = 64;
const NO_SCOPES: readonly string[] = Object.freeze([]);
const REQUIRED_CLAIMS = Object.freeze(['sub', 'client_id', 'exp', 'iat', 'jti']);

type VerificationKey = Awaited<ReturnType<typeof importJWK>>;

/**
 * Options of {@link createJwtVerifier}.
 *
 * @example
 * ```ts
 * const options: JwtVerifierOptions = { issuer: 'https://keyturn.example', audience: 'https://api.example', jwksUri: 'https://keyturn.example/oauth/jwks' };
 * ```
 */
export interface JwtVerifierOptions {
  /** Expected `iss`. */
  readonly issuer: string;
  /** Accepted `aud` values: the token must name one of them. */
  readonly audience: string | readonly string[];
  /** Where to fetch the JWK Set (or a function finding it, e.g. from discovery). Exactly one of `jwksUri` and `jwks`. */
  readonly jwksUri?: string | (() => string | Promise<string>);
  /** A fixed JWK Set (never refetched). */
  readonly jwks?: { readonly keys: readonly PublicJwk[] };
  /** Accepted algorithms (default `['ES256', 'EdDSA']`); `none` and `HS*` throw `ERR_CONFIG`. */
  readonly algorithms?: readonly string[];
  /** Leeway for `exp`/`nbf` in seconds (default 5). */
  readonly clockToleranceSec?: number;
  /** Least time between two fetches caused by an unknown `kid` (default 30 000 ms). */
  readonly jwksCooldownMs?: number;
  /** Age after which the JWKS is refetched in the background (default 600 000 ms). */
  readonly jwksMaxAgeMs?: number;
  /** Timeout of a JWKS fetch (default 5 000 ms). */
  readonly timeoutMs?: number;
  readonly fetch?: typeof globalThis.fetch;
  /** Clock in epoch ms (default: the real one). When given, it is also the time `exp`/`nbf` are checked against. */
  readonly now?: () => number;
}

/**
 * A local verifier of RFC 9068 JWT access tokens.
 *
 * @example
 * ```ts
 * const jwt = createJwtVerifier({ issuer, audience: 'https://api.example', jwksUri: `${issuer}/oauth/jwks` });
 * const r = await jwt.verify(token);
 * ```
 */
export interface JwtVerifier {
  /** Verifies one JWT access token. A bad token is a `{ valid: false, code: 'ERR_INVALID_TOKEN', reason }` result; throws `ERR_UPSTREAM` only when the JWKS is needed and cannot be fetched. */
  verify(token: string, presentation?: Presentation): Promise<VerifyResult>;
  /**
   * Verifies one JWT access token that may be DPoP-bound: its `cnf` comes back on the result for
   * the caller to check the DPoP proof against `cnf.jkt`. TLS members (`x5t#S256`,
   * `tls_exporter#S256`) are checked against `presentation` as by {@link verify}; any other `cnf`
   * member is refused (reason `cnf`: fail closed). {@link verify} refuses a DPoP-bound token
   * (reason `bound`).
   */
  verifyBound(token: string, presentation?: Presentation): Promise<VerifyResult>;
  /** JWKS fetches so far. */
  readonly jwksFetches: number;
}

/** Thrown by the key resolver; mapped to a refusal, never seen by callers. */
class KeyRefusal extends Error {
  readonly reason: TokenFailureReason;
  constructor(reason: TokenFailureReason) {
    super(reason);
    this.reason = reason;
  }
}
const KEY_UNKNOWN = new KeyRefusal('key_unknown');
const KEY_ALG_MISMATCH = new KeyRefusal('algorithm');

interface KeyEntry {
  readonly alg: string;
  readonly key: VerificationKey;
}

/** The algorithm a JWK is for: its `alg`, or what its type and curve imply. */
function algOf(jwk: PublicJwk): string | undefined {
  if (typeof jwk.alg === 'string') return jwk.alg;
  if (jwk.kty === 'EC') return jwk.crv === 'P-256' ? 'ES256' : jwk.crv === 'P-384' ? 'ES384' : jwk.crv === 'P-521' ? 'ES512' : undefined;
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  return undefined; // RSA keys must say which algorithm
}

/**
 * The verification keys of a JWK Set, by `kid`, imported once. A remote set is fetched on first
 * use, refetched when a token names an unknown `kid` (at most once per `cooldownMs`), and
 * refetched in the background once older than `maxAgeMs` (the cached keys keep serving meanwhile).
 * Concurrent fetches are coalesced.
 */
class KeySet {
  readonly #uri: (() => string | Promise<string>) | undefined;
  readonly #fetch: typeof globalThis.fetch;
  readonly #now: () => number;
  readonly #algorithms: ReadonlySet<string>;
  readonly #cooldownMs: number;
  readonly #maxAgeMs: number;
  readonly #timeoutMs: number;
  #byKid = new Map<string, KeyEntry>();
  #withoutKid: KeyEntry[] = [];
  /**
   * Encoded protected header → its key. Every token a key signs carries the same header bytes, so
   * once a header has been resolved its key is found by one lookup of the header as jose will see
   * it, without decoding anything. Cleared whenever the key set changes.
   */
  #byHeader = new Map<string, VerificationKey>();
  #lastHeader: string | undefined;
  #lastKey: VerificationKey | undefined;
  /** Bumped by every install, see {@link resolve}. */
  #generation = 0;
  #loaded = false;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #attemptedAt = Number.NEGATIVE_INFINITY;
  #pending: Promise<void> | undefined;
  #fixed: Promise<void> | undefined;
  fetches = 0;

  constructor(options: {
    uri: (() => string | Promise<string>) | undefined;
    fixed: { readonly keys: readonly PublicJwk[] } | undefined;
    fetch: typeof globalThis.fetch;
    now: () => number;
    algorithms: ReadonlySet<string>;
    cooldownMs: number;
    maxAgeMs: number;
    timeoutMs: number;
  }) {
    this.#uri = options.uri;
    this.#fetch = options.fetch;
    this.#now = options.now;
    this.#algorithms = options.algorithms;
    this.#cooldownMs = options.cooldownMs;
    this.#maxAgeMs = options.maxAgeMs;
    this.#timeoutMs = options.timeoutMs;
    if (options.fixed !== undefined) {
      this.#fixed = this.#install(options.fixed.keys);
      this.#fixed.catch(() => undefined);
    }
  }

  /**
   * jose's key resolver. The fast path — a known `kid` of a fresh set — is one map lookup and
   * returns the key synchronously.
   */
  readonly resolve = (header: JWTHeaderParameters, jws: FlattenedJWSInput): VerificationKey | Promise<VerificationKey> => {
    if (this.#loaded) {
      this.#checkAge();
      const entry = this.#find(header);
      if (entry !== undefined) {
        if (entry.alg !== header.alg) throw KEY_ALG_MISMATCH;
        this.#remember(jws.protected, entry.key);
        return entry.key;
      }
    }
    const generation = this.#generation;
    return this.#resolveSlowly(header).then((key) => {
      if (generation === this.#generation) this.#remember(jws.protected, key); // not from a set replaced meanwhile
      return key;
    });
  };

  /**
   * The key for a token whose encoded protected header (the text before its first `.`) was
   * resolved before, or `undefined` (then pass {@link resolve} to jose). The header names `alg` and
   * `kid`, so the same header always means the same key while the set is unchanged; jose still
   * checks `alg` against the allow-list and the key's algorithm.
   */
  keyFor(token: string): VerificationKey | undefined {
    // The last header found first: a prefix comparison, no substring, no hashing.
    const last = this.#lastHeader;
    if (last !== undefined && token.charCodeAt(last.length) === 0x2e && token.startsWith(last)) {
      this.#checkAge();
      return this.#lastKey;
    }
    const dot = token.indexOf('.');
    if (dot <= 0) return undefined;
    const header = token.slice(0, dot);
    const key = this.#byHeader.get(header);
    if (key === undefined) return undefined;
    this.#checkAge();
    this.#lastHeader = header;
    this.#lastKey = key;
    return key;
  }

  #remember(encodedHeader: string | undefined, key: VerificationKey): void {
    if (encodedHeader === undefined || this.#byHeader.has(encodedHeader)) return;
    if (this.#byHeader.size >= MAX_HEADERS) this.#byHeader.clear(); // many distinct headers: someone is playing games
    this.#byHeader.set(encodedHeader, key);
  }

  #checkAge(): void {
    if (this.#uri !== undefined && this.#now() - this.#fetchedAt > this.#maxAgeMs) this.#refreshInBackground();
  }

  #find(header: JWTHeaderParameters): KeyEntry | undefined {
    if (typeof header.kid === 'string') return this.#byKid.get(header.kid);
    if (header.kid !== undefined) return undefined;
    // No `kid`: usable only if exactly one key of that algorithm is known.
    let found: KeyEntry | undefined;
    for (const entry of this.#byKid.values()) {
      if (entry.alg !== header.alg) continue;
      if (found !== undefined) return undefined;
      found = entry;
    }
    for (const entry of this.#withoutKid) {
      if (entry.alg !== header.alg) continue;
      if (found !== undefined) return undefined;
      found = entry;
    }
    return found;
  }

  async #resolveSlowly(header: JWTHeaderParameters): Promise<VerificationKey> {
    if (this.#fixed !== undefined) await this.#fixed;
    else if (!this.#loaded) await this.#load();
    else if (this.#now() - this.#attemptedAt >= this.#cooldownMs) await this.#load(); // unknown kid: the set may have changed
    const entry = this.#find(header);
    if (entry === undefined) throw KEY_UNKNOWN;
    if (entry.alg !== header.alg) throw KEY_ALG_MISMATCH;
    return entry.key;
  }

  #refreshInBackground(): void {
    if (this.#pending !== undefined || this.#now() - this.#attemptedAt < this.#cooldownMs) return;
    this.#load().catch(() => undefined); // keep serving the cached keys; the next miss retries
  }

  #load(): Promise<void> {
    this.#pending ??= this.#fetchAndInstall().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #fetchAndInstall(): Promise<void> {
    this.#attemptedAt = this.#now();
    const uri = await (this.#uri as () => string | Promise<string>)();
    this.fetches++;
    let res: Response;
    let text: string;
    try {
      res = await this.#fetch(uri, { headers: { accept: 'application/jwk-set+json, application/json' }, signal: AbortSignal.timeout(this.#timeoutMs) });
      text = await res.text();
    } catch (cause) {
      throw new KeyturnError('ERR_UPSTREAM', 'the JWKS could not be fetched', { cause });
    }
    if (res.status !== 200) throw new KeyturnError('ERR_UPSTREAM', `the JWKS answered HTTP ${res.status}`, { details: { status: res.status } });
    if (text.length > MAX_JWKS_BYTES) throw new KeyturnError('ERR_UPSTREAM', 'the JWKS is too large');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const keys = body !== null && typeof body === 'object' ? (body as { keys?: unknown }).keys : undefined;
    if (!Array.isArray(keys)) throw new KeyturnError('ERR_UPSTREAM', 'the JWKS is not a JWK Set');
    await this.#install(keys.filter((k): k is PublicJwk => k !== null && typeof k === 'object'));
    this.#fetchedAt = this.#now();
  }

  /** Imports the usable keys of a set and replaces the current ones (a key no longer published is no longer trusted). */
  async #install(keys: readonly PublicJwk[]): Promise<void> {
    const byKid = new Map<string, KeyEntry>();
    const withoutKid: KeyEntry[] = [];
    for (const jwk of keys) {
      const alg = algOf(jwk);
      if (alg === undefined || !this.#algorithms.has(alg)) continue;
      if (jwk.use !== undefined && jwk.use !== 'sig') continue;
      if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) continue;
      if (jwk.d !== undefined || jwk.kty === 'oct') continue; // never a private or symmetric key
      let key: VerificationKey;
      try {
        // Only the public members: nothing else of a published JWK may influence the import.
        const { kty, crv, x, y, n, e } = jwk;
        key = await importJWK(JSON.parse(JSON.stringify({ kty, crv, x, y, n, e })) as Parameters<typeof importJWK>[0], alg);
      } catch {
        continue; // one unusable key does not spoil the set
      }
      if (typeof jwk.kid === 'string') {
        if (!byKid.has(jwk.kid)) byKid.set(jwk.kid, { alg, key });
      } else withoutKid.push({ alg, key });
    }
    this.#byKid = byKid;
    this.#withoutKid = withoutKid;
    this.#byHeader = new Map();
    this.#lastHeader = undefined;
    this.#lastKey = undefined;
    this.#loaded = true;
    this.#generation++;
  }
}

/** Maps what jose throws to a refusal reason; rethrows outages (`KeyturnError`). */
function refusalOf(err: unknown): VerifyFailure {
  if (err instanceof KeyRefusal) return TOKEN_FAILURES[err.reason];
  if (err instanceof KeyturnError) throw err;
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'typ':
        return TOKEN_FAILURES.type;
      case 'iss':
        return TOKEN_FAILURES.issuer;
      case 'aud':
        return TOKEN_FAILURES.audience;
      case 'nbf':
        return TOKEN_FAILURES.not_yet_valid;
      default:
        return TOKEN_FAILURES.claims;
    }
  }
  if (err instanceof errors.JWTExpired) return TOKEN_FAILURES.expired;
  if (err instanceof errors.JOSEAlgNotAllowed) return TOKEN_FAILURES.algorithm;
  if (err instanceof errors.JWSSignatureVerificationFailed) return TOKEN_FAILURES.signature;
  // JWSInvalid, JWTInvalid, JOSENotSupported (e.g. an unknown `crit`), and anything a hostile
  // token may provoke inside the parser.
  return TOKEN_FAILURES.malformed;
}

/**
 * Creates a local verifier of RFC 9068 JWT access tokens, with `jose`:
 * allow-listed asymmetric algorithms only (default ES256 and EdDSA; `none` and `HS*` are refused at
 * creation), `typ` `at+jwt` (or `application/at+jwt`), `iss`, `aud`, `exp`/`nbf` with a small
 * tolerance, and the claims `sub`, `client_id`, `exp`, `iat`, `jti`. A token with `cnf` (sender-
 * constrained) is refused: this verifier checks Bearer tokens only.
 *
 * Keys come from the JWK Set (fetched from `jwksUri` on first use and cached, refetched on an
 * unknown `kid` at most once per `jwksCooldownMs`, refreshed in the background after
 * `jwksMaxAgeMs`), or from a fixed `jwks`.
 *
 * Nothing is decoded twice: jose parses the token once and hands the header to the key lookup.
 *
 * @example
 * ```ts
 * import { createJwtVerifier } from 'keyturn/verifier';
 *
 * const jwt = createJwtVerifier({ issuer: 'https://keyturn.example', audience: 'https://api.example', jwksUri: 'https://keyturn.example/oauth/jwks' });
 * const r = await jwt.verify(token);
 * if (r.valid) console.log(r.clientId, r.scopes);
 * else console.log(r.reason); // e.g. 'audience'
 * ```
 */
export function createJwtVerifier(options: JwtVerifierOptions): JwtVerifier {
  if ((options.jwksUri === undefined) === (options.jwks === undefined)) {
    throw new KeyturnError('ERR_CONFIG', 'JWT verifier: give exactly one of jwksUri and jwks');
  }
  if (typeof options.jwksUri === 'string') checkHttpUrl(options.jwksUri, 'jwksUri');
  if (options.jwks !== undefined && !Array.isArray(options.jwks.keys)) throw new KeyturnError('ERR_CONFIG', 'JWT verifier jwks: must be a JWK Set ({ keys: [...] })');
  const algorithms = checkAlgorithms(options.algorithms ?? DEFAULT_ALGORITHMS);
  const audience = checkAudience(options.audience);
  if (typeof options.issuer !== 'string' || options.issuer.length === 0) throw new KeyturnError('ERR_CONFIG', 'JWT verifier issuer: must be a non-empty string');
  const clockTolerance = nonNegative(options.clockToleranceSec, 5, 'clockToleranceSec');
  const now = options.now ?? Date.now;
  const keys = new KeySet({
    uri: options.jwksUri === undefined ? undefined : typeof options.jwksUri === 'string' ? () => options.jwksUri as string : options.jwksUri,
    fixed: options.jwks,
    fetch: options.fetch ?? globalThis.fetch,
    now,
    algorithms: new Set(algorithms),
    cooldownMs: nonNegative(options.jwksCooldownMs, 30_000, 'jwksCooldownMs'),
    maxAgeMs: positive(options.jwksMaxAgeMs, 600_000, 'jwksMaxAgeMs'),
    timeoutMs: positive(options.timeoutMs, 5_000, 'timeoutMs'),
  });
  // Built once: jose reads these on every call.
  const checks: JWTVerifyOptions = Object.freeze({
    algorithms: [...algorithms],
    issuer: options.issuer,
    audience: [...audience],
    typ: 'at+jwt', // jose compares media types normalised: `application/at+jwt` matches too
    requiredClaims: [...REQUIRED_CLAIMS],
    clockTolerance,
  });
  const clocked = options.now !== undefined;
  const resolve = keys.resolve;
  const scopeCache = new Map<string, readonly string[]>();
  const isoCache = new Map<number, string>();
  // Date#toISOString costs more than the rest of the result; a client reuses its token until `exp`.
  const isoOf = (exp: number): string => {
    let iso = isoCache.get(exp);
    if (iso === undefined) {
      iso = new Date(exp * 1000).toISOString();
      if (isoCache.size >= MAX_SCOPE_STRINGS) isoCache.clear();
      isoCache.set(exp, iso);
    }
    return iso;
  };

  const scopesOf = (scope: string): readonly string[] => {
    let scopes = scopeCache.get(scope);
    if (scopes === undefined) {
      scopes = scope.length === 0 ? NO_SCOPES : Object.freeze(scope.split(' ').filter((s) => s.length > 0));
      if (scopeCache.size >= MAX_SCOPE_STRINGS) scopeCache.clear();
      scopeCache.set(scope, scopes);
    }
    return scopes;
  };

  const accept = (payload: JWTPayload, presentation: Presentation | undefined, bound: boolean): VerifyResult => {
    const { sub, client_id: clientId, jti, scope, exp, cnf, act } = payload;
    let confirmation: TokenConfirmation | undefined;
    if (cnf !== undefined) {
      // A DPoP-bound token outside the DPoP scheme: `bound`, whatever else its cnf holds.
      if (!bound && hasJkt(cnf)) return TOKEN_FAILURES.bound;
      confirmation = cnfOf(cnf);
      if (confirmation === undefined) return TOKEN_FAILURES.cnf;
      const refused = checkConfirmation(confirmation, presentation, bound);
      if (refused !== undefined) return TOKEN_FAILURES[refused];
    }
    if (typeof sub !== 'string' || typeof clientId !== 'string' || typeof jti !== 'string' || typeof exp !== 'number' || !(exp < MAX_DATE_SEC)) return TOKEN_FAILURES.claims;
    if (scope !== undefined && typeof scope !== 'string') return TOKEN_FAILURES.claims;
    const scopes = scope === undefined ? NO_SCOPES : scopesOf(scope);
    const expiresAt = isoOf(exp);
    if (act === undefined && confirmation === undefined) {
      return Object.freeze({ valid: true, kind: 'jwt', sub, principal: sub, clientId, scopes, expiresAt, tokenId: jti } satisfies VerifiedAccessToken);
    }
    const actors = act === undefined ? undefined : actorsOf(act);
    if (act !== undefined && actors === undefined) return TOKEN_FAILURES.claims;
    const result: VerifiedAccessToken = {
      valid: true,
      kind: 'jwt',
      sub,
      principal: sub,
      clientId,
      scopes,
      expiresAt,
      tokenId: jti,
      ...(actors === undefined ? {} : { act: actors[0]!, actors }),
      ...(confirmation === undefined ? {} : { cnf: confirmation }),
    };
    return Object.freeze(result);
  };

  const accepted = (verified: { payload: JWTPayload }): VerifyResult => accept(verified.payload, undefined, false);

  return {
    verify(token: string, presentation?: Presentation): Promise<VerifyResult> {
      if (typeof token !== 'string' || token.length > MAX_JWT_LENGTH) return Promise.resolve(TOKEN_FAILURES.malformed);
      const verified = jwtVerify(token, keys.keyFor(token) ?? resolve, clocked ? { ...checks, currentDate: new Date(now()) } : checks);
      return presentation === undefined ? verified.then(accepted, refusalOf) : verified.then((v) => accept(v.payload, presentation, false), refusalOf);
    },
    verifyBound(token: string, presentation?: Presentation): Promise<VerifyResult> {
      if (typeof token !== 'string' || token.length > MAX_JWT_LENGTH) return Promise.resolve(TOKEN_FAILURES.malformed);
      return jwtVerify(token, keys.keyFor(token) ?? resolve, clocked ? { ...checks, currentDate: new Date(now()) } : checks).then((v) => accept(v.payload, presentation, true), refusalOf);
    },
    get jwksFetches() {
      return keys.fetches;
    },
  };
}

/**
 * RFC 7800 `cnf` as this verifier understands it: one or more of a DPoP `jkt` (RFC 9449 §6), a
 * certificate thumbprint `x5t#S256` (RFC 8705 §3) and a TLS-session digest `tls_exporter#S256`,
 * each a base64url SHA-256 (43 characters). `undefined` for anything else (an unknown member, a
 * wrong type, an empty object), and the token is then refused (reason `cnf`): a binding the
 * verifier cannot check fails closed.
 */
export function cnfOf(cnf: unknown): TokenConfirmation | undefined {
  if (cnf === null || typeof cnf !== 'object' || Array.isArray(cnf)) return undefined;
  const members = Object.entries(cnf as Record<string, unknown>);
  if (members.length === 0) return undefined;
  for (const [name, value] of members) {
    if (!CNF_MEMBERS.has(name) || typeof value !== 'string' || !/^[\w-]{43}$/.test(value)) return undefined;
  }
  return Object.freeze(Object.fromEntries(members) as TokenConfirmation);
}

const CNF_MEMBERS: ReadonlySet<string> = new Set(['jkt', CNF_X5T, CNF_TLS_EXPORTER]);

/** Whether `cnf` claims a DPoP key (well-formed or not). */
function hasJkt(cnf: unknown): boolean {
  return cnf !== null && typeof cnf === 'object' && !Array.isArray(cnf) && Object.hasOwn(cnf, 'jkt');
}

/** RFC 8693 §4.1 `act` (`{ sub, client_id? }`): its outermost actor, or `undefined` when it is not one (the token is then refused). */
export function actOf(act: unknown): VerifiedAccessToken['act'] | undefined {
  return actorsOf(act)?.[0];
}

/**
 * Every actor of an RFC 8693 §4.1 `act` claim, nested ones included, outermost first (frozen);
 * `undefined` when the claim or any nested `act` is not an actor object, or nests deeper than
 * {@link MAX_ACTORS} (the token is then refused).
 */
export function actorsOf(act: unknown): readonly TokenActor[] | undefined {
  const chain: TokenActor[] = [];
  for (let at: unknown = act; at !== undefined; ) {
    if (chain.length === MAX_ACTORS || at === null || typeof at !== 'object' || Array.isArray(at)) return undefined;
    const { sub, client_id: clientId, act: inner } = at as Record<string, unknown>;
    if (typeof sub !== 'string' || (clientId !== undefined && typeof clientId !== 'string')) return undefined;
    chain.push(Object.freeze(clientId === undefined ? { sub } : { sub, client_id: clientId }));
    at = inner;
  }
  return chain.length === 0 ? undefined : Object.freeze(chain);
}

function checkAlgorithms(algorithms: readonly string[]): readonly string[] {
  if (!Array.isArray(algorithms) || algorithms.length === 0) throw new KeyturnError('ERR_CONFIG', 'JWT verifier algorithms: at least one');
  for (const alg of algorithms) {
    if (typeof alg !== 'string' || alg.length === 0 || alg.toLowerCase() === 'none' || /^HS/i.test(alg)) {
      throw new KeyturnError('ERR_CONFIG', 'JWT verifier algorithms: only asymmetric algorithms (never none or HS*)');
    }
  }
  return algorithms;
}

function checkAudience(audience: string | readonly string[]): readonly string[] {
  const list = typeof audience === 'string' ? [audience] : audience;
  if (!Array.isArray(list) || list.length === 0 || list.some((a) => typeof a !== 'string' || a.length === 0)) {
    throw new KeyturnError('ERR_CONFIG', 'verifier audience: a non-empty string or list of strings');
  }
  return list;
}

export function checkHttpUrl(url: string, name: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new KeyturnError('ERR_CONFIG', `verifier ${name}: not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new KeyturnError('ERR_CONFIG', `verifier ${name}: must be http or https`);
  if (parsed.username || parsed.password) throw new KeyturnError('ERR_CONFIG', `verifier ${name}: must not carry credentials`);
}

export function nonNegative(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new KeyturnError('ERR_CONFIG', `verifier ${name}: must be a non-negative number`);
  return value;
}

export function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new KeyturnError('ERR_CONFIG', `verifier ${name}: must be a positive number`);
  return value;
}
