/**
 * Issue 13 (binding, TLS parts): verification throughput of bearer, mTLS-bound (`cnf["x5t#S256"]`)
 * and TLS-session-bound (`cnf["tls_exporter#S256"]`) JWT access tokens side by side, in process
 * (mitata), over a real loopback TLS 1.3 connection with a client certificate made by
 * `keyturn dev-certs`; and the per-request cost of the certificate thumbprint and the exporter
 * value, uncached (computed every time) against cached per connection (what the verifier does).
 * Target: bound tokens verify at ≥ 90% of bearer's rate.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { exportJWK, SignJWT } from 'jose';
import { measure } from 'mitata';
import { channelExporterDigest, channelThumbprint, socketChannel } from '../src/core/channel.js';
import { makeDevCerts } from '../src/runtime/dev-certs.js';
import { createJwtVerifier } from '../src/verifier/index.js';

export const BINDING_TARGETS = { boundVsBearer: 0.9 } as const;

export interface BindingResults {
  readonly opsPerSec: { readonly bearer: number; readonly mtls: number; readonly session: number };
  readonly ratios: { readonly mtlsVsBearer: number; readonly sessionVsBearer: number };
  readonly nsPerRequest: { readonly thumbprintUncached: number; readonly thumbprintCached: number; readonly exporterUncached: number; readonly exporterCached: number };
  readonly targetMet: boolean;
}

export async function runBindingBench(): Promise<BindingResults> {
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
  for (let round = 0; round < 3; round++) {
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
  };
  return { ...results, targetMet: results.ratios.mtlsVsBearer >= BINDING_TARGETS.boundVsBearer && results.ratios.sessionVsBearer >= BINDING_TARGETS.boundVsBearer };
}

export function printBinding(r: BindingResults): void {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  console.log('binding (in-process, one TLS 1.3 connection)   ops/s     vs bearer');
  console.log(`  bearer JWT                                   ${String(r.opsPerSec.bearer).padStart(8)}  100%`);
  console.log(`  mTLS-bound JWT (x5t#S256)                    ${String(r.opsPerSec.mtls).padStart(8)}  ${pct(r.ratios.mtlsVsBearer)}`);
  console.log(`  session-bound JWT (tls_exporter#S256)        ${String(r.opsPerSec.session).padStart(8)}  ${pct(r.ratios.sessionVsBearer)}`);
  console.log(`  target ≥ ${pct(BINDING_TARGETS.boundVsBearer)}: ${r.targetMet ? 'met' : 'MISSED'}`);
  console.log(`  per request, ns: thumbprint ${r.nsPerRequest.thumbprintUncached} uncached / ${r.nsPerRequest.thumbprintCached} cached per connection; exporter ${r.nsPerRequest.exporterUncached} uncached / ${r.nsPerRequest.exporterCached} cached`);
}
