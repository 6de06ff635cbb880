import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';

/** Heartbeat on the change stream, so proxies keep it open and clients notice a dead one. */
const HEARTBEAT_MS = 15_000;

/**
 * The change stream the verifier library follows to drop revoked keys from its cache
 * (`POST /v1/keys/verify` itself is a hot endpoint: `src/http/hot/verify.ts`).
 */
export function keyChangeRoutes(app: FastifyInstance, services: Services): void {
  const streams = new Set<() => void>();
  // Before the server stops listening and waits for its connections: an open stream would hold
  // shutdown forever. Followers (the verifier library) reconnect to whatever serves next.
  app.addHook('preClose', async () => {
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
    const stop = services.keys.changes((change) => (change === null ? send('reset', {}) : send('changed', { keyId: change.keyId })));
    const timer = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
    timer.unref();
    const end = () => {
      clearInterval(timer);
      stop();
      streams.delete(end);
      res.end();
    };
    streams.add(end);
    request.raw.on('close', end);
    send('ready', { heartbeatMs: HEARTBEAT_MS });
  });
}
