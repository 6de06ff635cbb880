import { KeyturnError } from '../../core/errors.js';
import { OAUTH_PATHS } from '../../oauth/discovery.js';
import type { TokenEndpoint } from '../../oauth/token-endpoint.js';
import { WIRE_ERRORS } from '../errors.js';
import { parseForm } from '../form.js';
import { held, rateLimited, type FailureLimits } from '../rate-limit.js';
import { asKeyturnError, errorAnswer, hotMeta, isForm, jsonAnswer, type HotAnswer, type HotRequest } from './request.js';

/**
 * `POST /oauth/token` (RFC 6749 §3.2): a form in; the token answer or RFC 6749 §5.2 error JSON
 * out, `no-store`; a failed client authentication past its source network's limit is 429
 * `too_many_requests` with `Retry-After`. The raw `DPoP` header and the TLS channel go to the endpoint for the binding
 * step. `onError` hears what answers 5xx or is not shown to the client, for the log
 * (the same rule as fastify's error handler).
 */
/**
 * Every `DPoP` header value of `request`: repeated headers arrive as several raw values, or joined
 * with `,` by Node (a compact JWS never contains a comma), and each is refused by the proof check.
 */
export function dpopHeaders(request: HotRequest): string[] {
  const values = request.headerValues?.('dpop') ?? [request.header('dpop')].filter((v): v is string => v !== undefined);
  return values.flatMap((value) => value.split(',')).map((value) => value.trim());
}

export function tokenHandler(
  endpoint: TokenEndpoint,
  issuer: () => string,
  onError: (err: unknown, requestId: string) => void,
  limits: FailureLimits,
  dpop?: { nonce(): string | undefined },
) {
  const fail = (err: unknown, request: HotRequest): HotAnswer | Promise<HotAnswer> => {
    const requestId = request.requestId;
    const known = asKeyturnError(err);
    if (known.code === 'ERR_INVALID_CLIENT') {
      // A failed client authentication counts against its source network; past the limit: 429.
      const wait = limits.fail('client', request.sourceIp);
      if (wait !== undefined) return held(limits, errorAnswer(rateLimited(wait)));
    }
    const wire = WIRE_ERRORS[known.code];
    if (!wire.expose || wire.status >= 500) onError(err, requestId);
    return errorAnswer(known);
  };
  return async function token(request: HotRequest): Promise<HotAnswer> {
    if (!isForm(request.header('content-type'))) {
      return errorAnswer(new KeyturnError('ERR_VALIDATION', 'OAuth endpoints take application/x-www-form-urlencoded bodies'));
    }
    try {
      const form = parseForm(request.body);
      const proofs = dpopHeaders(request);
      const answer = await endpoint.handle({
        form,
        authorization: request.header('authorization'),
        // RFC 9449 htu: built from the configured public origin (the issuer), never from Host.
        endpoint: `${issuer()}${OAUTH_PATHS.token}`,
        meta: hotMeta(request),
        ...(proofs.length === 0 ? {} : { dpop: proofs[0], dpopProofs: proofs }),
        ...(request.tls === undefined ? {} : { tls: request.tls }),
      });
      // RFC 9449 §8.2: a fresh nonce with every answer lets a client keep its next proof valid.
      const nonce = answer.token_type === 'DPoP' ? dpop?.nonce() : undefined;
      return jsonAnswer(200, JSON.stringify(answer), nonce === undefined ? ['pragma', 'no-cache'] : ['pragma', 'no-cache', 'dpop-nonce', nonce]);
    } catch (err) {
      return fail(err, request);
    }
  };
}
