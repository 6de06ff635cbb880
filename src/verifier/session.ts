import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { channelExporterDigest, requestConnection, socketChannel } from '../core/channel.js';
import { KeyturnError } from '../core/errors.js';
import { readAuthorization } from './dpop.js';
import { checkHttpUrl, positive } from './jwt.js';
import type { Verifier } from './types.js';

/**
 * A session endpoint an API server mounts on its own TLS listener: a client holding a keyturn
 * access token or API key exchanges it for a token bound to the TLS 1.3 connection it is talking
 * to the API server on (RFC 9266 `tls-exporter`, `cnf["tls_exporter#S256"]`).
 *
 * Design: keyturn stays the authority. The endpoint checks what only it can see — that the
 * connection is TLS 1.3 and that the holder's exporter digest equals its own (a TLS-terminating
 * middlebox makes them differ) — verifies the presented credential on that connection with the
 * embedded verifier, then asks keyturn for the token by token exchange (RFC 8693), authenticated
 * as its own keyturn client and relaying the digest (`holder_tls_exporter`). keyturn believes the
 * digest only from the resource server of the token's audience, and applies its policy, scopes,
 * lineage (the session token falls with the credential it came from), audit and revocation. The
 * verifier holds no signing key and mints nothing; the API server then verifies the session token
 * like any other keyturn JWT, against the request's own connection.
 */

/** RFC 8693 and keyturn's token type for API keys, as the exchange names them. */
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const TOKEN_TYPE_ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const TOKEN_TYPE_API_KEY = 'urn:keyturn:params:oauth:token-type:api_key';
/** The form parameter keyturn reads the relayed digest from (`src/binding/tls-session.ts`). */
const RELAYED_PARAM = 'holder_tls_exporter';
/** What the holder sends: the digest of the exporter value it sees, as at keyturn's own token endpoint. */
const HOLDER_PARAM = 'tls_exporter';
const DIGEST = /^[A-Za-z0-9_-]{43}$/;
const MAX_BODY = 8 * 1024;
const MAX_ANSWER = 64 * 1024;

/** Why the session endpoint refused a request (for the API server's logs; never the credential). */
export const SESSION_REFUSALS = ['method', 'not_tls', 'tls_version', 'malformed', 'middlebox', 'credential', 'bound', 'keyturn', 'upstream'] as const;
export type SessionRefusalReason = (typeof SESSION_REFUSALS)[number];

/**
 * A refusal as the API server hears it: `status` sent, `reason` why, and with `keyturn` the error
 * keyturn answered (`invalid_request`, `invalid_scope`, …).
 */
export interface SessionRefusal {
  readonly status: number;
  readonly reason: SessionRefusalReason;
  /** With `credential`: the verifier's code and reason. With `keyturn`: keyturn's error. */
  readonly detail?: string;
}

export interface SessionEndpointOptions {
  /** The verifier of this API (`createVerifier`): checks the presented credential on the holder's connection. */
  readonly verifier: Verifier;
  /** keyturn's token endpoint, e.g. `https://keyturn.internal/oauth/token`. */
  readonly tokenEndpoint: string;
  /**
   * This API's keyturn client: registered with the token-exchange grant and as resource server of
   * `audience` (`keyturn clients create --name orders-api --grant-types urn:ietf:params:oauth:grant-type:token-exchange --resource-server-for https://orders.example`).
   * Authenticated with `client_secret_basic`.
   */
  readonly clientId: string;
  readonly clientSecret: string;
  /** The audience of the session tokens: this API's resource identifier (the verifier's `audience`). */
  readonly audience: string;
  /** `fetch` for the call to keyturn (default: the global one). */
  readonly fetch?: typeof globalThis.fetch;
  /** Timeout of the call to keyturn, ms (default 5 000). */
  readonly timeoutMs?: number;
  /** Told about every refusal (reason, status), for logs and metrics. */
  readonly onRefused?: (refusal: SessionRefusal) => void;
}

/** What to answer: status, headers and the JSON body (RFC 6749 §5.1 token response, or §5.2 error). */
export interface SessionAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Readonly<Record<string, unknown>>;
}

/**
 * A request the session endpoint answers: node:http(s)'s (express's, fastify's `request.raw`) or
 * node:http2's compatibility request, whose connection is its stream's HTTP/2 session.
 */
export type SessionRequest = IncomingMessage | Http2ServerRequest;
/** The response `handle` writes: node:http(s)'s or node:http2's. */
export type SessionServerResponse = ServerResponse | Http2ServerResponse;

/** A mounted session endpoint: one decision function and adapters for node:http, node:http2, express and fastify. */
export interface SessionEndpoint {
  /**
   * Decides one request (any framework): `body` is the request body when the framework has read it
   * already (a string, or a parsed form object); otherwise it is read from `req` (at most 8 KiB).
   */
  answer(req: SessionRequest, body?: unknown): Promise<SessionAnswer>;
  /**
   * node:http(s) and node:http2 request handler (`http2.createSecureServer(options, handler)`, with
   * or without `allowHTTP1`: on HTTP/2 the token is bound to the session, so every stream of it may
   * use it); as express middleware or route (`app.post('/session', endpoint.handle)`), it reads
   * `req.body` when a parser ran.
   */
  readonly handle: (req: SessionRequest, res: SessionServerResponse) => void;
  /** fastify route handler (`app.post('/session', endpoint.fastify)`); register a form-body parser (string or object) for the route. */
  readonly fastify: (request: { readonly raw: SessionRequest; readonly body?: unknown }, reply: SessionFastifyReply) => Promise<unknown>;
}

/** The part of a fastify reply the session handler uses. */
export interface SessionFastifyReply {
  code(status: number): SessionFastifyReply;
  headers(values: Record<string, string>): SessionFastifyReply;
  send(payload: unknown): SessionFastifyReply;
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } as const;

/**
 * Creates the session endpoint an API server mounts on its TLS 1.3 listener (see the module
 * comment for the design). The holder sends `POST` with `Authorization: Bearer <keyturn access
 * token or API key>` and the form `tls_exporter=<base64url SHA-256 of the RFC 9266 exporter value it
 * sees>` (optionally `scope`); `keyturn/client`'s `SessionClient` does it with its `session` option.
 * The answer is keyturn's token response. Refused: not TLS or not TLS 1.3 (400), a digest that
 * differs from the endpoint's own (400, `middlebox`), a credential the verifier refuses (401), a
 * credential that is sender-constrained already — DPoP, certificate or session bound, a bound API
 * key — (400, `bound`: use it as it is), whatever keyturn refuses (its error), keyturn unreachable (503).
 *
 * @example
 * ```ts
 * import https from 'node:https';
 * import { createSessionEndpoint, createVerifier, withKeyturn } from 'keyturn/verifier';
 *
 * const verifier = createVerifier({ url: KEYTURN, audience: 'https://orders.example' });
 * const session = createSessionEndpoint({ verifier, tokenEndpoint: `${KEYTURN}/oauth/token`, clientId, clientSecret, audience: 'https://orders.example' });
 * const api = withKeyturn(verifier, (req, res, who) => res.end(`hello ${who.principal}`));
 * https.createServer({ cert, key, minVersion: 'TLSv1.3' }, (req, res) => (req.url === '/session' ? session.handle(req, res) : api(req, res))).listen(443);
 * ```
 */
export function createSessionEndpoint(options: SessionEndpointOptions): SessionEndpoint {
  checkHttpUrl(options.tokenEndpoint, 'tokenEndpoint');
  const tokenEndpoint = options.tokenEndpoint;
  if (!options.clientId || !options.clientSecret) throw new KeyturnError('ERR_CONFIG', 'session endpoint: clientId and clientSecret of this API\'s keyturn client are required');
  if (!options.audience) throw new KeyturnError('ERR_CONFIG', 'session endpoint: audience (this API\'s resource identifier) is required');
  const timeoutMs = positive(options.timeoutMs, 5_000, 'timeoutMs');
  const doFetch = options.fetch ?? globalThis.fetch;
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  const authorization = `Basic ${Buffer.from(`${enc(options.clientId)}:${enc(options.clientSecret)}`).toString('base64')}`;

  const refuse = (status: number, reason: SessionRefusalReason, error: string, description: string, detail?: string, extra: Record<string, string> = {}): SessionAnswer => {
    options.onRefused?.({ status, reason, ...(detail === undefined ? {} : { detail }) });
    return { status, headers: { ...JSON_HEADERS, ...extra }, body: { error, error_description: description } };
  };

  async function answer(req: SessionRequest, given?: unknown): Promise<SessionAnswer> {
    if (req.method !== 'POST') return refuse(405, 'method', 'invalid_request', 'use POST', undefined, { allow: 'POST' });
    // On HTTP/2 the connection is the stream's session: the token binds to it, not to one stream.
    const connection = requestConnection(req);
    const channel = connection === undefined || connection === null ? undefined : socketChannel(connection);
    if (channel === undefined) return refuse(400, 'not_tls', 'invalid_request', 'a session token needs a TLS 1.3 connection to this server');
    if (channel.protocol !== 'TLSv1.3') return refuse(400, 'tls_version', 'invalid_request', 'a session token needs TLS 1.3 (RFC 9266 tls-exporter)');
    const form = await readForm(req, given);
    const claimed = form?.get(HOLDER_PARAM);
    if (form === undefined || claimed === undefined || !DIGEST.test(claimed)) {
      return refuse(400, 'malformed', 'invalid_request', 'send one tls_exporter: the base64url SHA-256 of the RFC 9266 exporter value of this connection');
    }
    const ours = channelExporterDigest(channel);
    if (ours === undefined) return refuse(400, 'tls_version', 'invalid_request', 'this connection exports no keying material');
    if (!timingSafeEqual(Buffer.from(claimed), Buffer.from(ours))) {
      return refuse(400, 'middlebox', 'invalid_request', 'tls_exporter does not match this connection: something terminates TLS between the client and this server');
    }
    const presented = readAuthorization(req.headers.authorization);
    if (presented.kind !== 'token') {
      return refuse(401, 'credential', 'invalid_token', 'send Authorization: Bearer <keyturn access token or API key>', undefined, { 'www-authenticate': 'Bearer error="invalid_token"' });
    }
    if (presented.scheme === 'dpop') return refuse(400, 'bound', 'invalid_request', 'a DPoP-bound token is sender-constrained already: use it as it is');
    let verified;
    try {
      verified = await options.verifier.verifyRequest(req, { requiredScopes: [] });
    } catch (err) {
      if (err instanceof KeyturnError && err.code === 'ERR_UPSTREAM') return refuse(503, 'upstream', 'temporarily_unavailable', 'keyturn cannot be reached', undefined, { 'retry-after': '1' });
      throw err;
    }
    if (!verified.valid) {
      const detail = 'reason' in verified && verified.reason !== undefined ? `${verified.code}: ${verified.reason}` : verified.code;
      return refuse(401, 'credential', 'invalid_token', 'the credential is invalid, expired or revoked', detail, { 'www-authenticate': 'Bearer error="invalid_token"' });
    }
    if ((verified.kind === 'api_key' && verified.binding !== undefined) || (verified.kind !== 'api_key' && verified.cnf !== undefined)) {
      return refuse(400, 'bound', 'invalid_request', 'the credential is sender-constrained already: use it as it is');
    }
    const exchange = new URLSearchParams({
      grant_type: TOKEN_EXCHANGE,
      subject_token: presented.token,
      subject_token_type: verified.kind === 'api_key' ? TOKEN_TYPE_API_KEY : TOKEN_TYPE_ACCESS,
      audience: options.audience,
      [RELAYED_PARAM]: ours,
    });
    const scope = form.get('scope');
    if (scope !== undefined) exchange.set('scope', scope);
    let status: number;
    let text: string;
    try {
      const res = await doFetch(tokenEndpoint, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: exchange.toString(),
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.status;
      text = await res.text();
    } catch {
      return refuse(503, 'upstream', 'temporarily_unavailable', 'keyturn cannot be reached', undefined, { 'retry-after': '1' });
    }
    const body = text.length <= MAX_ANSWER ? parseObject(text) : undefined;
    if (status === 200 && typeof body?.access_token === 'string') {
      const { access_token, token_type, expires_in, scope: granted, issued_token_type } = body;
      return { status: 200, headers: { ...JSON_HEADERS, pragma: 'no-cache' }, body: { access_token, token_type, expires_in, scope: granted, issued_token_type } };
    }
    const error = typeof body?.error === 'string' ? body.error : undefined;
    // 4xx about the request (the subject, its scope): keyturn's answer is the holder's. invalid_client
    // means this API's own keyturn credentials are wrong: the holder can do nothing about that.
    if (status === 400 && error !== undefined) {
      const description = typeof body?.error_description === 'string' ? body.error_description : 'keyturn refused the exchange';
      return refuse(400, 'keyturn', error, description, error);
    }
    if (status >= 500 || status === 429) return refuse(503, 'upstream', 'temporarily_unavailable', 'keyturn cannot issue a session token now', `HTTP ${status}`, { 'retry-after': '1' });
    return refuse(500, 'keyturn', 'server_error', 'this server cannot obtain session tokens', error ?? `HTTP ${status}`);
  }

  const send = (res: SessionServerResponse, a: SessionAnswer) => {
    const text = JSON.stringify(a.body);
    res.writeHead(a.status, { ...a.headers, 'content-length': String(Buffer.byteLength(text)) });
    res.end(text);
  };

  return {
    answer,
    handle(req, res) {
      answer(req, (req as { body?: unknown }).body).then(
        (a) => send(res, a),
        () => {
          if (res.headersSent) res.destroy();
          else send(res, { status: 500, headers: JSON_HEADERS, body: { error: 'server_error' } });
        },
      );
    },
    async fastify(request, reply) {
      const a = await answer(request.raw, request.body);
      return reply.code(a.status).headers({ ...a.headers }).send(a.body);
    },
  };
}

/**
 * The form, from what a framework parsed (a string or an object of strings) or from the request
 * itself; `undefined` when it is not one (too large, a repeated or non-string parameter).
 */
async function readForm(req: SessionRequest, given: unknown): Promise<Map<string, string> | undefined> {
  if (given !== undefined && given !== null) {
    if (typeof given === 'string') return formOf(given);
    if (Buffer.isBuffer(given)) return formOf(given.toString('utf8'));
    if (typeof given !== 'object') return undefined;
    const out = new Map<string, string>();
    for (const [name, value] of Object.entries(given)) {
      if (typeof value !== 'string') return undefined;
      out.set(name, value);
    }
    return out;
  }
  if (req.readableEnded) return new Map();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk as Buffer);
  }
  return formOf(Buffer.concat(chunks).toString('utf8'));
}

function formOf(text: string): Map<string, string> | undefined {
  if (text.length > MAX_BODY) return undefined;
  const out = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(text)) {
    if (out.has(name)) return undefined;
    out.set(name, value);
  }
  return out;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
