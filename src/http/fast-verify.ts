import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { KeyturnErrorCode } from '../core/errors.js';
import type { VerifiedKey } from '../keys/service.js';
import type { Keyturn } from '../runtime/open.js';
import { errorDescription, WIRE_ERRORS } from './errors.js';
import { FAILURE_CODES } from './routes/verify.js';

export const VERIFY_PATH = '/v1/keys/verify';
const JSON_TYPE = /^application\/json\s*(;|$)/i;

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
    const type = req.headers['content-type'];
    if (type !== 'application/json' && !JSON_TYPE.test(type ?? '')) return false;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      fail(res, 'ERR_BODY_TOO_LARGE', 'request body is too large');
      req.resume();
      return true;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let aborted = false;
    req.on('data', (chunk: Buffer) => {
      if (aborted) return;
      size += chunk.length;
      if (size > limit) {
        aborted = true;
        fail(res, 'ERR_BODY_TOO_LARGE', 'request body is too large');
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (aborted) return;
      // Decoded whole, so a character split across chunks stays intact.
      const body = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
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
      if (hit) return sendValid(res, hit.key);
      const requestId = nextRequestId();
      kt.keys.verify(key, { actor: null, actorKind: null, sourceIp: req.socket.remoteAddress ?? null, requestId }).then(
        (result) => (result.valid ? sendValid(res, result.key) : send(res, 200, { valid: false, code: FAILURE_CODES[result.reason] })),
        (err: unknown) => {
          logger.error({ err, requestId }, 'verification failed');
          fail(res, 'ERR_STORE_UNAVAILABLE', 'verification is temporarily unavailable');
        },
      );
    });
    return true;
  };
}
