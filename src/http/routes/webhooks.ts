import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { validate } from '../../core/validate.js';
import { requestMeta, requireScope } from '../auth.js';
import type { Services } from '../services.js';

const idParam = z.strictObject({ id: z.string().min(1).max(128) });
const page = { limit: z.coerce.number().int().min(1).max(1000).optional(), after: z.string().max(128).optional() };
const listQuery = z.strictObject({ owner: z.string().max(128).optional(), all: z.enum(['true', 'false']).optional(), ...page });
const deliveriesQuery = z.strictObject(page);

/** A page of items and the cursor of the next page (`null` on the last). */
function paged<T extends { id: string }>(items: T[], limit: number | undefined) {
  const full = items.length === (limit ?? 100);
  return { items, next: full ? (items.at(-1)?.id ?? null) : null };
}

/**
 * Signed webhooks to owners (scope `admin`): endpoints (`POST /v1/webhooks` answers the secret
 * once), their delivery log, replay of a delivery, secret rotation.
 */
export function webhookRoutes(app: FastifyInstance, services: Services): void {
  const { keys, webhooks } = services;
  void app.register(async (admin) => {
    admin.addHook('preHandler', requireScope(keys, 'admin'));

    admin.post('/v1/webhooks', async (request, reply) => {
      const { endpoint, secret } = await webhooks.add(request.body, requestMeta(request));
      return reply.code(201).header('cache-control', 'no-store').send({ ...endpoint, secret });
    });
    admin.get('/v1/webhooks', async (request) => {
      const q = validate(listQuery, request.query);
      const items = await webhooks.list({ ...(q.owner ? { owner: q.owner } : {}), all: q.all === 'true', ...(q.after ? { after: q.after } : {}), ...(q.limit ? { limit: q.limit } : {}) });
      return paged(items, q.limit);
    });
    admin.get('/v1/webhooks/:id', async (request) => webhooks.get(validate(idParam, request.params).id));
    admin.delete('/v1/webhooks/:id', async (request) => webhooks.remove(validate(idParam, request.params).id, requestMeta(request)));
    admin.post('/v1/webhooks/:id/rotate-secret', async (request, reply) => {
      const { endpoint, secret } = await webhooks.rotateSecret(validate(idParam, request.params).id, requestMeta(request));
      return reply.header('cache-control', 'no-store').send({ ...endpoint, secret });
    });
    admin.get('/v1/webhooks/:id/deliveries', async (request) => {
      const { id } = validate(idParam, request.params);
      const q = validate(deliveriesQuery, request.query);
      return paged(await webhooks.deliveries(id, { ...(q.after ? { after: q.after } : {}), ...(q.limit ? { limit: q.limit } : {}) }), q.limit);
    });
    admin.post('/v1/webhooks/deliveries/:id/replay', async (request) => webhooks.replay(validate(idParam, request.params).id, requestMeta(request)));
  });
}
