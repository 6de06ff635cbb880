import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { validate } from '../../core/validate.js';
import { SIGNING_ALGS } from '../../signing/ring.js';
import { requestMeta, requireScope } from '../auth.js';
import type { Services } from '../services.js';

const idParam = z.strictObject({ id: z.string().min(1).max(128) });
const pageQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).optional(), after: z.string().max(128).optional() });
/** `ackLeak: true` acknowledges the open leak findings of the client's secret (required to enable a client found leaked). */
const enableBody = z.strictObject({ ackLeak: z.boolean().optional() }).nullish();
const rotateSecretBody = z.strictObject({ graceSeconds: z.number().int().min(0).max(2_592_000).optional() }).nullish();
const rotateKeysBody = z.strictObject({ alg: z.enum(SIGNING_ALGS).optional() }).nullish();
const revokeBody = z.strictObject({ reason: z.string().max(500).optional() }).nullish();

/** Admin API for OAuth clients, their grants and the signing key ring (scope `admin`). */
export function adminOAuthRoutes(app: FastifyInstance, services: Services): void {
  const { clients, ring, refreshTokens } = services.oauth;
  void app.register(async (admin) => {
    admin.addHook('preHandler', requireScope(services.keys, 'admin'));

    admin.post('/v1/clients', async (request, reply) => {
      const { client, secret } = await clients.create(request.body, requestMeta(request));
      return reply.code(201).header('cache-control', 'no-store').send({ ...client, client_id: client.clientId, client_secret: secret });
    });
    admin.get('/v1/clients', async (request) => {
      const query = validate(pageQuery, request.query);
      const items = await clients.list(query);
      return { items, next: items.length === (query.limit ?? 100) ? (items.at(-1)?.clientId ?? null) : null };
    });
    admin.get('/v1/clients/:id', async (request) => {
      const client = await clients.get(validate(idParam, request.params).id);
      // "last used" and "used from" of its secret: the usage records of client authentication.
      return { ...client, ...(await services.audit.usage(client.clientId)) };
    });
    admin.patch('/v1/clients/:id', async (request) => clients.update(validate(idParam, request.params).id, request.body, requestMeta(request)));
    admin.post('/v1/clients/:id/disable', async (request) => clients.setStatus(validate(idParam, request.params).id, 'disabled', requestMeta(request)));
    admin.post('/v1/clients/:id/enable', async (request) => {
      const body = validate(enableBody, request.body);
      return clients.setStatus(validate(idParam, request.params).id, 'active', requestMeta(request), { ackLeak: body?.ackLeak === true });
    });
    admin.delete('/v1/clients/:id', async (request, reply) => {
      await clients.delete(validate(idParam, request.params).id, requestMeta(request));
      return reply.code(204).send();
    });
    admin.post('/v1/clients/:id/rotate-secret', async (request, reply) => {
      const body = validate(rotateSecretBody, request.body);
      const { client, secret } = await clients.rotateSecret(validate(idParam, request.params).id, requestMeta(request), body?.graceSeconds);
      return reply.header('cache-control', 'no-store').send({ ...client, client_id: client.clientId, client_secret: secret });
    });
    admin.get('/v1/clients/:id/grants', async (request) => {
      const { id } = validate(idParam, request.params);
      await clients.get(id);
      return { items: await refreshTokens.listGrants(id) };
    });
    admin.post('/v1/grants/:id/revoke', async (request) => {
      const { id } = validate(idParam, request.params);
      const body = validate(revokeBody, request.body);
      return refreshTokens.revokeGrant(id, { stored: body?.reason ?? 'revoked by an administrator', audited: body?.reason ?? null }, requestMeta(request));
    });

    admin.get('/v1/signing-keys', async () => ({ items: await ring.list() }));
    admin.post('/v1/signing-keys/rotate', async (request) => {
      const body = validate(rotateKeysBody, request.body);
      const activated = await ring.rotate({ ...(body?.alg ? { alg: body.alg } : {}), meta: requestMeta(request) });
      return { activated, items: await ring.list() };
    });
  });
}
