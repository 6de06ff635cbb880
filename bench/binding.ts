/**
 * Binding benchmark (issue 13): verification throughput of a bearer token and of a DPoP-bound token
 * side by side, in-process, through the verifier library's `verifyRequest` as an API server calls it:
 *
 * - bearer: `Authorization: Bearer <ES256 JWT>` (JWT checks against a fixed JWKS);
 * - DPoP: `Authorization: DPoP <ES256 JWT with cnf.jkt>` and a fresh ES256 proof per request (the
 *   JWT checks, then the proof's: signature, htm, htu, iat, ath, jkt thumbprint, replay store).
 *
 * Proofs are signed before the clock starts (signing is the client's cost), each used once. The two
 * sides alternate over `rounds`, and the median of each is kept, so that load from elsewhere on the
 * machine hits both alike. Target: DPoP at least 50% of bearer's requests per second.
 */
import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export const BINDING_TARGETS = { dpopVsBearer: 0.5 } as const;

export interface BindingBenchOptions {
  /** Requests per round and side (default 2 000). */
  readonly requests?: number;
  readonly rounds?: number;
}

const ISSUER = 'https://keyturn.bench';
const AUDIENCE = 'https://api.bench';

async function accessToken(key: CryptoKey, cnf?: { jkt: string }): Promise<string> {
  return new SignJWT({ sub: 'prn_bench', client_id: 'cli_bench', scope: 'read', jti: randomBytes(8).toString('hex'), ...(cnf ? { cnf } : {}) })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'bench' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(key);
}

/** Runs the binding benchmark and returns its figures (also printed). */
export async function runBindingBench(options: BindingBenchOptions = {}): Promise<Record<string, unknown>> {
  const { createVerifier } = await import('../src/verifier/index.js');
  const { accessTokenHash } = await import('../src/core/dpop.js');
  const requests = options.requests ?? 2_000;
  const rounds = options.rounds ?? 3;
  const signing = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(signing.publicKey)), kid: 'bench', alg: 'ES256', use: 'sig' };
  const verifier = createVerifier({ url: ISSUER, issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [jwk] } });
  const holder = await generateKeyPair('ES256');
  const holderJwk: JWK = await exportJWK(holder.publicKey);
  const jkt = await calculateJwkThumbprint(holderJwk, 'sha256');
  const bearer = await accessToken(signing.privateKey);
  const bound = await accessToken(signing.privateKey, { jkt });
  const ath = accessTokenHash(bound);
  const bearerRequest = { method: 'GET', url: '/orders', headers: { host: 'api.bench', authorization: `Bearer ${bearer}` } };

  const proofs = async (n: number): Promise<string[]> => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      out.push(
        await new SignJWT({ jti: randomBytes(12).toString('base64url'), htm: 'GET', htu: 'http://api.bench/orders', iat: Math.floor(Date.now() / 1000), ath })
          .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: holderJwk })
          .sign(holder.privateKey),
      );
    }
    return out;
  };
  const check = async (r: Promise<{ valid: boolean }>) => {
    const result = await r;
    if (!result.valid) throw new Error(`the verifier refused a benchmark request: ${JSON.stringify(result)}`);
  };
  // Warm up both paths (JWKS import, caches, JIT).
  for (let i = 0; i < 200; i++) await check(verifier.verifyRequest(bearerRequest));
  for (const proof of await proofs(200)) await check(verifier.verifyRequest({ ...bearerRequest, headers: { host: 'api.bench', authorization: `DPoP ${bound}`, dpop: proof } }));

  const bearerRounds: number[] = [];
  const dpopRounds: number[] = [];
  for (let round = 0; round < rounds; round++) {
    let start = process.hrtime.bigint();
    for (let i = 0; i < requests; i++) await check(verifier.verifyRequest(bearerRequest));
    bearerRounds.push(Math.round(requests / (Number(process.hrtime.bigint() - start) / 1e9)));
    const batch = (await proofs(requests)).map((proof) => ({ method: 'GET', url: '/orders', headers: { host: 'api.bench', authorization: `DPoP ${bound}`, dpop: proof } }));
    start = process.hrtime.bigint();
    for (const request of batch) await check(verifier.verifyRequest(request));
    dpopRounds.push(Math.round(requests / (Number(process.hrtime.bigint() - start) / 1e9)));
  }
  await verifier.close();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const bearerOps = median(bearerRounds);
  const dpopOps = median(dpopRounds);
  const ratio = Math.round((dpopOps / bearerOps) * 1000) / 1000;
  const result = {
    at: new Date().toISOString(),
    measured: 'createVerifier({ jwks }).verifyRequest(req), sequential, in-process; DPoP proofs ES256, signed beforehand, each used once',
    requestsPerRound: requests,
    bearerOpsPerSec: bearerOps,
    dpopOpsPerSec: dpopOps,
    bearerOpsPerSecRounds: bearerRounds,
    dpopOpsPerSecRounds: dpopRounds,
    ratio,
    target: BINDING_TARGETS.dpopVsBearer,
    targetMet: ratio >= BINDING_TARGETS.dpopVsBearer,
  };
  console.log('');
  console.log('Binding: verification (verifier library, in-process)        ops/s');
  console.log(`  bearer JWT                                               ${String(bearerOps).padStart(8)}`);
  console.log(`  DPoP-bound JWT + proof                                   ${String(dpopOps).padStart(8)}   ${Math.round(ratio * 100)}% of bearer (target ≥ ${BINDING_TARGETS.dpopVsBearer * 100}%)`);
  return result;
}
