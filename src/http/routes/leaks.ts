import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { KeyturnError } from '../../core/errors.js';
import { sourceNetwork } from '../../core/network.js';
import { validate } from '../../core/validate.js';
import { githubBodySchema, reportBodySchema, verifyGitHubSignature, type GitHubFeedback } from '../../leaks/respond/index.js';
import { requestMeta, requireScope } from '../auth.js';
import { TokenBuckets } from '../rate-limit.js';
import type { HttpConfig, Services } from '../services.js';

const idParam = z.strictObject({ id: z.string().min(1).max(128) });

/** The one answer of the public report endpoint, whatever was reported. */
export const REPORT_RECEIVED = Object.freeze({
  status: 'received',
  message: 'Thank you. If this is a live credential of this keyturn server, it is being shut off and its owner told.',
});

/**
 * Leak watch over HTTP: the admin API for findings and watch jobs, the public report endpoint
 * and the GitHub secret scanning partner endpoint.
 */
export function leakRoutes(app: FastifyInstance, services: Services, http: HttpConfig): void {
  const leaks = services.leaks;
  // Keyed by source network (an IPv4 address, an IPv6 /64) of the right-most untrusted address.
  // The partner endpoint has a bucket of its own: floods of public reports cannot drain what
  // GitHub's senders need, and it is taken only by rejected partner reports.
  const buckets = new TokenBuckets({ capacity: http.leakReportRate, windowMs: 60_000, now: services.now });
  const partnerBuckets = new TokenBuckets({ capacity: http.leakReportRate, windowMs: 60_000, now: services.now });

  void app.register(async (admin) => {
    admin.addHook('preHandler', requireScope(services.keys, 'admin'));

    admin.post('/v1/leaks/findings', async (request) => {
      const outcomes = await leaks.response.respondToBody(request.body, requestMeta(request));
      const count = (pick: (o: (typeof outcomes)[number]) => boolean) => outcomes.filter(pick).length;
      return {
        items: outcomes,
        summary: {
          findings: outcomes.length,
          new: count((o) => o.new),
          suspended: count((o) => o.action === 'suspended'),
          revoked: count((o) => o.action === 'revoked'),
          held: count((o) => o.status === 'held'),
          thirdParty: count((o) => o.status === 'third_party'),
          unknown: count((o) => o.status === 'unknown'),
        },
      };
    });
    admin.get('/v1/leaks/findings', async (request) => {
      const items = await leaks.response.list(request.query);
      const limit = Number((request.query as { limit?: unknown } | undefined)?.limit ?? 100);
      return { items, next: items.length === limit ? (items.at(-1)?.id ?? null) : null };
    });
    admin.get('/v1/leaks/findings/:id', async (request) => leaks.response.get(validate(idParam, request.params).id));

    admin.post('/v1/leaks/watches', async (request, reply) => reply.code(201).send(await leaks.watches.add(request.body, requestMeta(request))));
    admin.get('/v1/leaks/watches', async () => ({ items: await leaks.watches.list(), next: null }));
    admin.get('/v1/leaks/watches/:id', async (request) => leaks.watches.get(validate(idParam, request.params).id));
    admin.post('/v1/leaks/watches/:id/run', async (request) => {
      const result = await leaks.watches.run(validate(idParam, request.params).id, requestMeta(request));
      return result;
    });
    admin.delete('/v1/leaks/watches/:id', async (request, reply) => {
      await leaks.watches.remove(validate(idParam, request.params).id, requestMeta(request));
      return reply.code(204).send();
    });
  });

  // Public: anyone who finds a keyturn token can report it. The answer is the same whatever the
  // token was, and it is sent before anything is looked up, so neither body nor timing tells.
  app.post('/v1/leaks/report', async (request, reply) => {
    const source = sourceNetwork(request.ip);
    if (!buckets.take(source)) {
      void reply.header('retry-after', String(buckets.retryAfter(source)));
      throw new KeyturnError('ERR_RATE_LIMITED', 'too many reports from this address; try again later');
    }
    const body = validate(reportBodySchema, request.body);
    const items = Array.isArray(body) ? body : [body];
    const meta = requestMeta(request);
    await leaks.response.queueReport(items, meta);
    return reply.code(202).header('cache-control', 'no-store').send(REPORT_RECEIVED);
  });

  // GitHub secret scanning partner endpoint: the signature covers the raw bytes, so this scope
  // keeps the body as a Buffer and parses it only after the signature checks out.
  void app.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    // GitHub sends batches of up to 1000 matches: allow at least 1 MiB here.
    const bodyLimit = Math.max(http.bodyLimit, 1_048_576);
    scope.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body));

    const reject = async (request: FastifyRequest, code: 'ERR_VALIDATION' | 'ERR_SIGNATURE_INVALID', why: string): Promise<never> => {
      partnerBuckets.take(sourceNetwork(request.ip));
      await leaks.response.recordRejectedReport('github', why, requestMeta(request));
      throw new KeyturnError(code, why);
    };

    scope.post('/v1/leaks/github', async (request, reply) => {
      const source = sourceNetwork(request.ip);
      if (partnerBuckets.empty(source)) {
        void reply.header('retry-after', String(partnerBuckets.retryAfter(source)));
        throw new KeyturnError('ERR_RATE_LIMITED', 'too many rejected reports from this address; try again later');
      }
      const identifier = request.headers['github-public-key-identifier'];
      const signature = request.headers['github-public-key-signature'];
      if (typeof identifier !== 'string' || typeof signature !== 'string' || identifier.length === 0 || signature.length === 0) {
        return reject(request, 'ERR_VALIDATION', 'Github-Public-Key-Identifier and Github-Public-Key-Signature headers are required');
      }
      const raw = request.body;
      if (!Buffer.isBuffer(raw)) throw new KeyturnError('ERR_MALFORMED_BODY', 'expected a JSON body');
      const key = identifier.length <= 512 ? await leaks.githubKeys.key(identifier) : undefined;
      if (!key) return reject(request, 'ERR_SIGNATURE_INVALID', 'unknown Github-Public-Key-Identifier');
      if (!verifyGitHubSignature(key, signature, raw)) return reject(request, 'ERR_SIGNATURE_INVALID', 'Github-Public-Key-Signature does not match the body');
      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new KeyturnError('ERR_MALFORMED_BODY', 'request body is not valid JSON');
      }
      const matches = validate(githubBodySchema, json);
      const answers = await leaks.response.respondToTokens(
        matches.map((m) => ({ token: m.token, ...(m.url === undefined ? {} : { url: m.url }), source: `github:${m.source ?? 'unknown'}` })),
        'github',
        requestMeta(request),
      );
      const feedback: GitHubFeedback[] = matches.map((m, i) => ({
        token_hash: answers[i]!.tokenHash,
        token_type: m.type,
        label: answers[i]!.ours ? 'true_positive' : 'false_positive',
      }));
      return reply.code(200).header('cache-control', 'no-store').send(feedback);
    });
  });
}
