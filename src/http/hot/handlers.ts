import type { Logger } from 'pino';
import type { FailureLimits } from '../rate-limit.js';
import type { Services } from '../services.js';
import { asKeyturnError, type HotHandler } from './request.js';
import { tokenHandler } from './token.js';
import { verifyHandler } from './verify.js';

/** The framework-free handlers of the hot endpoints, built once per server and shared by both edges. */
export interface HotHandlers {
  /** `POST /v1/keys/verify`. */
  readonly verify: HotHandler;
  /** `POST /oauth/token`. */
  readonly token: HotHandler;
}

/**
 * Builds the {@link HotHandlers} over `services`; failures the client does not see go to `logger`;
 * failed authentications count against `limits`.
 */
export function hotHandlers(services: Services, logger: Logger, limits: FailureLimits): HotHandlers {
  return {
    verify: verifyHandler(services.keys, (err, requestId) => logger.error({ err, requestId }, 'verification failed'), limits),
    token: tokenHandler(
      services.oauth.tokenEndpoint,
      services.oauth.issuer,
      (err, requestId) => logger.error({ err, code: asKeyturnError(err).code, requestId }, 'request failed'),
      limits,
      services.oauth.dpop,
    ),
  };
}
