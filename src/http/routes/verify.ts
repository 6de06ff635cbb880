import type { FastifyInstance } from 'fastify';
import { KeyturnError, type KeyturnErrorCode } from '../../core/errors.js';
import { KEYS_CHANNEL, type VerificationFailure } from '../../keys/service.js';
import { PRINCIPALS_CHANNEL } from '../../principals/service.js';
import type { Keyturn } from '../../runtime/open.js';
import { requestMeta } from '../auth.js';

/** Stable codes for failed verifications, as `POST /v1/keys/verify` answers them. */
export const FAILURE_CODES: Readonly<Record<VerificationFailure, KeyturnErrorCode>> = {
  malformed: 'ERR_SECRET_FORMAT',
  unknown: 'ERR_KEY_UNKNOWN',
  expired: 'ERR_KEY_EXPIRED',
  revoked: 'ERR_KEY_REVOKED',
  suspended: 'ERR_KEY_SUSPENDED',
  principal_inactive: 'ERR_PRINCIPAL_INACTIVE',
};

const verifyResponse = {
  200: {
    type: 'object',
    properties: {
      valid: { type: 'boolean' },
      keyId: { type: 'string' },
      principal: { type: 'string' },
      scopes: { type: 'array', items: { type: 'string' } },
      expiresAt: { type: ['string', 'null'] },
      code: { type: 'string' },
    },
  },
} as const;

/** Heartbeat on the change stream, so proxies keep it open and clients notice a dead one. */
const HEARTBEAT_MS = 15_000;

/**
 * Public verification for servers that cannot embed the library, and the change stream the
 * verifier library follows to drop revoked keys from its cache.
 */
export function verifyRoutes(app: FastifyInstance, kt: Keyturn): void {
  app.post('/v1/keys/verify', { schema: { response: verifyResponse } }, async (request, reply) => {
    const body = request.body as { key?: unknown } | null;
    if (body === null || typeof body !== 'object' || typeof body.key !== 'string') {
      throw new KeyturnError('ERR_VALIDATION', 'body must be {"key": "<api key>"}');
    }
    const result = await kt.keys.verify(body.key, requestMeta(request));
    void reply.header('cache-control', 'no-store');
    if (!result.valid) return { valid: false, code: FAILURE_CODES[result.reason] };
    return { valid: true, keyId: result.key.id, principal: result.key.principal, scopes: result.key.scopes, expiresAt: result.key.expiresAt };
  });

  const streams = new Set<() => void>();
  app.addHook('onClose', async () => {
    for (const end of streams) end();
  });

  app.get('/v1/keys/changes', (request, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    const stops = [
      kt.store.subscribe(KEYS_CHANNEL, (id) => (id === null ? send('reset', {}) : send('changed', { keyId: id }))),
      kt.store.subscribe(PRINCIPALS_CHANNEL, () => send('reset', {})),
    ];
    const timer = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
    timer.unref();
    const end = () => {
      clearInterval(timer);
      for (const stop of stops) stop();
      streams.delete(end);
      res.end();
    };
    streams.add(end);
    request.raw.on('close', end);
    send('ready', { heartbeatMs: HEARTBEAT_MS });
  });
}
