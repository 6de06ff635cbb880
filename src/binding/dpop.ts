/**
 * DPoP proof checks (RFC 9449 §4.3) and channel-bound proofs. The pure checks live in `core` so the
 * verifier library (which may import only `core`) runs exactly the same code as the token endpoint.
 */
export * from '../core/dpop.js';
export * from '../core/dpop-channel.js';
