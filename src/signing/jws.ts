import type { KeyObject } from 'node:crypto';
import { SigningThread } from './thread.js';
import type { SigningAlg } from './ring.js';

const encode = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

/** Encoded protected headers: a signing key always signs with the same one. */
const headers = new Map<string, string>();

function encodedHeader(header: { alg: SigningAlg; typ?: string; kid?: string }): string {
  const memo = `${header.alg}\u0000${header.typ ?? ''}\u0000${header.kid ?? ''}`;
  let encoded = headers.get(memo);
  if (encoded === undefined) {
    encoded = encode(header);
    if (headers.size > 64) headers.clear();
    headers.set(memo, encoded);
  }
  return encoded;
}

/** The process's signing thread (see {@link SigningThread}), started by the first signature. */
const signingThread = new SigningThread();

/**
 * Signs a JWT in JWS compact serialisation (RFC 7515 §7.1) with node:crypto: ES256 (ECDSA P-256 /
 * SHA-256, signature as the 64-byte R‖S of RFC 7518 §3.4) or EdDSA (Ed25519, RFC 8037). The
 * payload is encoded and signed on the process's signing thread, off the event loop, in batches
 * of what one turn of the loop asked for ({@link SigningThread}). Verification everywhere else is
 * jose's.
 *
 * @example
 * ```ts
 * const jwt = await signJwt({ alg: 'ES256', typ: 'at+jwt', kid }, claims, key.privateKey);
 * ```
 */
export function signJwt(header: { alg: SigningAlg; typ?: string; kid?: string }, payload: Record<string, unknown>, key: KeyObject): Promise<string> {
  return signingThread.sign(key, header.alg === 'ES256', encodedHeader(header), JSON.stringify(payload));
}
