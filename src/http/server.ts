import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { createServer } from 'node:http';
import type { Logger } from 'pino';
import { newId } from '../core/ids.js';
import type { Keyturn } from '../runtime/open.js';
import { sendError, toKeyturnError, WIRE_ERRORS } from './errors.js';
import { fastRoutes } from './fast-routes.js';
import { parseForm } from './form.js';
import { adminOAuthRoutes } from './routes/admin-oauth.js';
import { adminRoutes } from './routes/admin.js';
import { leakRoutes } from './routes/leaks.js';
import { oauthRoutes } from './routes/oauth.js';
import { verifyRoutes } from './routes/verify.js';

/**
 * Request ids: a random per-process stem and a counter — unique, cheap on the hot path (no
 * randomness per request), and not guessable across processes.
 */
function requestIds(kt: Keyturn): () => string {
  const stem = newId('req', kt.ctx);
  let n = 0;
  return () => `${stem}.${(++n).toString(36)}`;
}

/**
 * Builds the HTTP server: health probes, the public verification endpoints and the admin API.
 * Thin: every route validates, calls one service method and maps the answer.
 */
export async function buildServer(kt: Keyturn, logger: Logger): Promise<FastifyInstance> {
  const nextRequestId = requestIds(kt);
  const fast = fastRoutes(kt, logger, nextRequestId);
  const app = Fastify({
    // The two hot endpoints are answered before fastify's routing; everything else goes on.
    serverFactory: (handler) => createServer((req, res) => fast(req, res) || handler(req, res)),
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: !kt.config.logRequests, requestIdLogLabel: 'requestId' }),
    bodyLimit: kt.config.bodyLimit,
    trustProxy: kt.config.trustProxy,
    genReqId: nextRequestId,
    // One logger for all requests: a child per request costs the hot path; errors log the id themselves.
    childLoggerFactory: (parent) => parent,
    return503OnClosing: true,
  });

  // The API speaks JSON (and forms, below); plain text is not a body it accepts.
  app.removeContentTypeParser('text/plain');
  // OAuth endpoints take forms; a repeated parameter is an error, not a choice.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: kt.config.bodyLimit }, (_req, body, done) => {
    try {
      done(null, parseForm(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.setErrorHandler((error, request, reply) => {
    const err = toKeyturnError(error);
    if (!WIRE_ERRORS[err.code].expose || WIRE_ERRORS[err.code].status >= 500) {
      request.log.error({ err: error, code: err.code, requestId: request.id }, 'request failed');
    }
    return sendError(reply, err);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'not_found', error_description: `no route ${request.method} ${request.url.split('?')[0]}`, code: 'ERR_NOT_FOUND' }),
  );

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await kt.store.get('SELECT 1 AS ok');
      return { status: 'ready' };
    } catch {
      return reply.code(503).send({ status: 'unavailable' });
    }
  });

  verifyRoutes(app, kt);
  adminRoutes(app, kt);
  leakRoutes(app, kt);
  oauthRoutes(app, kt);
  adminOAuthRoutes(app, kt);
  await app.ready();
  return app;
}
