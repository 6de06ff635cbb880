import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { KeyturnErrorCode } from '../core/errors.js';
import type { VerifiedKey } from '../keys/service.js';
import type { Keyturn } from '../runtime/open.js';
import { errorDescription, WIRE_ERRORS } from './errors.js';
import { FAILURE_CODES } from './routes/verify.js';

export const VERIFY_PATH = '/v1/keys/verify';

function send(res: ServerResponse, status: number, body: unknown): void {
  sendText(res, status, JSON.stringify(body));
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

/** Answers for cached keys, serialised once per cache entry (the key service shares the object). */
const validBodies = new WeakMap<object, string>();

function validBody(key: VerifiedKey): string {
  let body = validBodies.get(key);
  if (body === undefined) {
    body = JSON.stringify({ valid: true, keyId: key.id, principal: key.principal, scopes: key.scopes, expiresAt: key.expiresAt });
    validBodies.set(key, body);
  }
  return body;
}

function fail(res: ServerResponse, code: KeyturnErrorCode, description: string): void {
  const wire = WIRE_ERRORS[code];
  send(res, wire.status, { error: wire.error, error_description: wire.expose ? errorDescription(description) : 'the server could not complete the request', code });
}

/**
 * `POST /v1/keys/verify` answered before fastify's routing: the one endpoint that API servers call
 * on every request of theirs. Same contract as the fastify route (which still serves requests the
 * fast path passes on): JSON only, bounded body, stable error codes, one event per failed
 * verification. Returns `false` for a request it does not take.
 */
export function fastVerify(kt: Keyturn, logger: Logger, nextRequestId: () => string) {
  const limit = kt.config.bodyLimit;
  return function handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'POST' || req.url !== VERIFY_PATH || kt.config.trustProxy) return false;
    if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) return false;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      fail(res, 'ERR_BODY_TOO_LARGE', 'request body is too large');
      req.resume();
      return true;
    }
    let body = '';
    let size = 0;
    let aborted = false;
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      if (aborted) return;
      size += Buffer.byteLength(chunk);
      if (size > limit) {
        aborted = true;
        fail(res, 'ERR_BODY_TOO_LARGE', 'request body is too large');
        return;
      }
      body += chunk;
    });
    req.on('end', () => {
      if (aborted) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        return fail(res, 'ERR_MALFORMED_BODY', body.length === 0 ? 'request body is empty' : 'request body is not valid JSON');
      }
      const key = parsed !== null && typeof parsed === 'object' ? (parsed as { key?: unknown }).key : undefined;
      if (typeof key !== 'string') return fail(res, 'ERR_VALIDATION', 'body must be {"key": "<api key>"}');
      // A key this node has cached is answered without leaving this callback.
      const hit = kt.keys.peek(key);
      if (hit) return sendText(res, 200, validBody(hit.key));
      const requestId = nextRequestId();
      kt.keys.verify(key, { actor: null, actorKind: null, sourceIp: req.socket.remoteAddress ?? null, requestId }).then(
        (result) => (result.valid ? sendText(res, 200, validBody(result.key)) : send(res, 200, { valid: false, code: FAILURE_CODES[result.reason] })),
        (err: unknown) => {
          logger.error({ err, requestId }, 'verification failed');
          fail(res, 'ERR_STORE_UNAVAILABLE', 'verification is temporarily unavailable');
        },
      );
    });
    return true;
  };
}
