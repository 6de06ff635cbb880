import type { Logger } from 'pino';
import type { HotAnswer, HotRequest } from './request.js';

/** One request line in this many is logged for the hot endpoints on the fast path. */
export const HOT_LOG_SAMPLE = 100;

/**
 * Request logging for the hot endpoints on the fast path, when `logRequests` is on: sampled, so
 * the path that answers most requests stays lean. The first request is logged, then one in
 * {@link HOT_LOG_SAMPLE}; each line counts the requests answered since the previous one
 * (`count`), so totals stay exact. Lines look like fastify's `request completed` (same
 * `requestId` label, `req`, `res`, `responseTime`). Returns `undefined` when logging is off.
 */
export function hotRequestLog(logger: Logger, enabled: boolean, sample = HOT_LOG_SAMPLE) {
  if (!enabled) return undefined;
  let seen = 0;
  let first = true;
  return function log(request: HotRequest, answer: HotAnswer, startedAt: number): void {
    seen++;
    if (!first && seen < sample) return;
    first = false;
    logger.info(
      {
        requestId: request.requestId,
        req: { method: request.method, url: request.url, remoteAddress: request.sourceIp },
        res: { statusCode: answer.status },
        responseTime: performance.now() - startedAt,
        sampled: sample,
        count: seen,
      },
      'request completed',
    );
    seen = 0;
  };
}
