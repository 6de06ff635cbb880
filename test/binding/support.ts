import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, SignJWT, type JWK } from 'jose';
import { accessTokenHash } from '../../src/core/dpop.js';
import { createVerifier, withKeyturn, type Verifier, type VerifierOptions } from '../../src/verifier/index.js';

/** A DPoP key of a client (or of a thief). */
export interface ProofKey {
  readonly privateKey: KeyObject;
  readonly jwk: JWK;
  readonly alg: string;
}

export async function proofKey(kind: 'ec' | 'ed25519' = 'ec'): Promise<ProofKey> {
  const pair = kind === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  return { privateKey: pair.privateKey, jwk: await exportJWK(pair.publicKey), alg: kind === 'ec' ? 'ES256' : 'EdDSA' };
}

/**
 * A DPoP proof made by hand, so each attack of RFC 9449 §4.3 / §11 can be built: fresh `jti` and
 * `iat` unless given, `ath` for `accessToken`, and header or claim overrides.
 */
export async function makeProof(
  key: ProofKey,
  htm: string,
  htu: string,
  options: { nonce?: string; accessToken?: string; claims?: Record<string, unknown>; header?: Record<string, unknown>; signWith?: KeyObject | Uint8Array } = {},
): Promise<string> {
  const claims: Record<string, unknown> = { jti: randomBytes(12).toString('base64url'), htm, htu, iat: Math.floor(Date.now() / 1000) };
  if (options.nonce !== undefined) claims.nonce = options.nonce;
  if (options.accessToken !== undefined) claims.ath = accessTokenHash(options.accessToken);
  return new SignJWT({ ...claims, ...options.claims })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk, ...options.header } as never)
    .sign(options.signWith ?? key.privateKey);
}

/** An API server embedding the verifier library (node:http), answering who called. */
export interface ResourceServer {
  readonly url: string;
  readonly verifier: Verifier;
  close(): Promise<void>;
}

export async function startResourceServer(options: VerifierOptions): Promise<ResourceServer> {
  const verifier = createVerifier(options);
  const server: Server = createServer(
    withKeyturn(verifier, (_req: IncomingMessage, res: ServerResponse, credential) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ principal: credential.principal, kind: credential.kind }));
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    verifier,
    async close() {
      await verifier.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
