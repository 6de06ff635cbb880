/**
 * `keyturn/verifier`: what API servers embed to accept keyturn API keys and OAuth access tokens
 * (JWTs verified locally, opaque tokens through introspection). Depends only on keyturn's pure
 * `core` (the secret format), `jose` and Node built-ins — never on the server.
 *
 * @example
 * ```ts
 * import http from 'node:http';
 * import { createVerifier, withKeyturn } from 'keyturn/verifier';
 *
 * const verifier = createVerifier({ url: 'http://127.0.0.1:8080', requiredScopes: ['read'] });
 * http.createServer(withKeyturn(verifier, (req, res, key) => res.end(`hello ${key.principal}`))).listen(3000);
 *
 * // API keys, JWT access tokens and opaque access tokens on the same Bearer header:
 * const any = createVerifier({
 *   url: 'http://127.0.0.1:8080',
 *   audience: 'https://orders.example',
 *   introspection: { clientId: 'cli_…', clientSecret: 'ktc_…' },
 * });
 * ```
 *
 * @packageDocumentation
 */
export { KeyturnError, isKeyturnError, type KeyturnErrorCode } from '../core/errors.js';
export { readBearer, type BearerCredentials } from './bearer.js';
export {
  authorize,
  expressMiddleware,
  fastifyHook,
  nodeMiddleware,
  sunsetHeaders,
  withKeyturn,
  type BearerErrorBody,
  type Decision,
  type FastifyLikeReply,
  type FastifyLikeRequest,
  type MiddlewareOptions,
  type RefusalReason,
} from './middleware.js';
export { createJwtVerifier, type JwtVerifier, type JwtVerifierOptions } from './jwt.js';
export {
  MAX_ACTORS,
  TOKEN_FAILURE_REASONS,
  VERIFY_FAILURE_CODES,
  type PublicJwk,
  type TokenActor,
  type TokenConfirmation,
  type RequestFailureCode,
  type RequestVerification,
  type StreamState,
  type TokenFailureReason,
  type VerifiedAccessToken,
  type VerifiedCredential,
  type KeyRotation,
  type VerifiedKey,
  type Verifier,
  type VerifierOptions,
  type VerifierStats,
  type VerifyFailure,
  type VerifyFailureCode,
  type VerifyResult,
} from './types.js';
export { createVerifier, hasScopes } from './verifier.js';
export {
  createSessionEndpoint,
  SESSION_REFUSALS,
  type SessionAnswer,
  type SessionEndpoint,
  type SessionEndpointOptions,
  type SessionFastifyReply,
  type SessionRefusal,
  type SessionRefusalReason,
  type SessionRequest,
  type SessionServerResponse,
} from './session.js';
export { checkTlsConfirmation, presentationOf, TLS_CNF_MEMBERS, type Presentation } from './tls-binding.js';
export { CNF_TLS_EXPORTER, CNF_X5T, EXPORTER_LABEL, socketChannel, type TlsChannel } from '../core/channel.js';
export {
  MemoryReplayStore,
  readAuthorization,
  redisReplayStore,
  type AuthorizationCredentials,
  type DpopReplayStore,
  type RedisReplayOptions,
  type RedisSetNx,
  type DpopRequestFailure,
  type DpopRequestReason,
  type VerifiableRequest,
  type VerifierDpopOptions,
} from './dpop.js';
export { accessTokenHash, DPOP_ALGORITHMS, normalizeHtu } from '../core/dpop.js';
export { CHANNEL_CLAIM, exporterDigest, TLS_EXPORTER_LABEL, TLS_EXPORTER_LENGTH } from '../core/dpop-channel.js';
