import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { readBearer } from '../../core/bearer.js';
import { KeyturnError } from '../../core/errors.js';
import { validate } from '../../core/validate.js';
import { rotateKeySchema, type Rotation } from '../../keys/index.js';
import { parseClientBasic } from '../../oauth/index.js';
import { requestMeta, requireScope } from '../auth.js';
import type { Services } from '../services.js';

const idParam = z.strictObject({ id: z.string().min(1).max(128) });
const nameParam = z.strictObject({ name: z.string().min(1).max(64) });
const principalPolicyBody = z.strictObject({ policy: z.string().min(1).max(64).nullable() });

/** A rotation's answer: the successor with its secret (once) and the predecessor's new state. */
function rotationAnswer(rotation: Rotation) {
  const { predecessor } = rotation;
  return {
    ...rotation.key,
    key: rotation.secret,
    predecessor: { id: predecessor.id, status: predecessor.status, graceEndsAt: predecessor.graceEndsAt },
  };
}

/**
 * Rotation: stored lifetime policies and key rotation (scope `admin`), and
 * `POST /v1/keys/self/rotate`, which a key's holder calls with the key itself, and
 * `POST /v1/clients/self/rotate-secret`, which an OAuth client calls with its secret.
 */
export function rotationRoutes(app: FastifyInstance, services: Services): void {
  const { keys, policies, principals } = services;
  void app.register(async (admin) => {
    admin.addHook('preHandler', requireScope(keys, 'admin'));

    admin.get('/v1/policies', async () => ({ items: await policies.list() }));
    admin.post('/v1/policies', async (request, reply) => reply.code(201).send(await policies.create(request.body, requestMeta(request))));
    admin.get('/v1/policies/:name', async (request) => policies.show(validate(nameParam, request.params).name));
    admin.patch('/v1/policies/:name', async (request) => policies.update(validate(nameParam, request.params).name, request.body, requestMeta(request)));

    admin.put('/v1/principals/:id/policy', async (request) => {
      const { id } = validate(idParam, request.params);
      const body = validate(principalPolicyBody, request.body);
      return principals.setPolicy(id, body.policy, requestMeta(request));
    });

    admin.post('/v1/keys/:id/rotate', async (request, reply) => {
      const { id } = validate(idParam, request.params);
      const body = validate(rotateKeySchema, request.body);
      const rotation = await keys.rotate(id, { by: 'admin', ...(body?.graceSeconds === undefined ? {} : { graceSeconds: body.graceSeconds }) }, requestMeta(request));
      return reply.header('cache-control', 'no-store').send(rotationAnswer(rotation));
    });
  });

  void app.register(async (holder) => {
    holder.post('/v1/keys/self/rotate', async (request, reply) => {
      const credentials = readBearer(request.headers.authorization);
      if (credentials.kind === 'none') throw new KeyturnError('ERR_UNAUTHENTICATED', 'authentication required: send Authorization: Bearer <the key to rotate>');
      if (credentials.kind === 'malformed') throw new KeyturnError('ERR_INVALID_TOKEN', 'malformed Authorization header: expected Bearer <token>');
      const rotation = await keys.selfRotate(credentials.token, requestMeta(request));
      return reply.header('cache-control', 'no-store').send(rotationAnswer(rotation));
    });

    // The client's own secret rotation, or its collection of a secret the scheduler rotated: client_secret_basic only.
    holder.post('/v1/clients/self/rotate-secret', async (request, reply) => {
      const authorization = request.headers.authorization;
      if (authorization === undefined || !/^Basic /i.test(authorization)) {
        throw new KeyturnError('ERR_INVALID_CLIENT', 'authenticate with client_secret_basic: Authorization: Basic <client id:secret>');
      }
      const { clientId, secret } = parseClientBasic(authorization);
      const rotated = await services.oauth.clients.selfRotateSecret(clientId, secret, requestMeta(request));
      return reply.header('cache-control', 'no-store').send({ ...rotated.client, client_id: rotated.client.clientId, client_secret: rotated.secret });
    });
  });
}
