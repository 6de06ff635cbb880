import type { IncomingMessage, ServerResponse } from 'node:http';
import { debuglog } from 'node:util';
import { KeyturnError } from '../core/errors.js';
import { DPOP_ALGORITHMS } from '../core/dpop.js';
import type { DpopRequestReason, VerifiableRequest } from './dpop.js';
import type { RequestFailureCode, TokenFailureReason, VerifiedCredential, Verifier } from './types.js';

/** `NODE_DEBUG=keyturn` prints one line per refused request: the code and exact reason, never the credential. */
const debug = debuglog('keyturn');

declare module 'http' {
  interface IncomingMessage {
    /** The credential the keyturn middleware verified for this request. */
    keyturn?: VerifiedCredential;
  }
}

/**
 * Options of every middleware.
 *
 * @example
 * ```ts
 * const opts: MiddlewareOptions = { requiredScopes: ['orders:write'], realm: 'orders' };
 * ```
 */
export interface MiddlewareOptions {
  /** Scopes this route needs (all of them); default: the verifier's `requiredScopes`. */
  readonly requiredScopes?: readonly string[];
  /** `realm` of the `WWW-Authenticate` challenge (default `keyturn`). */
  readonly realm?: string;
  /**
   * Told why each request was refused, for the API server's own logs: the stable code and, for access
   * tokens, the exact reason (`audience`, `expired`, `key_unknown`, …). The client's answer stays the
   * RFC 6750 one and names no reason. Never given the credential.
   */
  readonly onRefused?: (refusal: RefusalReason) => void;
  /**
   * Where `Link: <…>; rel="sunset"` points when the presented API key is due for rotation or in its
   * grace (with `Sunset`, RFC 8594). Default: keyturn's rotation docs.
   */
  readonly rotationDocsUrl?: string;
}

const ROTATION_DOCS = 'https://github.com/keyturn/keyturn/blob/main/docs/rotation.md';

/**
 * `Sunset` (RFC 8594, an HTTP-date) and `Link: <docs>; rel="sunset"` for an API key that is due for
 * rotation, in its grace, or past a soft deadline; none otherwise (and for access tokens).
 *
 * @example
 * ```ts
 * sunsetHeaders(credential, Date.now()); // { sunset: 'Tue, 01 Jan 2030 01:00:00 GMT', link: '<…>; rel="sunset"' }
 * ```
 */
export function sunsetHeaders(credential: VerifiedCredential, now: number, docsUrl = ROTATION_DOCS): Record<string, string> {
  if (credential.kind !== 'api_key' || !credential.rotation) return {};
  const { status, dueAt, sunset, softDeadline } = credential.rotation;
  const due = status === 'rotating' || (dueAt !== null && Date.parse(dueAt) <= now) || (softDeadline !== null && Date.parse(softDeadline) <= now);
  if (!due) return {};
  return { ...(sunset ? { sunset: new Date(sunset).toUTCString() } : {}), link: `<${docsUrl}>; rel="sunset"` };
}

/** Adds {@link sunsetHeaders} to a node:http response. */
function announce(res: ServerResponse, decision: Extract<Decision, { ok: true }>, options: MiddlewareOptions): void {
  for (const [name, value] of Object.entries(sunsetHeaders(decision.credential, Date.now(), options.rotationDocsUrl))) res.setHeader(name, value);
  for (const [name, value] of Object.entries(decision.headers ?? {})) res.setHeader(name, value);
}

/**
 * Why a request was refused, for the API server (never sent to the client).
 *
 * @example
 * ```ts
 * nodeMiddleware(verifier, { onRefused: (r) => log.info(r, 'keyturn refused a request') });
 * // { status: 401, code: 'ERR_INVALID_TOKEN', reason: 'audience' }
 * ```
 */
export interface RefusalReason {
  readonly status: 400 | 401 | 403 | 503;
  readonly code: RequestFailureCode | 'ERR_INSUFFICIENT_SCOPE' | 'ERR_UPSTREAM';
  /** With `ERR_INVALID_TOKEN`: which check failed. */
  readonly reason?: TokenFailureReason;
  /** With `ERR_INVALID_DPOP_PROOF` / `ERR_USE_DPOP_NONCE`: which DPoP check failed (missing proof, wrong key, replay, stale nonce, …). */
  readonly dpopReason?: DpopRequestReason;
}

/**
 * The RFC 6750 error body the middleware sends.
 *
 * @example
 * ```json
 * { "error": "invalid_token", "error_description": "the API key is invalid, expired or revoked" }
 * ```
 */
export interface BearerErrorBody {
  readonly error: 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'unauthorized' | 'temporarily_unavailable' | 'invalid_dpop_proof' | 'use_dpop_nonce';
  readonly error_description: string;
  /** With `insufficient_scope`: the scopes needed, space-separated (RFC 6749 §3.3). */
  readonly scope?: string;
}

/**
 * The outcome of {@link authorize}: the credential, or the exact answer to send.
 *
 * @example
 * ```ts
 * const d = await authorize(verifier, req);
 * if (!d.ok) { res.writeHead(d.status, d.headers); res.end(JSON.stringify(d.body)); }
 * ```
 */
export type Decision =
  | {
      readonly ok: true;
      readonly credential: VerifiedCredential;
      /** Headers for the response: a fresh `DPoP-Nonce` when the verifier requires nonces (RFC 9449 §8.2), so clients need no 401 when the nonce window turns. */
      readonly headers?: Readonly<Record<string, string>>;
    }
  | {
      readonly ok: false;
      readonly status: 400 | 401 | 403 | 503;
      readonly headers: Readonly<Record<string, string>>;
      readonly body: BearerErrorBody;
      /** Why, for the API server's logs (see {@link RefusalReason}); not part of the answer. */
      readonly why: RefusalReason;
    };

const DESCRIPTIONS = {
  missing: 'authentication required: send Authorization: Bearer <API key>',
  malformed: 'malformed Authorization header: expected Bearer <API key>',
  invalid: 'the API key is invalid, expired or revoked',
  invalidToken: 'the access token is invalid, expired or revoked',
  scope: 'the API key lacks a scope this request needs',
  scopeToken: 'the access token lacks a scope this request needs',
  outage: 'credential verification is temporarily unavailable',
  dpopProof: 'the DPoP proof is missing or invalid for this request and token',
  dpopNonce: 'the DPoP proof must carry the nonce of the DPoP-Nonce header',
} as const;

/** RFC 9110 quoted-string content we accept in a realm: visible ASCII and space, no `"` or `\`. */
const SAFE_QUOTED = /^[\x20\x21\x23-\x5B\x5D-\x7E]*$/;

function realmOf(options: MiddlewareOptions): string {
  const realm = options.realm ?? 'keyturn';
  if (!SAFE_QUOTED.test(realm) || realm.length > 256) {
    throw new KeyturnError('ERR_CONFIG', 'middleware realm: printable ASCII without " or \\, at most 256 characters');
  }
  return realm;
}

/** `Bearer realm="…"[, error="…", error_description="…"][, scope="…"]` (RFC 6750 §3). */
function challenge(realm: string, error?: string, description?: string, scope?: string): string {
  let value = `Bearer realm="${realm}"`;
  if (error !== undefined) value += `, error="${error}"`;
  if (description !== undefined) value += `, error_description="${description}"`;
  if (scope !== undefined) value += `, scope="${scope}"`;
  return value;
}

/** `DPoP [realm="…", ]error="…", error_description="…", algs="…"` (RFC 9449 §7.1). */
function dpopChallenge(realm: string, algs: readonly string[], error: string, description: string, scope?: string): string {
  let value = `DPoP realm="${realm}", error="${error}", error_description="${description}"`;
  if (scope !== undefined) value += `, scope="${scope}"`;
  return `${value}, algs="${algs.join(' ')}"`;
}

type Refusal = Extract<Decision, { ok: false }>;

function refuse(why: RefusalReason, body: BearerErrorBody, wwwAuthenticate?: string): Refusal {
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
  if (wwwAuthenticate !== undefined) headers['www-authenticate'] = wwwAuthenticate;
  if (why.status === 503) headers['retry-after'] = '1';
  return { ok: false, status: why.status, headers, body, why };
}

/** Tells the API server why (hook and `NODE_DEBUG=keyturn`), then hands the refusal on. */
function told(options: MiddlewareOptions, refusal: Refusal): Refusal {
  const { why } = refusal;
  const detail = why.reason ?? why.dpopReason;
  debug('refused: %d %s%s', why.status, why.code, detail === undefined ? '' : ` (${detail})`);
  options.onRefused?.(why);
  return refusal;
}

/**
 * Decides a request for any framework: verifies its Bearer credential and required scopes and
 * returns either the credential or the RFC 6750 answer to send —
 * 401 without an error code when there is no Bearer credential, 400 `invalid_request` for a
 * malformed header, 401 `invalid_token` for a refused key or access token, 403 `insufficient_scope` with the
 * `scope` needed, and 503 `temporarily_unavailable` when keyturn cannot be reached.
 *
 * @example
 * ```ts
 * const decision = await authorize(verifier, req, { requiredScopes: ['read'] });
 * if (decision.ok) serve(decision.credential);
 * else send(decision.status, decision.headers, decision.body);
 * ```
 */
export async function authorize(
  verifier: Verifier,
  req: VerifiableRequest,
  options: MiddlewareOptions = {},
): Promise<Decision> {
  return decide(verifier, req, options, realmOf(options));
}

async function decide(
  verifier: Verifier,
  req: VerifiableRequest,
  options: MiddlewareOptions,
  realm: string,
): Promise<Decision> {
  const decision = await judge(verifier, req, options, realm);
  return decision.ok ? decision : told(options, decision);
}

async function judge(
  verifier: Verifier,
  req: VerifiableRequest,
  options: MiddlewareOptions,
  realm: string,
): Promise<Decision> {
  let result;
  try {
    result = await verifier.verifyRequest(req, options.requiredScopes === undefined ? {} : { requiredScopes: options.requiredScopes });
  } catch (err) {
    if (err instanceof KeyturnError && err.code === 'ERR_UPSTREAM') {
      return refuse({ status: 503, code: 'ERR_UPSTREAM' }, { error: 'temporarily_unavailable', error_description: DESCRIPTIONS.outage });
    }
    throw err;
  }
  if (result.valid) {
    // A request in the DPoP scheme gets the current nonce with its answer (RFC 9449 §8.2): it is the next proof's.
    const nonce = result.kind === 'api_key' || !/^\s*dpop\s/i.test(req.headers.authorization ?? '') ? undefined : verifier.dpopNonce?.();
    return nonce === undefined ? { ok: true, credential: result } : { ok: true, credential: result, headers: { 'dpop-nonce': nonce } };
  }
  // A request in the DPoP scheme, or a DPoP-bound token sent as Bearer, is answered with a DPoP challenge.
  const algs = verifier.dpopAlgorithms ?? DPOP_ALGORITHMS;
  const dpop = /^\s*dpop\s/i.test(req.headers.authorization ?? '') || (result.code === 'ERR_INVALID_TOKEN' && result.reason === 'bound');
  switch (result.code) {
    case 'ERR_INVALID_DPOP_PROOF':
    case 'ERR_USE_DPOP_NONCE': {
      const nonce = result.code === 'ERR_USE_DPOP_NONCE';
      const error = nonce ? 'use_dpop_nonce' : 'invalid_dpop_proof';
      const description = nonce ? DESCRIPTIONS.dpopNonce : DESCRIPTIONS.dpopProof;
      const refusal = refuse({ status: 401, code: result.code, dpopReason: result.dpopReason }, { error, error_description: description }, dpopChallenge(realm, algs, error, description));
      return result.nonce === undefined ? refusal : { ...refusal, headers: { ...refusal.headers, 'dpop-nonce': result.nonce } };
    }
    case 'ERR_UNAUTHENTICATED':
      return refuse({ status: 401, code: result.code }, { error: 'unauthorized', error_description: DESCRIPTIONS.missing }, challenge(realm));
    case 'ERR_VALIDATION':
      return refuse(
        { status: 400, code: result.code },
        { error: 'invalid_request', error_description: DESCRIPTIONS.malformed },
        challenge(realm, 'invalid_request', DESCRIPTIONS.malformed),
      );
    case 'ERR_INSUFFICIENT_SCOPE': {
      const scope = result.requiredScopes.join(' ');
      const description = result.credential.kind === 'api_key' ? DESCRIPTIONS.scope : DESCRIPTIONS.scopeToken;
      return refuse(
        { status: 403, code: result.code },
        { error: 'insufficient_scope', error_description: description, scope },
        dpop
          ? dpopChallenge(realm, algs, 'insufficient_scope', description, SAFE_QUOTED.test(scope) ? scope : undefined)
          : challenge(realm, 'insufficient_scope', description, SAFE_QUOTED.test(scope) ? scope : undefined),
      );
    }
    default: {
      // The same description for every reason of a kind: the client learns nothing about which credentials exist.
      const description = result.code === 'ERR_INVALID_TOKEN' ? DESCRIPTIONS.invalidToken : DESCRIPTIONS.invalid;
      const why: RefusalReason = result.reason === undefined ? { status: 401, code: result.code } : { status: 401, code: result.code, reason: result.reason };
      return refuse(why, { error: 'invalid_token', error_description: description }, dpop ? dpopChallenge(realm, algs, 'invalid_token', description) : challenge(realm, 'invalid_token', description));
    }
  }
}

function send(res: ServerResponse, decision: Refusal): void {
  const body = JSON.stringify(decision.body);
  res.writeHead(decision.status, { ...decision.headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

/**
 * Connect-style middleware for node:http: on success sets `req.keyturn` and calls `next()`;
 * otherwise answers 400/401/403/503 per RFC 6750 and does not call `next`. An unexpected error
 * goes to `next(err)`.
 *
 * @example
 * ```ts
 * const guard = nodeMiddleware(verifier, { requiredScopes: ['read'] });
 * http.createServer((req, res) => guard(req, res, (err) => {
 *   if (err) { res.statusCode = 500; return res.end(); }
 *   res.end(`hello ${req.keyturn!.principal}`);
 * }));
 * ```
 */
export function nodeMiddleware(
  verifier: Verifier,
  options: MiddlewareOptions = {},
): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
  const realm = realmOf(options);
  return (req, res, next) => {
    decide(verifier, req, options, realm).then(
      (decision) => {
        if (decision.ok) {
          req.keyturn = decision.credential;
          announce(res, decision, options);
          next();
        } else send(res, decision);
      },
      (err: unknown) => next(err),
    );
  };
}

/**
 * Wraps a node:http request handler so it only runs for verified requests; the handler gets the
 * credential as its third argument (also on `req.keyturn`). An unexpected error answers 500.
 *
 * @example
 * ```ts
 * const server = http.createServer(withKeyturn(verifier, (req, res, credential) => {
 *   res.end(`hello ${credential.principal}`);
 * }, { requiredScopes: ['read'] }));
 * ```
 */
export function withKeyturn(
  verifier: Verifier,
  handler: (req: IncomingMessage, res: ServerResponse, credential: VerifiedCredential) => void | Promise<void>,
  options: MiddlewareOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const realm = realmOf(options);
  const fail = (res: ServerResponse) => {
    if (res.headersSent) res.destroy();
    else send(res, told(options, refuse({ status: 503, code: 'ERR_UPSTREAM' }, { error: 'temporarily_unavailable', error_description: DESCRIPTIONS.outage })));
  };
  return (req, res) => {
    decide(verifier, req, options, realm).then(
      async (decision) => {
        if (!decision.ok) return send(res, decision);
        req.keyturn = decision.credential;
        announce(res, decision, options);
        try {
          await handler(req, res, decision.credential);
        } catch {
          if (res.headersSent) res.destroy();
          else {
            res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
            res.end('{"error":"server_error"}');
          }
        }
      },
      () => fail(res),
    );
  };
}

/**
 * Express (4 or 5) middleware: on success sets `req.keyturn` and calls `next()`; otherwise answers
 * per RFC 6750 (see {@link authorize}). Unexpected errors go to `next(err)`.
 *
 * @example
 * ```ts
 * const app = express();
 * app.use('/api', expressMiddleware(verifier, { requiredScopes: ['read'] }));
 * app.get('/api/me', (req, res) => res.json({ principal: req.keyturn?.principal }));
 * ```
 */
export function expressMiddleware(
  verifier: Verifier,
  options: MiddlewareOptions = {},
): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
  return nodeMiddleware(verifier, options);
}

/** The part of a fastify request the hook uses (no fastify import: the verifier stands alone). */
export interface FastifyLikeRequest {
  readonly raw: IncomingMessage;
  keyturn?: VerifiedCredential;
}

/** The part of a fastify reply the hook uses. */
export interface FastifyLikeReply {
  code(status: number): FastifyLikeReply;
  headers(values: Record<string, string>): FastifyLikeReply;
  send(payload: unknown): FastifyLikeReply;
}

/**
 * A fastify `onRequest` (or `preHandler`) hook: on success sets `request.keyturn` (and
 * `request.raw.keyturn`); otherwise answers per RFC 6750 (see {@link authorize}). Declare the
 * decoration once for speed and types: `app.decorateRequest('keyturn', undefined)` and
 * `declare module 'fastify' { interface FastifyRequest { keyturn?: VerifiedCredential } }`.
 *
 * @example
 * ```ts
 * app.addHook('onRequest', fastifyHook(verifier));
 * app.post('/orders', { onRequest: fastifyHook(verifier, { requiredScopes: ['orders:write'] }) }, handler);
 * ```
 */
export function fastifyHook(
  verifier: Verifier,
  options: MiddlewareOptions = {},
): (request: FastifyLikeRequest, reply: FastifyLikeReply) => Promise<unknown> {
  const realm = realmOf(options);
  return async (request, reply) => {
    const decision = await decide(verifier, request.raw, options, realm);
    if (decision.ok) {
      request.keyturn = decision.credential;
      request.raw.keyturn = decision.credential;
      const headers = { ...sunsetHeaders(decision.credential, Date.now(), options.rotationDocsUrl), ...decision.headers };
      if (Object.keys(headers).length > 0) reply.headers(headers);
      return undefined;
    }
    reply.code(decision.status).headers({ ...decision.headers }).send(decision.body);
    return reply;
  };
}
