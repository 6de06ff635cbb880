import { KeyturnError } from '../core/errors.js';
import { secretDigest } from '../core/secret.js';
import { DeadlineCache } from './cache.js';
import { actorsOf, cnfOf, MAX_DATE_SEC, TOKEN_FAILURES } from './jwt.js';
import { checkConfirmation, type Presentation } from './tls-binding.js';
import type { VerifiedAccessToken, VerifyFailure, VerifyResult } from './types.js';

/** Largest introspection answer read; keyturn's is a few hundred bytes. */
const MAX_ANSWER_BYTES = 64 * 1024;
const NO_SCOPES: readonly string[] = Object.freeze([]);

/**
 * Options of {@link Introspector}.
 *
 * @example
 * ```ts
 * const o: IntrospectorOptions = { url: `${issuer}/oauth/introspect`, clientId, clientSecret, issuer, audience: ['https://api.example'], ttlMs: 30_000, maxEntries: 10_000, timeoutMs: 5_000, fetch, now: Date.now };
 * ```
 */
export interface IntrospectorOptions {
  /** The introspection endpoint, or a function finding it (e.g. from discovery). */
  readonly url: string | (() => string | Promise<string>);
  readonly clientId: string;
  readonly clientSecret: string;
  /** Expected `iss` when the answer carries one. */
  readonly issuer: string;
  /** Accepted `aud` values: the answer must name one of them. */
  readonly audience: readonly string[];
  readonly ttlMs: number;
  readonly maxEntries: number;
  readonly timeoutMs: number;
  readonly fetch: typeof globalThis.fetch;
  readonly now: () => number;
}

/**
 * Checks opaque access tokens through RFC 7662 introspection, authenticated as an OAuth client
 * with `client_secret_basic` (RFC 6749 §2.3.1: id and secret form-encoded, then Base64).
 *
 * - `active: false` is a refusal (`ERR_INVALID_TOKEN`, reason `inactive`); so is an active answer
 *   for another audience or issuer, or for a refresh token. A sender-constrained token (`cnf`) is
 *   checked against each request (its DPoP proof, its connection), and refused (`cnf`) when it has
 *   a member this verifier cannot check.
 * - `active: true` answers are cached by the token's SHA-256 digest for at most `ttlMs` and never
 *   past the token's `exp`, in at most `maxEntries` entries. Refusals are not cached.
 * - Concurrent checks of the same uncached token share one request.
 * - Only an outage (network error, timeout, an answer other than 200 — e.g. 401 for wrong client
 *   credentials — or one it cannot read) throws, as `KeyturnError` `ERR_UPSTREAM`.
 *
 * @example
 * ```ts
 * const introspector = new Introspector(options);
 * const r = await introspector.verify('kta_…');
 * ```
 */
export class Introspector {
  readonly #o: IntrospectorOptions;
  readonly #authorization: string;
  readonly #audience: ReadonlySet<string>;
  readonly #cache: DeadlineCache<VerifiedAccessToken>;
  readonly #inflight = new Map<string, Promise<VerifyResult>>();
  requests = 0;
  hits = 0;

  constructor(options: IntrospectorOptions) {
    this.#o = options;
    const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
    this.#authorization = `Basic ${Buffer.from(`${enc(options.clientId)}:${enc(options.clientSecret)}`).toString('base64')}`;
    this.#audience = new Set(options.audience);
    this.#cache = new DeadlineCache(options.ttlMs > 0 ? options.maxEntries : 0);
  }

  get size(): number {
    return this.#cache.size;
  }

  clear(): void {
    this.#cache.clear();
  }

  /**
   * Checks an opaque access token (already known to have an access-token prefix and a valid
   * checksum). A DPoP-bound one is refused (reason `bound`); TLS-bound ones are checked against
   * `presentation`'s connection (`certificate`, `tls_session`).
   */
  async verify(token: string, presentation?: Presentation): Promise<VerifyResult> {
    return confirmed(await this.#verify(token), presentation, false);
  }

  /**
   * Checks an opaque access token that may be DPoP-bound: its `cnf` comes back on the result for
   * the caller to check the proof against `cnf.jkt`; TLS members are checked as by {@link verify}.
   */
  async verifyBound(token: string, presentation?: Presentation): Promise<VerifyResult> {
    return confirmed(await this.#verify(token), presentation, true);
  }

  /** The cached or asked answer, the binding not checked yet (it depends on each request). */
  #verify(token: string): Promise<VerifyResult> {
    const digest = secretDigest(token);
    const cached = this.#cache.get(digest, this.#o.now());
    if (cached !== undefined) {
      this.hits++;
      return Promise.resolve(cached);
    }
    const pending = this.#inflight.get(digest);
    if (pending !== undefined) return pending;
    const request = this.#ask(digest, token).finally(() => this.#inflight.delete(digest));
    this.#inflight.set(digest, request);
    return request;
  }

  async #ask(digest: string, token: string): Promise<VerifyResult> {
    this.requests++;
    const url = typeof this.#o.url === 'string' ? this.#o.url : await this.#o.url();
    let res: Response;
    let text: string;
    try {
      res = await this.#o.fetch(url, {
        method: 'POST',
        headers: { authorization: this.#authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: `token=${encodeURIComponent(token)}&token_type_hint=access_token`,
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      });
      text = await res.text();
    } catch (cause) {
      throw new KeyturnError('ERR_UPSTREAM', 'the introspection endpoint could not be reached', { cause });
    }
    if (res.status !== 200) throw new KeyturnError('ERR_UPSTREAM', `the introspection endpoint answered HTTP ${res.status}`, { details: { status: res.status } });
    if (text.length > MAX_ANSWER_BYTES) throw new KeyturnError('ERR_UPSTREAM', 'the introspection answer is too large');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (body === null || typeof body !== 'object' || typeof (body as { active?: unknown }).active !== 'boolean') {
      throw new KeyturnError('ERR_UPSTREAM', 'the introspection answer is not an RFC 7662 response');
    }
    const now = this.#o.now();
    const result = this.#read(body as Record<string, unknown>, now);
    if (result.valid) this.#cache.set(digest, result, Math.min(now + this.#o.ttlMs, Date.parse(result.expiresAt)), now);
    return result;
  }

  /** Reads an RFC 7662 §2.2 answer as the resource server this verifier serves. */
  #read(b: Record<string, unknown>, now: number): VerifiedAccessToken | VerifyFailure {
    if (b.active !== true) return TOKEN_FAILURES.inactive;
    const { sub, client_id: clientId, scope, exp, iss, aud, jti, token_type: tokenType, cnf, act } = b;
    const confirmation = cnf === undefined ? undefined : cnfOf(cnf);
    if (cnf !== undefined && confirmation === undefined) return TOKEN_FAILURES.cnf;
    // RFC 9449 §6.2: a DPoP-bound token is introspected as token_type DPoP.
    const type = typeof tokenType === 'string' ? tokenType.toLowerCase() : tokenType;
    if (type !== undefined && type !== 'bearer' && !(type === 'dpop' && confirmation?.jkt !== undefined)) return TOKEN_FAILURES.type;
    if (iss !== undefined && iss !== this.#o.issuer) return TOKEN_FAILURES.issuer;
    const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
    if (!audiences.some((a) => typeof a === 'string' && this.#audience.has(a))) return TOKEN_FAILURES.audience;
    if (typeof sub !== 'string' || typeof clientId !== 'string' || typeof exp !== 'number' || !(Math.abs(exp) < MAX_DATE_SEC)) return TOKEN_FAILURES.claims;
    if ((scope !== undefined && typeof scope !== 'string') || (jti !== undefined && typeof jti !== 'string')) return TOKEN_FAILURES.claims;
    if (exp * 1000 <= now) return TOKEN_FAILURES.expired;
    const actors = act === undefined ? undefined : actorsOf(act);
    if (act !== undefined && actors === undefined) return TOKEN_FAILURES.claims;
    const result: VerifiedAccessToken = {
      valid: true,
      kind: 'opaque',
      sub,
      principal: sub,
      clientId,
      scopes: scope === undefined || scope === '' ? NO_SCOPES : Object.freeze(scope.split(' ').filter((s) => s.length > 0)),
      expiresAt: new Date(exp * 1000).toISOString(),
      tokenId: jti ?? null,
      ...(actors === undefined ? {} : { act: actors[0]!, actors }),
      ...(confirmation === undefined ? {} : { cnf: confirmation }),
    };
    return Object.freeze(result);
  }
}

/** A valid answer whose `cnf` does not hold for this presentation becomes its refusal (checked on every use, cached or not). */
function confirmed(result: VerifyResult, presentation: Presentation | undefined, viaDpop: boolean): VerifyResult {
  if (!result.valid || result.kind === 'api_key' || result.cnf === undefined) return result;
  const refused = checkConfirmation(result.cnf, presentation, viaDpop);
  return refused === undefined ? result : TOKEN_FAILURES[refused];
}
