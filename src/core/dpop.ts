import { createHash, createHmac, createPublicKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, errors, jwtVerify, type JWK } from 'jose';

/**
 * DPoP proofs (RFC 9449): the checks of §4.3 as one pure function of the proof, the request and
 * (at a resource) the access token — no store, no HTTP. Replay (`jti`) is the caller's: the result
 * carries what to remember and for how long.
 */

/** Asymmetric algorithms accepted by default; `none` and every `HS*` can never be configured. */
export const DPOP_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'] as const;

/** Why a proof was refused (recorded in events; the client gets the RFC 9449 error only). */
export const DPOP_FAILURES = [
  'missing',
  'multiple',
  'malformed',
  'type',
  'algorithm',
  'jwk',
  'signature',
  'claims',
  'htm',
  'htu',
  'iat',
  'ath',
  'nonce',
  'key_mismatch',
] as const;
export type DpopFailure = (typeof DPOP_FAILURES)[number];

/** Members of a JWK that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** What a proof must match: the request it came with. */
export interface DpopRequest {
  /** Every `DPoP` header value the request carried (more than one is refused, §4.3 step 1). */
  readonly proofs: readonly string[];
  /** The request's HTTP method. */
  readonly method: string;
  /** The request's URI as this server knows it from its configured public origin (query and fragment are ignored). */
  readonly url: string;
  /** At a resource: the access token presented with the proof (for `ath`). */
  readonly accessToken?: string;
  /** At a resource: the thumbprint the token is bound to (`cnf.jkt`). */
  readonly boundJkt?: string;
}

export interface DpopPolicy {
  /** Epoch milliseconds. */
  readonly now: number;
  /** How far back `iat` may lie (default 60 s) and ahead of our clock (default 5 s). */
  readonly maxAgeSec?: number;
  readonly maxSkewSec?: number;
  /** Accepted algorithms (default {@link DPOP_ALGORITHMS}); anything symmetric is refused regardless. */
  readonly algorithms?: readonly string[];
  /** When set, the proof's `nonce` must be one this accepts (`use_dpop_nonce` otherwise). */
  readonly nonce?: (value: string | undefined) => boolean;
  /** Largest proof accepted, in characters (default 8 192). */
  readonly maxLength?: number;
}

/** A proof that passed every check. */
export interface DpopProof {
  readonly valid: true;
  /** RFC 7638 SHA-256 thumbprint of the proof's public key: what `cnf.jkt` carries. */
  readonly jkt: string;
  readonly jti: string;
  /** `iat`, epoch seconds. */
  readonly iat: number;
  /** Until when (epoch ms) the `jti` must be remembered to refuse a replay. */
  readonly replayUntil: number;
  /** All claims, for extensions (e.g. a channel binding claim). */
  readonly claims: Readonly<Record<string, unknown>>;
}

/** A refused proof: the RFC 9449 error to answer and the exact reason. */
export interface DpopRefusal {
  readonly valid: false;
  /** `use_dpop_nonce` asks the client to retry with the nonce in `DPoP-Nonce`; else the proof is bad. */
  readonly error: 'invalid_dpop_proof' | 'use_dpop_nonce';
  readonly reason: DpopFailure;
}

const refuse = (reason: DpopFailure, error: DpopRefusal['error'] = 'invalid_dpop_proof'): DpopRefusal => ({ valid: false, error, reason });

/**
 * The RFC 7638 SHA-256 thumbprint of a public JWK, as `cnf.jkt` carries it (RFC 9449 §6.1): the
 * required members only, in lexicographic order, without white space.
 *
 * @example
 * ```ts
 * await dpopThumbprint({ kty: 'EC', crv: 'P-256', x: '…', y: '…' }); // '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I'
 * ```
 */
export function dpopThumbprint(jwk: JWK): Promise<string> {
  return calculateJwkThumbprint(jwk, 'sha256');
}

/** `ath`: base64url SHA-256 of the access token's ASCII (RFC 9449 §4.2). */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'ascii').digest('base64url');
}

const UNRESERVED = /%(2[DE]|3[0-9]|[46][1-9A-F]|[57][0-9A]|5F|7E)/gi;

/**
 * `htu` comparison form (RFC 9449 §4.3 step 9, RFC 3986 §6.2.2–6.2.3): scheme and host in lower
 * case, default port dropped, dot segments removed, an empty path as `/`, percent-encodings in upper
 * case with unreserved characters decoded; no query, no fragment. `undefined` for a non-http(s) URI.
 *
 * @example
 * ```ts
 * normalizeHtu('HTTPS://Server.Example.COM:443/a/../token?x=1'); // 'https://server.example.com/token'
 * ```
 */
export function normalizeHtu(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  const path = url.pathname.replace(/%[0-9a-f]{2}/gi, (m) => m.toUpperCase()).replace(UNRESERVED, (m) => String.fromCharCode(Number.parseInt(m.slice(1), 16)));
  return `${url.protocol}//${url.host}${path || '/'}`;
}

/**
 * Checks a DPoP proof per RFC 9449 §4.3. Only an unexpected failure throws.
 *
 * @example
 * ```ts
 * const r = await checkDpopProof({ proofs: req.headers.dpop, method: 'POST', url: `${origin}/oauth/token` }, { now: Date.now() });
 * if (r.valid && !(await replays.first(r.jkt, r.jti, r.replayUntil))) refuse('replay');
 * ```
 */
export async function checkDpopProof(request: DpopRequest, policy: DpopPolicy): Promise<DpopProof | DpopRefusal> {
  // 1. Exactly one DPoP header.
  if (request.proofs.length === 0) return refuse('missing');
  if (request.proofs.length > 1) return refuse('multiple');
  const proof = request.proofs[0]!;
  // 2. One well-formed JWT (compact JWS, three parts), of bounded size.
  if (proof.length > (policy.maxLength ?? 8192) || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(proof)) return refuse('malformed');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    return refuse('malformed');
  }
  // 4. typ; 5. an allow-listed asymmetric algorithm; 7. a public jwk.
  if (header.typ !== 'dpop+jwt') return refuse('type');
  const allowed = (policy.algorithms ?? DPOP_ALGORITHMS).filter((alg) => alg !== 'none' && !/^HS/i.test(alg));
  if (typeof header.alg !== 'string' || !allowed.includes(header.alg)) return refuse('algorithm');
  const jwk = header.jwk as JWK | undefined;
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk) || typeof jwk.kty !== 'string' || jwk.kty === 'oct') return refuse('jwk');
  if (PRIVATE_MEMBERS.some((member) => member in jwk)) return refuse('jwk');
  // The thumbprint first: a proof by another key than the token's is refused before any signature
  // work, and a client's key, imported once, is found again by it.
  let jkt: string;
  let key: KeyObject;
  try {
    jkt = await dpopThumbprint(jwk);
    key = publicKeyFor(jkt, jwk);
  } catch {
    return refuse('jwk');
  }
  if (request.boundJkt !== undefined && !equal(jkt, request.boundJkt)) return refuse('key_mismatch');
  // 6. The signature, with the embedded key.
  let claims: Record<string, unknown>;
  try {
    ({ payload: claims } = await jwtVerify(proof, key, { typ: 'dpop+jwt', algorithms: allowed, currentDate: new Date(policy.now) }));
  } catch (err) {
    if (err instanceof errors.JWSSignatureVerificationFailed) return refuse('signature');
    if (err instanceof errors.JWTClaimValidationFailed || err instanceof errors.JWTInvalid) return refuse('claims');
    if (err instanceof errors.JOSEError) return refuse(err instanceof errors.JWSInvalid ? 'jwk' : 'malformed');
    throw err;
  }
  // 3. Required claims, of the right types.
  const { jti, htm, htu, iat } = claims;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256 || typeof htm !== 'string' || typeof htu !== 'string' || typeof iat !== 'number' || !Number.isFinite(iat)) {
    return refuse('claims');
  }
  // 8. htm; 9. htu.
  if (htm !== request.method.toUpperCase()) return refuse('htm');
  const expected = normalizeHtu(request.url);
  if (expected === undefined || normalizeHtu(htu) !== expected) return refuse('htu');
  // 10. The server's nonce, when it asks for one.
  if (policy.nonce && !policy.nonce(typeof claims.nonce === 'string' ? claims.nonce : undefined)) return refuse('nonce', 'use_dpop_nonce');
  // 11. Created within the window.
  const nowSec = policy.now / 1000;
  const maxAge = policy.maxAgeSec ?? 60;
  if (iat > nowSec + (policy.maxSkewSec ?? 5) || iat < nowSec - maxAge) return refuse('iat');
  // 12. With an access token: ath, and the key the token is bound to.
  if (request.accessToken !== undefined) {
    const ath = claims.ath;
    if (typeof ath !== 'string' || !equal(ath, accessTokenHash(request.accessToken))) return refuse('ath');
  }
  return { valid: true, jkt, jti, iat, replayUntil: (iat + maxAge) * 1000 + (policy.maxSkewSec ?? 5) * 1000, claims };
}

/** Public keys of recent proofs by thumbprint: a client signs every proof with one key. */
const keys = new Map<string, KeyObject>();
const MAX_KEYS = 10_000;

/** The key of `jwk` (whose thumbprint is `jkt`), imported once; throws for a JWK that is not a usable public key. */
function publicKeyFor(jkt: string, jwk: JWK): KeyObject {
  let key = keys.get(jkt);
  if (key === undefined) {
    key = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    if (key.type !== 'public') throw new Error('not a public key');
    if (keys.size >= MAX_KEYS) keys.clear();
    keys.set(jkt, key);
  }
  return key;
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Stateless server nonces (RFC 9449 §8), shared by every node through one configured secret:
 * `base64url(window || HMAC-SHA256(secret, window)[0..16])`, where `window` counts `periodMs`
 * steps. A nonce is accepted during its window and the next, so a client that fetched one just
 * before a window turned keeps working.
 *
 * @example
 * ```ts
 * const nonces = new DpopNonces(secret, { now: () => Date.now() });
 * res.setHeader('DPoP-Nonce', nonces.current());
 * checkDpopProof(request, { now: Date.now(), nonce: (n) => nonces.accepts(n) });
 * ```
 */
export class DpopNonces {
  readonly #secret: Uint8Array;
  readonly #periodMs: number;
  readonly #now: () => number;

  constructor(secret: Uint8Array, options: { periodMs?: number; now: () => number }) {
    if (secret.length < 32) throw new Error('DPoP nonce secret: at least 32 bytes');
    this.#secret = secret;
    this.#periodMs = options.periodMs ?? 300_000;
    this.#now = options.now;
  }

  #nonceFor(window: number): string {
    const w = Buffer.alloc(8);
    w.writeBigUInt64BE(BigInt(window));
    const mac = createHmac('sha256', this.#secret).update(w).digest().subarray(0, 16);
    return Buffer.concat([w, mac]).toString('base64url');
  }

  /** The nonce to hand out now (`DPoP-Nonce`). */
  current(): string {
    return this.#nonceFor(Math.floor(this.#now() / this.#periodMs));
  }

  /** Whether `value` is this or the previous window's nonce. */
  accepts(value: string | undefined): boolean {
    if (value === undefined || value.length !== 32) return false;
    const window = Math.floor(this.#now() / this.#periodMs);
    return equal(value, this.#nonceFor(window)) || equal(value, this.#nonceFor(window - 1));
  }
}
