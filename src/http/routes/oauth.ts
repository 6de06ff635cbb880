import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { socketChannel } from '../../core/channel.js';
import { KeyturnError } from '../../core/errors.js';
import { authorizationServerMetadata, OAUTH_PATHS, openidConfiguration, PLAIN_HTTP, type ServerFeatures } from '../../oauth/discovery.js';
import { requestMeta } from '../auth.js';
import { held, rateLimited } from '../rate-limit.js';
import type { HttpConfig, Services } from '../services.js';

/** The parsed form of an OAuth request; anything but a form body is `invalid_request` (400, RFC 6749 §5.2). */
export function formOf(request: FastifyRequest): Record<string, string> {
  const type = request.headers['content-type'] ?? '';
  if (!/^application\/x-www-form-urlencoded\b/i.test(type)) {
    throw new KeyturnError('ERR_VALIDATION', 'OAuth endpoints take application/x-www-form-urlencoded bodies');
  }
  return (request.body ?? {}) as Record<string, string>;
}

function noStore(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
}

/**
 * Runs `call`; a failed client authentication (`invalid_client`) counts against the source
 * network's limit, and past it becomes 429 `too_many_requests` with `Retry-After`.
 */
async function limitClientFailures<T>(request: FastifyRequest, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof KeyturnError && err.code === 'ERR_INVALID_CLIENT') {
      const limits = request.server.failureLimits;
      const wait = limits?.fail('client', request.ip);
      if (limits && wait !== undefined) throw await held(limits, rateLimited(wait));
    }
    throw err;
  }
}

/**
 * Introspection, revocation, JWKS and discovery endpoints (RFC 7662, 7009, 7517, 8414). The token
 * endpoint is a hot endpoint: `src/http/hot/token.ts`.
 */
export function oauthRoutes(app: FastifyInstance, services: Services, http?: Pick<HttpConfig, 'mtlsBaseUrl' | 'discovery'>): void {
  const { oauth } = services;
  const features = (): ServerFeatures => ({ ...(http?.discovery ?? PLAIN_HTTP), mtlsBase: http?.mtlsBaseUrl?.() });
  /** What every OAuth endpoint hands its service: the form, the client's header, where, who. */
  const oauthRequest = (request: FastifyRequest, path: string) => ({
    form: formOf(request),
    authorization: request.headers.authorization,
    endpoint: `${oauth.issuer()}${path}`,
    meta: requestMeta(request),
    tls: socketChannel(request.raw.socket),
  });

  app.post(OAUTH_PATHS.introspection, async (request, reply) =>
    noStore(reply).send(await limitClientFailures(request, () => oauth.tokenOps.introspect(oauthRequest(request, OAUTH_PATHS.introspection)))),
  );
  app.post(OAUTH_PATHS.revocation, async (request, reply) => {
    await limitClientFailures(request, () => oauth.tokenOps.revoke(oauthRequest(request, OAUTH_PATHS.revocation)));
    return noStore(reply).code(200).send();
  });

  app.get(OAUTH_PATHS.jwks, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=60').type('application/jwk-set+json').send(await oauth.ring.jwks()),
  );
  app.get('/.well-known/oauth-authorization-server', async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=300').send(authorizationServerMetadata(oauth.issuer(), features())),
  );
  app.get('/.well-known/openid-configuration', async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=300').send(openidConfiguration(oauth.issuer(), features())),
  );
}
