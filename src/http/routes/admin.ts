import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { validate } from '../../core/validate.js';
import { PRINCIPAL_KINDS } from '../../principals/service.js';
import { requestMeta, requireScope } from '../auth.js';
import type { Services } from '../services.js';

const idParam = z.strictObject({ id: z.string().min(1).max(128) });
const page = { limit: z.coerce.number().int().min(1).max(1000).optional(), after: z.string().max(128).optional() };
const keysQuery = z.strictObject({ owner: z.string().max(128).optional(), ...page });
const principalsQuery = z.strictObject({ kind: z.enum(PRINCIPAL_KINDS).optional(), ...page });
const eventsQuery = z.strictObject({
  after: z.coerce.number().int().min(0).optional(),
  type: z.string().max(64).optional(),
  target: z.string().max(128).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});
const sinkParam = z.strictObject({ name: z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/) });
const revokeBody = z.strictObject({ reason: z.string().max(500).optional() }).nullish();
/** `ackLeak: true` acknowledges the key's open leak findings (required to unsuspend a leaked key). */
const unsuspendBody = z.strictObject({ ackLeak: z.boolean().optional() }).nullish();

/** A page of items and the cursor of the next page (`null` on the last). */
function paged<T extends { id: string }>(items: T[], limit: number | undefined) {
  const full = items.length === (limit ?? 100);
  return { items, next: full ? (items.at(-1)?.id ?? null) : null };
}

/** The admin API under `/v1`: every route needs a keyturn API key with scope `admin`. */
export function adminRoutes(app: FastifyInstance, services: Services): void {
  const { principals, keys, audit } = services;
  void app.register(async (admin) => {
    admin.addHook('preHandler', requireScope(keys, 'admin'));

    admin.post('/v1/principals', async (request, reply) => {
      const principal = await principals.create(request.body, requestMeta(request));
      return reply.code(201).send(principal);
    });
    admin.get('/v1/principals', async (request) => {
      const query = validate(principalsQuery, request.query);
      return paged(await principals.list(query), query.limit);
    });
    admin.get('/v1/principals/:id', async (request) => principals.get(validate(idParam, request.params).id));
    admin.post('/v1/principals/:id/disable', async (request) =>
      principals.setStatus(validate(idParam, request.params).id, 'disabled', requestMeta(request)),
    );
    admin.post('/v1/principals/:id/enable', async (request) =>
      principals.setStatus(validate(idParam, request.params).id, 'active', requestMeta(request)),
    );

    admin.post('/v1/keys', async (request, reply) => {
      const { key, secret } = await keys.create(request.body, requestMeta(request));
      return reply.code(201).header('cache-control', 'no-store').send({ ...key, key: secret });
    });
    admin.get('/v1/keys', async (request) => {
      const query = validate(keysQuery, request.query);
      return paged(await keys.list(query), query.limit);
    });
    admin.get('/v1/keys/:id', async (request) => {
      const key = await keys.get(validate(idParam, request.params).id);
      // "last used" and "used from": the key's usage records (uses are written once per interval).
      return { ...key, ...(await audit.usage(key.id)) };
    });
    admin.post('/v1/keys/:id/revoke', async (request) => {
      const { id } = validate(idParam, request.params);
      const body = validate(revokeBody, request.body);
      return keys.revoke(id, requestMeta(request), body?.reason);
    });
    admin.post('/v1/keys/:id/suspend', async (request) => {
      const { id } = validate(idParam, request.params);
      const body = validate(revokeBody, request.body);
      return keys.suspend(id, requestMeta(request), body?.reason);
    });
    admin.post('/v1/keys/:id/unsuspend', async (request) => {
      const body = validate(unsuspendBody, request.body);
      return keys.unsuspend(validate(idParam, request.params).id, requestMeta(request), { ackLeak: body?.ackLeak === true });
    });

    admin.get('/v1/events', async (request) => {
      const query = validate(eventsQuery, request.query);
      const items = await audit.list({ ...query, ...(query.after === undefined ? {} : { afterSeq: query.after }) });
      return { items, next: items.length === (query.limit ?? 100) ? (items.at(-1)?.seq ?? null) : null };
    });
    admin.get('/v1/events/last', async () => ({ seq: await audit.lastSeq() }));
    admin.get('/v1/audit/sinks', async () => ({ items: await audit.sinks() }));
    admin.post('/v1/audit/sinks', async (request, reply) => {
      const { sink, secret } = await audit.addSink(request.body, requestMeta(request));
      return reply.code(201).send(secret === undefined ? sink : { ...sink, secret });
    });
    admin.get('/v1/audit/sinks/:name', async (request) => audit.showSink(validate(sinkParam, request.params).name));
    admin.patch('/v1/audit/sinks/:name', async (request) => {
      const { sink, secret } = await audit.updateSink(validate(sinkParam, request.params).name, request.body, requestMeta(request));
      return secret === undefined ? sink : { ...sink, secret };
    });
    admin.delete('/v1/audit/sinks/:name', async (request) => audit.removeSink(validate(sinkParam, request.params).name, requestMeta(request)));
    admin.post('/v1/audit/sinks/:name/retry', async (request, reply) => {
      const { name } = validate(sinkParam, request.params);
      await audit.retrySink(name);
      return reply.code(202).send({ name, retry: 'scheduled' });
    });
  });
}
