import { constants, createHash, createHmac, createPublicKey, timingSafeEqual, verify as verifySignature, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';

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

/** The RFC 7638 members of each key type, in lexicographic order (`kty` included). */
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = { EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'], RSA: ['e', 'kty', 'n'] };

/** The RFC 7638 SHA-256 thumbprint of `jwk`, `undefined` when a required member is missing or not a string. */
function thumbprintOf(jwk: Readonly<Record<string, unknown>>): string | undefined {
  const members = typeof jwk.kty === 'string' && Object.hasOwn(THUMBPRINT_MEMBERS, jwk.kty) ? THUMBPRINT_MEMBERS[jwk.kty]! : undefined;
  if (members === undefined) return undefined;
  const required: Record<string, string> = {};
  for (const member of members) {
    const value = jwk[member];
    if (typeof value !== 'string' || value.length === 0) return undefined;
    required[member] = value;
  }
  // JSON.stringify of an object built in lexicographic member order: RFC 7638 §3.3's form.
  return createHash('sha256').update(JSON.stringify(required)).digest('base64url');
}

/**
 * The RFC 7638 SHA-256 thumbprint of a public JWK, as `cnf.jkt` carries it (RFC 9449 §6.1): the
 * required members only, in lexicographic order, without white space.
 *
 * @example
 * ```ts
 * await dpopThumbprint({ kty: 'EC', crv: 'P-256', x: '…', y: '…' }); // '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I'
 * ```
 */
export async function dpopThumbprint(jwk: JWK): Promise<string> {
  const jkt = thumbprintOf(jwk as Record<string, unknown>);
  if (jkt === undefined) throw new TypeError('JWK: not an EC, OKP or RSA key with its required members');
  return jkt;
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

/** Normal forms of the request URIs seen lately: a resource serves few distinct ones, each normalised once. */
const htus = new Map<string, string | undefined>();
const MAX_HTUS = 1_024;

function normalizedRequestUrl(url: string): string | undefined {
  if (htus.has(url)) return htus.get(url);
  const normal = normalizeHtu(url);
  if (url.length <= 2_048) {
    if (htus.size >= MAX_HTUS) htus.delete(htus.keys().next().value!);
    htus.set(url, normal);
  }
  return normal;
}

/** How a proof's signature is checked, per `alg` (RFC 7518 §3, RFC 8037, RFC 9864): the key type it needs, and the check. */
interface ProofAlgorithm {
  /** `ec:<curve>`, `ed25519` or `rsa`. */
  readonly key: string;
  readonly verify: (data: Buffer, key: KeyObject, signature: Buffer) => boolean;
}

const ecdsa =
  (hash: string, size: number) =>
  (data: Buffer, key: KeyObject, signature: Buffer): boolean =>
    signature.length === size && verifySignature(hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
const rsa =
  (hash: string, pss: boolean) =>
  (data: Buffer, key: KeyObject, signature: Buffer): boolean =>
    verifySignature(hash, data, pss ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(hash.slice(3)) / 8 } : key, signature);
const eddsa = (data: Buffer, key: KeyObject, signature: Buffer): boolean => signature.length === 64 && verifySignature(null, data, key, signature);

const PROOF_ALGORITHMS: Readonly<Record<(typeof DPOP_ALGORITHMS)[number], ProofAlgorithm>> = {
  ES256: { key: 'ec:prime256v1', verify: ecdsa('sha256', 64) },
  ES384: { key: 'ec:secp384r1', verify: ecdsa('sha384', 96) },
  ES512: { key: 'ec:secp521r1', verify: ecdsa('sha512', 132) },
  EdDSA: { key: 'ed25519', verify: eddsa },
  Ed25519: { key: 'ed25519', verify: eddsa },
  PS256: { key: 'rsa', verify: rsa('sha256', true) },
  PS384: { key: 'rsa', verify: rsa('sha384', true) },
  PS512: { key: 'rsa', verify: rsa('sha512', true) },
  RS256: { key: 'rsa', verify: rsa('sha256', false) },
  RS384: { key: 'rsa', verify: rsa('sha384', false) },
  RS512: { key: 'rsa', verify: rsa('sha512', false) },
};

/**
 * A proof's protected header, read and its `jwk` imported once: a client signs every proof with
 * the same header (`typ`, `alg`, `jwk`), so the next proof finds it by the header's text.
 */
type ProofHeader =
  | { readonly ok: false; readonly reason: 'malformed' }
  | {
      readonly ok: true;
      readonly typ: unknown;
      readonly alg: unknown;
      /** `crit` names extensions; this server understands none (RFC 7515 §4.1.11). */
      readonly crit: boolean;
      /** The public key and its thumbprint, or why the `jwk` is refused. */
      readonly key: { readonly ok: true; readonly object: KeyObject; readonly type: string; readonly jkt: string } | { readonly ok: false };
    };

const headers = new Map<string, ProofHeader>();
const MAX_HEADERS = 4_096;
/** Headers longer than this (a 4096-bit RSA key's is ~900 characters) are read each time, not kept. */
const MAX_CACHED_HEADER = 2_048;

function proofHeader(segment: string): ProofHeader {
  let header = headers.get(segment);
  if (header === undefined) {
    header = readProofHeader(segment);
    if (segment.length <= MAX_CACHED_HEADER) {
      // First in, first out: a flood of invented headers cannot grow the map, only cycle it.
      if (headers.size >= MAX_HEADERS) headers.delete(headers.keys().next().value!);
      headers.set(segment, header);
    }
  }
  return header;
}

function readProofHeader(segment: string): ProofHeader {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { ok: false, reason: 'malformed' };
  const h = parsed as Record<string, unknown>;
  return { ok: true, typ: h.typ, alg: h.alg, crit: Object.hasOwn(h, 'crit'), key: publicKeyOf(h.jwk) };
}

/** The public key of a header's `jwk` (§4.3 step 7): a JSON object, not symmetric, no private member, importable as a public key. */
function publicKeyOf(jwk: unknown): Extract<ProofHeader, { ok: true }>['key'] {
  const refused = { ok: false } as const;
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) return refused;
  const j = jwk as Record<string, unknown>;
  if (typeof j.kty !== 'string' || j.kty === 'oct') return refused;
  if (PRIVATE_MEMBERS.some((member) => Object.hasOwn(j, member))) return refused;
  const jkt = thumbprintOf(j);
  if (jkt === undefined) return refused;
  let object: KeyObject;
  try {
    // Only the RFC 7638 members: nothing else of the header reaches the key import.
    object = createPublicKey({ key: thumbprintMembers(j) as import('node:crypto').JsonWebKey, format: 'jwk' });
  } catch {
    return refused;
  }
  if (object.type !== 'public') return refused;
  const kind = object.asymmetricKeyType;
  let type: string;
  if (kind === 'ec') type = `ec:${object.asymmetricKeyDetails?.namedCurve ?? ''}`;
  else if (kind === 'ed25519') type = 'ed25519';
  // RSA keys below 2048 bits are refused (RFC 7518 §3.3, §3.5).
  else if (kind === 'rsa' && (object.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) type = 'rsa';
  else return refused;
  return { ok: true, object, type, jkt };
}

function thumbprintMembers(jwk: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const member of THUMBPRINT_MEMBERS[jwk.kty as string]!) out[member] = jwk[member];
  return out;
}

/** The payload of a proof whose signature held: a JSON object, or `undefined`. */
function proofClaims(segment: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks a DPoP proof per RFC 9449 §4.3. Only an unexpected failure throws.
 *
 * The proof is read with `node:crypto` directly (not a generic JOSE library): its header is parsed,
 * checked and its key imported and thumbprinted once per distinct header (a bounded cache), and the
 * signature is one synchronous `crypto.verify` over the exact signing input.
 *
 * @example
 * ```ts
 * const r = await checkDpopProof({ proofs: req.headers.dpop, method: 'POST', url: `${origin}/oauth/token` }, { now: Date.now() });
 * if (r.valid && !(await replays.first(r.jkt, r.jti, r.replayUntil))) refuse('replay');
 * ```
 */
export async function checkDpopProof(request: DpopRequest, policy: DpopPolicy): Promise<DpopProof | DpopRefusal> {
  return verifyDpopProof(request, policy);
}

/** {@link checkDpopProof}, synchronously. */
export function verifyDpopProof(request: DpopRequest, policy: DpopPolicy): DpopProof | DpopRefusal {
  // 1. Exactly one DPoP header.
  if (request.proofs.length === 0) return refuse('missing');
  if (request.proofs.length > 1) return refuse('multiple');
  const proof = request.proofs[0]!;
  // 2. One well-formed JWT (compact JWS, three parts), of bounded size.
  if (typeof proof !== 'string' || proof.length > (policy.maxLength ?? 8192) || !COMPACT_JWS.test(proof)) return refuse('malformed');
  const first = proof.indexOf('.');
  const second = proof.indexOf('.', first + 1);
  const header = proofHeader(proof.slice(0, first));
  if (!header.ok) return refuse(header.reason);
  // 4. typ; 5. an allow-listed asymmetric algorithm; 7. a public jwk that fits the algorithm.
  if (header.typ !== 'dpop+jwt') return refuse('type');
  const alg = header.alg;
  if (typeof alg !== 'string' || !Object.hasOwn(PROOF_ALGORITHMS, alg) || !allowedBy(policy.algorithms, alg)) return refuse('algorithm');
  const algorithm = PROOF_ALGORITHMS[alg as keyof typeof PROOF_ALGORITHMS];
  if (!header.key.ok || header.key.type !== algorithm.key) return refuse('jwk');
  // No JWS extension is understood: a header naming any as critical is refused (RFC 7515 §4.1.11).
  if (header.crit) return refuse('malformed');
  const { jkt } = header.key;
  // The thumbprint first: a proof by another key than the token's is refused before any signature work.
  if (request.boundJkt !== undefined && !equal(jkt, request.boundJkt)) return refuse('key_mismatch');
  // 6. The signature, with the embedded key, over the exact signing input.
  let signed: boolean;
  try {
    signed = algorithm.verify(Buffer.from(proof.slice(0, second), 'latin1'), header.key.object, Buffer.from(proof.slice(second + 1), 'base64url'));
  } catch {
    signed = false;
  }
  if (!signed) return refuse('signature');
  const claims = proofClaims(proof.slice(first + 1, second));
  if (claims === undefined) return refuse('claims');
  // 3. Required claims, of the right types; `exp` and `nbf`, when a client adds them, hold too.
  const { jti, htm, htu, iat, exp, nbf } = claims;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256 || typeof htm !== 'string' || typeof htu !== 'string' || typeof iat !== 'number' || !Number.isFinite(iat)) {
    return refuse('claims');
  }
  const nowSec = policy.now / 1000;
  if ((exp !== undefined && (typeof exp !== 'number' || exp <= nowSec)) || (nbf !== undefined && (typeof nbf !== 'number' || nbf > nowSec))) return refuse('claims');
  // 8. htm; 9. htu.
  if (htm !== request.method.toUpperCase()) return refuse('htm');
  const expected = normalizedRequestUrl(request.url);
  if (expected === undefined || (htu !== request.url && normalizeHtu(htu) !== expected)) return refuse('htu');
  // 10. The server's nonce, when it asks for one.
  if (policy.nonce && !policy.nonce(typeof claims.nonce === 'string' ? claims.nonce : undefined)) return refuse('nonce', 'use_dpop_nonce');
  // 11. Created within the window.
  const maxAge = policy.maxAgeSec ?? 60;
  if (iat > nowSec + (policy.maxSkewSec ?? 5) || iat < nowSec - maxAge) return refuse('iat');
  // 12. With an access token: ath, and the key the token is bound to.
  if (request.accessToken !== undefined) {
    const ath = claims.ath;
    if (typeof ath !== 'string' || !equal(ath, accessTokenHash(request.accessToken))) return refuse('ath');
  }
  return { valid: true, jkt, jti, iat, replayUntil: (iat + maxAge) * 1000 + (policy.maxSkewSec ?? 5) * 1000, claims };
}

const COMPACT_JWS = /^[\w-]+\.[\w-]+\.[\w-]+$/;

/** Whether `alg` is in the policy's allow-list; `none` and `HS*` never are. */
function allowedBy(algorithms: readonly string[] | undefined, alg: string): boolean {
  if (alg === 'none' || /^HS/i.test(alg)) return false;
  return algorithms === undefined || algorithms.includes(alg);
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
