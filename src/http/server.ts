import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import type { Logger } from 'pino';
import { sendError, toKeyturnError, WIRE_ERRORS } from './errors.js';
import { fastRoutes } from './fast-routes.js';
import { parseForm } from './form.js';
import { FailureLimits } from './rate-limit.js';
import { channelResolver } from './hot/client-cert.js';
import { hotHandlers } from './hot/handlers.js';
import { trustFunction } from './hot/source.js';
import { adminOAuthRoutes } from './routes/admin-oauth.js';
import { adminRoutes } from './routes/admin.js';
import { hotRoutes } from './routes/hot.js';
import { keyChangeRoutes } from './routes/key-changes.js';
import { leakRoutes } from './routes/leaks.js';
import { oauthRoutes } from './routes/oauth.js';
import { rotationRoutes } from './routes/rotation.js';
import { webhookRoutes } from './routes/webhooks.js';
import { offboardingRoutes } from './routes/offboarding.js';
import type { HttpConfig, Services } from './services.js';

/**
 * Request ids: a random per-process stem and a counter — unique, cheap on the hot path (no
 * randomness per request), and not guessable across processes.
 */
function requestIds(services: Services): () => string {
  const stem = services.newId('req');
  let n = 0;
  return () => `${stem}.${(++n).toString(36)}`;
}

/** Options of {@link buildServer} beyond the services and their configuration. */
export interface ServerOptions {
  /** Hears every route fastify registers (method and URL), e.g. for a test that enumerates them. */
  readonly onRoute?: (route: { method: string; url: string }) => void;
  /** Serve HTTPS with these options (certificate, key, client CA, whether to ask for client certificates). */
  readonly https?: HttpsOptions | undefined;
  /** Hears the request handler (fast path, then fastify), e.g. to serve it on a second listener. */
  readonly onDispatch?: (dispatch: (req: IncomingMessage, res: ServerResponse) => void) => void;
}

/**
 * Builds the HTTP server: health probes, the hot endpoints (answered before fastify's routing
 * when they can be, by the same handlers), the public endpoints and the admin API.
 * Thin: every route validates, calls one service method and maps the answer.
 */
export async function buildServer(services: Services, http: HttpConfig, logger: Logger, options: ServerOptions = {}): Promise<FastifyInstance> {
  const nextRequestId = requestIds(services);
  // Failed authentications per source network, one set of limits for every endpoint of this server.
  const limits = new FailureLimits(http.failedAuthRates, services.now, http.failureDelayMs);
  const handlers = hotHandlers(services, logger, limits);
  const trust = trustFunction(http.trustProxy);
  // Behind a TLS-terminating proxy (off by default): its forwarded client certificate, believed only from it.
  const channel = channelResolver(
    http.clientCert && {
      ...http.clientCert,
      ignored: (sourceIp, header) =>
        void services.audit
          .recordFailure?.({ type: 'binding.client_cert_header_ignored', target: null, outcome: 'failure', reason: header, data: {} }, { actor: null, actorKind: null, sourceIp, requestId: null })
          .catch((err: unknown) => logger.error({ err }, 'recording an ignored client certificate header failed')),
    },
  );
  const fast = fastRoutes({ handlers, bodyLimit: http.bodyLimit, trust, logRequests: http.logRequests, logger, nextRequestId, channel });
  const app = Fastify({
    // The two hot endpoints are answered before fastify's routing; everything else goes on.
    serverFactory: (handler) => {
      const dispatch = (req: IncomingMessage, res: ServerResponse): void => void (fast(req, res) || handler(req, res));
      options.onDispatch?.(dispatch);
      return options.https ? createHttpsServer(options.https, dispatch) : createServer(dispatch);
    },
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: !http.logRequests, requestIdLogLabel: 'requestId' }),
    bodyLimit: http.bodyLimit,
    // The very function the fast path uses, so both compute the same source address.
    trustProxy: trust ?? false,
    genReqId: nextRequestId,
    // One logger for all requests: a child per request costs the hot path; errors log the id themselves.
    childLoggerFactory: (parent) => parent,
    return503OnClosing: true,
  });
  app.decorate('failureLimits', limits);
  if (options.onRoute) {
    const hear = options.onRoute;
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) hear({ method, url: route.url });
    });
  }

  // The API speaks JSON (and forms, below); plain text is not a body it accepts.
  app.removeContentTypeParser('text/plain');
  // OAuth endpoints take forms; a repeated parameter is an error, not a choice.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: http.bodyLimit }, (_req, body, done) => {
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
  app.get('/readyz', async (_request, reply) =>
    (await services.health.ready()) ? { status: 'ready' } : reply.code(503).send({ status: 'unavailable' }),
  );

  hotRoutes(app, handlers, http, channel);
  keyChangeRoutes(app, services, http);
  adminRoutes(app, services);
  leakRoutes(app, services, http);
  oauthRoutes(app, services, http);
  adminOAuthRoutes(app, services);
  rotationRoutes(app, services);
  webhookRoutes(app, services);
  offboardingRoutes(app, services);
  await app.ready();
  return app;
}
