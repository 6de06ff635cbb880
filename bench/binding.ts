/**
 * Issue 13 (binding): verification throughput of bearer, DPoP-bound (`cnf.jkt`), mTLS-bound
 * (`cnf["x5t#S256"]`) and TLS-session-bound (`cnf["tls_exporter#S256"]`) JWT access tokens side by
 * side, in process. Two measurements:
 *
 * - TLS: bearer, mTLS-bound and session-bound through `verify(token, presentation)` (mitata), over a
 *   real loopback TLS 1.3 connection with a client certificate made by `keyturn dev-certs`; and the
 *   per-request cost of the certificate thumbprint and the exporter value, uncached (computed every
 *   time) against cached per connection (what the verifier does). Target: certificate- and
 *   session-bound tokens verify at ≥ 90% of bearer's rate.
 * - DPoP: bearer and DPoP-bound through `verifyRequest(req)` as an API server calls it —
 *   `Authorization: DPoP <ES256 JWT with cnf.jkt>` and a fresh ES256 proof per request (the JWT
 *   checks, then the proof's: signature, htm, htu, iat, ath, jkt thumbprint, replay store). Proofs
 *   are signed before the clock starts (signing is the client's cost), each used once, so mitata's
 *   repeated calls do not fit; the two sides alternate over `rounds` and the median of each is kept,
 *   so that load from elsewhere hits both alike. Target: DPoP at least 50% of bearer's rate.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { measure } from 'mitata';
import { channelExporterDigest, channelThumbprint, socketChannel } from '../src/core/channel.js';
import { makeDevCerts } from '../src/runtime/dev-certs.js';
import { accessTokenHash } from '../src/core/dpop.js';
import { createJwtVerifier, createVerifier } from '../src/verifier/index.js';

export const BINDING_TARGETS = { boundVsBearer: 0.9, dpopVsBearer: 0.5 } as const;

export interface BindingBenchOptions {
  /** DPoP part: requests per round and side (default 2 000). */
  readonly requests?: number;
  readonly rounds?: number;
}

/** The DPoP part: `verifyRequest` of bearer and DPoP-bound requests, median of alternating rounds. */
export interface DpopBindingResults {
  readonly measured: string;
  readonly requestsPerRound: number;
  readonly bearerOpsPerSec: number;
  readonly dpopOpsPerSec: number;
  readonly bearerOpsPerSecRounds: readonly number[];
  readonly dpopOpsPerSecRounds: readonly number[];
  readonly ratio: number;
  readonly target: number;
  readonly targetMet: boolean;
}

export interface BindingResults {
  readonly opsPerSec: { readonly bearer: number; readonly mtls: number; readonly session: number };
  readonly ratios: { readonly mtlsVsBearer: number; readonly sessionVsBearer: number };
  readonly nsPerRequest: { readonly thumbprintUncached: number; readonly thumbprintCached: number; readonly exporterUncached: number; readonly exporterCached: number };
  /** Both parts' targets: certificate- and session-bound ≥ 90%, DPoP-bound ≥ 50% of bearer. */
  readonly targetMet: boolean;
  readonly dpop: DpopBindingResults;
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

/** The DPoP part: bearer and DPoP-bound requests through `verifyRequest`, alternating rounds. */
async function runDpopBench(requests: number, rounds: number): Promise<DpopBindingResults> {
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
  return {
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
}

export async function runBindingBench(options: BindingBenchOptions = {}): Promise<BindingResults> {
  const rounds = options.rounds ?? 3;
  const dir = mkdtempSync(join(tmpdir(), 'keyturn-bench-binding-'));
  const certs = makeDevCerts(join(dir, 'c'));
  const read = (f: string) => readFileSync(f);
  let serverSide: TLSSocket | undefined;
  const server = createServer({ cert: read(certs.files['server.pem']), key: read(certs.files['server.key']), ca: read(certs.files['ca.pem']), requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, (s) => {
    serverSide = s;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const client = connect({ port, host: '127.0.0.1', servername: 'localhost', ca: read(certs.files['ca.pem']), cert: read(certs.files['client.pem']), key: read(certs.files['client.key']) });
  await new Promise<void>((resolve) => client.once('secureConnect', () => resolve()));
  while (serverSide === undefined) await new Promise((r) => setTimeout(r, 5));
  const tls = socketChannel(serverSide)!;
  const presentation = { tls };

  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const sign = (cnf?: Record<string, string>) =>
    new SignJWT({ client_id: 'c', scope: 'read', ...(cnf ? { cnf } : {}) })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
      .setIssuer('https://issuer.example')
      .setAudience('https://api.example')
      .setSubject('p')
      .setJti('j')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
  const bearer = await sign();
  const mtls = await sign({ 'x5t#S256': channelThumbprint(tls)! });
  const session = await sign({ 'tls_exporter#S256': channelExporterDigest(tls)! });
  const verifier = createJwtVerifier({ issuer: 'https://issuer.example', audience: 'https://api.example', jwks: { keys: [jwk as never] } });
  for (const [name, token] of [['bearer', bearer], ['mtls', mtls], ['session', session]] as const) {
    const r = await verifier.verify(token, presentation);
    if (!r.valid) throw new Error(`binding bench: the ${name} token does not verify (${r.code})`);
  }

  console.log('binding: bearer vs mTLS-bound vs session-bound JWT verification, and thumbprint/exporter cost (mitata)');
  let sink: unknown;
  // Interleaved rounds, best of each: on a shared machine load drifts between measurements.
  const best = { bearer: Infinity, mtls: Infinity, session: Infinity };
  for (let round = 0; round < rounds; round++) {
    for (const [name, token] of [['bearer', bearer], ['mtls', mtls], ['session', session]] as const) {
      const m = await measure(async () => {
        sink = await verifier.verify(token, presentation);
      });
      best[name] = Math.min(best[name], m.avg);
    }
  }
  const mBearer = { avg: best.bearer };
  const mMtls = { avg: best.mtls };
  const mSession = { avg: best.session };
  const der = serverSide.getPeerX509Certificate()!.raw;
  const tUncached = await measure(() => {
    sink = createHash('sha256').update(serverSide!.getPeerX509Certificate()!.raw).digest('base64url');
  });
  const tCached = await measure(() => {
    sink = channelThumbprint(tls);
  });
  const eUncached = await measure(() => {
    sink = createHash('sha256').update(serverSide!.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0))).digest('base64url');
  });
  const eCached = await measure(() => {
    sink = channelExporterDigest(tls);
  });
  void sink;
  void der;
  client.destroy();
  server.close();
  rmSync(dir, { recursive: true, force: true });
  const dpop = await runDpopBench(options.requests ?? 2_000, rounds);
  const ops = (avgNs: number) => Math.round(1e9 / avgNs);
  const ratio = (a: number, b: number) => Math.round((b / a) * 1000) / 1000;
  const results: BindingResults = {
    opsPerSec: { bearer: ops(mBearer.avg), mtls: ops(mMtls.avg), session: ops(mSession.avg) },
    ratios: { mtlsVsBearer: ratio(mMtls.avg, mBearer.avg), sessionVsBearer: ratio(mSession.avg, mBearer.avg) },
    nsPerRequest: {
      thumbprintUncached: Math.round(tUncached.avg),
      thumbprintCached: Math.round(tCached.avg),
      exporterUncached: Math.round(eUncached.avg),
      exporterCached: Math.round(eCached.avg),
    },
    targetMet: false,
    dpop,
  };
  return {
    ...results,
    targetMet: results.ratios.mtlsVsBearer >= BINDING_TARGETS.boundVsBearer && results.ratios.sessionVsBearer >= BINDING_TARGETS.boundVsBearer && dpop.targetMet,
  };
}

export function printBinding(r: BindingResults): void {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  console.log('binding (in-process, one TLS 1.3 connection)   ops/s     vs bearer');
  console.log(`  bearer JWT                                   ${String(r.opsPerSec.bearer).padStart(8)}  100%`);
  console.log(`  mTLS-bound JWT (x5t#S256)                    ${String(r.opsPerSec.mtls).padStart(8)}  ${pct(r.ratios.mtlsVsBearer)}`);
  console.log(`  session-bound JWT (tls_exporter#S256)        ${String(r.opsPerSec.session).padStart(8)}  ${pct(r.ratios.sessionVsBearer)}`);
  console.log(`  target ≥ ${pct(BINDING_TARGETS.boundVsBearer)}: ${r.ratios.mtlsVsBearer >= BINDING_TARGETS.boundVsBearer && r.ratios.sessionVsBearer >= BINDING_TARGETS.boundVsBearer ? 'met' : 'MISSED'}`);
  console.log(`  per request, ns: thumbprint ${r.nsPerRequest.thumbprintUncached} uncached / ${r.nsPerRequest.thumbprintCached} cached per connection; exporter ${r.nsPerRequest.exporterUncached} uncached / ${r.nsPerRequest.exporterCached} cached`);
  console.log('binding (verifier library verifyRequest, in-process)   ops/s     vs bearer');
  console.log(`  bearer JWT                                   ${String(r.dpop.bearerOpsPerSec).padStart(8)}  100%`);
  console.log(`  DPoP-bound JWT (jkt) + proof                 ${String(r.dpop.dpopOpsPerSec).padStart(8)}  ${pct(r.dpop.ratio)}   target ≥ ${pct(BINDING_TARGETS.dpopVsBearer)}: ${r.dpop.targetMet ? 'met' : 'MISSED'}`);
}
