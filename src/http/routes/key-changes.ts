import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readBearer } from '../../core/bearer.js';
import { KeyturnError } from '../../core/errors.js';
import { sourceNetwork } from '../../core/network.js';
import { requireScope } from '../auth.js';
import type { HttpConfig, Services } from '../services.js';

/** Heartbeat on the change stream, so proxies keep it open and clients notice a dead one. */
const HEARTBEAT_MS = 15_000;

/** The scope a credential needs to follow the change stream. */
export const CHANGES_SCOPE = 'verify';

/** `Retry-After` of a refused stream: the verifier library reconnects with backoff anyway. */
const RETRY_AFTER_S = 30;

/**
 * The change stream the verifier library follows to drop revoked keys from its cache
 * (`POST /v1/keys/verify` itself is a hot endpoint: `src/http/hot/verify.ts`).
 *
 * It names key ids as they change, so it is not public: a listener presents a keyturn API key with
 * scope `verify` (anyone else gets 401/403 at once and holds nothing). Streams are bounded per source
 * network (`changeStreamsPerSource`, beyond: 429) and in total (`changeStreamsMax`, beyond: 503
 * `ERR_CAPACITY`). A stream ends when its own key stops being valid (revoked, suspended, expired,
 * its principal disabled): it is checked again whenever that key or any principal changes.
 */
export function keyChangeRoutes(app: FastifyInstance, services: Services, http: HttpConfig): void {
  const streams = new Set<() => void>();
  const perSource = new Map<string, number>();
  // preClose, not onClose: fastify closes the server (waiting for open connections) before its
  // onClose hooks run, so open streams ended there would hold a shutdown forever.
  app.addHook('preClose', async () => {
    for (const end of streams) end();
  });

  const authenticate = requireScope(services.keys, CHANGES_SCOPE);
  const preHandler = async (request: FastifyRequest, reply: FastifyReply) => {
    if (readBearer(request.headers.authorization).kind === 'none') {
      throw new KeyturnError('ERR_UNAUTHENTICATED', `authentication required: send Authorization: Bearer <API key with scope "${CHANGES_SCOPE}">`);
    }
    await authenticate(request, reply);
  };

  app.get('/v1/keys/changes', { preHandler }, (request, reply) => {
    const source = sourceNetwork(request.ip);
    const held = perSource.get(source) ?? 0;
    if (held >= http.changeStreamsPerSource) {
      void reply.header('retry-after', String(RETRY_AFTER_S));
      throw new KeyturnError('ERR_RATE_LIMITED', `this source already holds ${http.changeStreamsPerSource} change streams`);
    }
    if (streams.size >= http.changeStreamsMax) {
      void reply.header('retry-after', String(RETRY_AFTER_S));
      throw new KeyturnError('ERR_CAPACITY', 'the server holds as many change streams as it allows; try again later');
    }
    const caller = request.caller!;
    const token = readBearer(request.headers.authorization);
    perSource.set(source, held + 1);

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    let ended = false;
    // The listener's own standing, re-checked when its key or any principal changes — after the
    // other listeners of that change (the key cache's among them) have run.
    const recheck = () =>
      setImmediate(() => {
        if (token.kind !== 'token') return end();
        services.keys.check(token.token).then(
          (result) => {
            if (!result.valid || !result.key.scopes.includes(CHANGES_SCOPE)) end();
          },
          () => undefined, // an outage is not a reason to drop a listener
        );
      });
    const stop = services.keys.changes((change) => {
      if (change === null) send('reset', {});
      else send('changed', { keyId: change.keyId });
      if (change === null || change.keyId === caller.id) recheck();
    });
    const timer = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
    timer.unref();
    function end(): void {
      if (ended) return;
      ended = true;
      clearInterval(timer);
      stop();
      streams.delete(end);
      const left = (perSource.get(source) ?? 1) - 1;
      if (left > 0) perSource.set(source, left);
      else perSource.delete(source);
      res.end();
    }
    streams.add(end);
    request.raw.on('close', end);
    send('ready', { heartbeatMs: HEARTBEAT_MS });
  });
}
