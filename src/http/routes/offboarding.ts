import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { validate } from '../../core/validate.js';
import { requestMeta, requireScope } from '../auth.js';
import type { Services } from '../services.js';

const idParam = z.strictObject({ id: z.string().min(1).max(128) });

/**
 * Offboarding (scope `admin`): `POST /v1/principals/:id/offboard` (`{ dryRun?, transferTo? }`)
 * answers the plan, or records it and carries it out (`202` with `status: running` when it takes
 * longer than the request's budget: the job finishes it); `GET /v1/principals/:id/offboarding` shows
 * what was done. Sealed successors are collected here by an administrator, once:
 * `POST /v1/keys/:id/reveal-successor` and `POST /v1/clients/:id/reveal-secret`.
 */
export function offboardingRoutes(app: FastifyInstance, services: Services): void {
  const { keys, offboarding } = services;
  const { clients } = services.oauth;
  void app.register(async (admin) => {
    admin.addHook('preHandler', requireScope(keys, 'admin'));

    // At most two seconds of steps in the request: a longer offboarding answers `running` (202) and
    // the job finishes it; `GET …/offboarding` follows it.
    admin.post('/v1/principals/:id/offboard', async (request, reply) => {
      const report = await offboarding.offboard(validate(idParam, request.params).id, request.body, requestMeta(request), { budgetMs: 2_000 });
      return reply.code(report.status === 'running' ? 202 : 200).send(report);
    });
    admin.get('/v1/principals/:id/offboarding', async (request) => offboarding.ofPrincipal(validate(idParam, request.params).id));

    admin.post('/v1/keys/:id/reveal-successor', async (request, reply) => {
      const { key, secret } = await keys.revealSuccessor(validate(idParam, request.params).id, requestMeta(request));
      return reply.header('cache-control', 'no-store').send({ ...key, key: secret });
    });
    admin.post('/v1/clients/:id/reveal-secret', async (request, reply) => {
      const { client, secret } = await clients.revealSecret(validate(idParam, request.params).id, requestMeta(request));
      return reply.header('cache-control', 'no-store').send({ ...client, clientSecret: secret });
    });
  });
}
