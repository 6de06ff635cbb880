import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { KeyturnErrorCode } from '../core/errors.js';
import type { Keyturn } from '../runtime/open.js';
import { errorDescription, WIRE_ERRORS } from './errors.js';
import { FAILURE_CODES } from './routes/verify.js';

export const VERIFY_PATH = '/v1/keys/verify';

const HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...HEADERS, 'content-length': Buffer.byteLength(text) });
  res.end(text);
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
      const requestId = nextRequestId();
      kt.keys.verify(key, { actor: null, actorKind: null, sourceIp: req.socket.remoteAddress ?? null, requestId }).then(
        (result) =>
          send(
            res,
            200,
            result.valid
              ? { valid: true, keyId: result.key.id, principal: result.key.principal, scopes: result.key.scopes, expiresAt: result.key.expiresAt }
              : { valid: false, code: FAILURE_CODES[result.reason] },
          ),
        (err: unknown) => {
          logger.error({ err, requestId }, 'verification failed');
          fail(res, 'ERR_STORE_UNAVAILABLE', 'verification is temporarily unavailable');
        },
      );
    });
    return true;
  };
}
