import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { KeyturnError } from '../core/errors.js';
import type { VerifiedKey } from '../keys/service.js';
import { OAUTH_PATHS } from '../oauth/discovery.js';
import type { Keyturn } from '../runtime/open.js';
import { errorResponse } from './errors.js';
import { parseForm } from './form.js';
import { FAILURE_CODES } from './routes/verify.js';

export const VERIFY_PATH = '/v1/keys/verify';
const JSON_TYPE = /^application\/json\s*(;|$)/i;
const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(;|$)/i;

function sendJson(res: ServerResponse, status: number, text: string, extra?: Readonly<Record<string, string>>): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  if (extra) for (const [name, value] of Object.entries(extra)) res.setHeader(name, value);
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

function sendError(res: ServerResponse, err: KeyturnError): void {
  const { status, headers, body } = errorResponse(err);
  sendJson(res, status, JSON.stringify(body), headers);
}

/** A whole answer, ready to write: the header list and the body. */
interface Prepared {
  readonly headers: readonly string[];
  readonly text: string;
}

/** Answers for cached keys, built once per cache entry (the key service shares the object). */
const validAnswers = new WeakMap<object, Prepared>();

function sendValid(res: ServerResponse, key: VerifiedKey): void {
  let answer = validAnswers.get(key);
  if (answer === undefined) {
    const text = JSON.stringify({ valid: true, keyId: key.id, principal: key.principal, scopes: key.scopes, expiresAt: key.expiresAt });
    const headers = ['content-type', 'application/json; charset=utf-8', 'cache-control', 'no-store', 'content-length', String(Buffer.byteLength(text))];
    answer = { headers, text };
    validAnswers.set(key, answer);
  }
  res.writeHead(200, answer.headers as string[]);
  res.end(answer.text);
}

/**
 * The first value of header `name` (lower case) from the raw list: on the hot path this spares
 * node building the whole `req.headers` object. Same choice as node's for duplicates.
 */
function rawHeader(req: IncomingMessage, name: string): string | undefined {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const key = raw[i]!;
    if (key.length === name.length && key.toLowerCase() === name) return raw[i + 1];
  }
  return undefined;
}

/**
 * Reads a body of at most `limit` bytes and hands it over decoded (whole, so a character split
 * across chunks stays intact); answers 413 itself when it is larger. A body with a
 * `Content-Length` is complete once that many bytes arrived (the parser passes no more), so it is
 * handed over then, with no `end` listener: the stream's end costs a listener and an emit per
 * request for nothing. Only a chunked body waits for `end`.
 */
function readBody(req: IncomingMessage, res: ServerResponse, limit: number, then: (body: string) => void): void {
  const declared = rawHeader(req, 'content-length');
  const expected = declared === undefined ? -1 : Number(declared);
  if (expected > limit) {
    sendError(res, new KeyturnError('ERR_BODY_TOO_LARGE', 'request body is too large'));
    req.resume();
    return;
  }
  if (expected === 0) return then('');
  const chunks: Buffer[] = [];
  let size = 0;
  let settled = false;
  const finish = (): void => {
    settled = true;
    then(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
  };
  req.on('data', (chunk: Buffer) => {
    if (settled) return;
    size += chunk.length;
    if (size > limit) {
      settled = true;
      sendError(res, new KeyturnError('ERR_BODY_TOO_LARGE', 'request body is too large'));
      return;
    }
    chunks.push(chunk);
    if (size === expected) finish();
  });
  if (expected < 0) {
    req.on('end', () => {
      if (!settled) finish();
    });
  }
}

/**
 * The two endpoints machine clients call on every request of theirs — `POST /v1/keys/verify` and
 * `POST /oauth/token` — answered before fastify's routing, with the same contract as their fastify
 * routes (which still serve what the fast path passes on: other media types, a trusted proxy):
 * bounded bodies, duplicate form parameters refused, stable error codes, one event per failure.
 * The handler returns `false` for a request it does not take.
 */
export function fastRoutes(kt: Keyturn, logger: Logger, nextRequestId: () => string) {
  const limit = kt.config.bodyLimit;
  const meta = (req: IncomingMessage) => ({ actor: null, actorKind: null, sourceIp: req.socket.remoteAddress ?? null, requestId: nextRequestId() });
  const unexpected = (res: ServerResponse, requestId: string) => (err: unknown) => {
    const known = err instanceof KeyturnError ? err : new KeyturnError('ERR_INTERNAL', 'internal error', { cause: err });
    const { status } = errorResponse(known);
    if (status >= 500) logger.error({ err, code: known.code, requestId }, 'request failed');
    sendError(res, known);
  };

  function verify(req: IncomingMessage, res: ServerResponse): void {
    readBody(req, res, limit, (body) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        return sendError(res, new KeyturnError('ERR_MALFORMED_BODY', body.length === 0 ? 'request body is empty' : 'request body is not valid JSON'));
      }
      const key = parsed !== null && typeof parsed === 'object' ? (parsed as { key?: unknown }).key : undefined;
      if (typeof key !== 'string') return sendError(res, new KeyturnError('ERR_VALIDATION', 'body must be {"key": "<api key>"}'));
      // A key this node has cached is answered without leaving this callback.
      const hit = kt.keys.peek(key);
      if (hit) return sendValid(res, hit.key);
      const m = meta(req);
      kt.keys.verify(key, m).then(
        (result) => (result.valid ? sendValid(res, result.key) : sendJson(res, 200, JSON.stringify({ valid: false, code: FAILURE_CODES[result.reason] }))),
        (err: unknown) => {
          logger.error({ err, requestId: m.requestId }, 'verification failed');
          sendError(res, new KeyturnError('ERR_STORE_UNAVAILABLE', 'verification is temporarily unavailable'));
        },
      );
    });
  }

  function token(req: IncomingMessage, res: ServerResponse): void {
    readBody(req, res, limit, (body) => {
      let form: Record<string, string>;
      try {
        form = parseForm(body);
      } catch (err) {
        return sendError(res, err as KeyturnError);
      }
      const m = meta(req);
      kt.oauth.tokenEndpoint
        .handle({ form, authorization: rawHeader(req, 'authorization'), endpoint: `${kt.issuer()}${OAUTH_PATHS.token}`, meta: m })
        .then((answer) => sendJson(res, 200, JSON.stringify(answer), { pragma: 'no-cache' }), unexpected(res, m.requestId));
    });
  }

  return function handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'POST' || kt.config.trustProxy) return false;
    const type = rawHeader(req, 'content-type') ?? '';
    if (req.url === VERIFY_PATH && (type === 'application/json' || JSON_TYPE.test(type))) verify(req, res);
    else if (req.url === OAUTH_PATHS.token && FORM_TYPE.test(type)) token(req, res);
    else return false;
    return true;
  };
}
