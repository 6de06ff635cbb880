import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CHANNEL_CLAIM, channelDigest, checkChannelClaim, exporterDigest, TLS_EXPORTER_LABEL } from '../../src/core/dpop-channel.js';
import { createVerifier, withKeyturn, type RefusalReason } from '../../src/verifier/index.js';
import { basic, startOAuthServer, type OAuthServer, type RegisteredClient } from '../oauth/support.js';
import { makeProof, proofKey, type ProofKey } from './support.js';

describe('channel claim (pure)', () => {
  const channel = (protocol: string, bytes: Uint8Array | undefined) => ({ protocol, peerCertificate: () => undefined, peerVerified: () => false, exportKeyingMaterial: () => bytes });

  it('unbound without the claim; bound when it names this connection; mismatch otherwise', () => {
    const digest = exporterDigest(new Uint8Array(32).fill(7));
    expect(checkChannelClaim({ jti: 'x' }, digest)).toBe('unbound');
    expect(checkChannelClaim({ [CHANNEL_CLAIM]: digest }, digest)).toBe('bound');
    expect(checkChannelClaim({ [CHANNEL_CLAIM]: exporterDigest(new Uint8Array(32)) }, digest)).toBe('mismatch');
    expect(checkChannelClaim({ [CHANNEL_CLAIM]: 42 }, digest)).toBe('mismatch');
    expect(checkChannelClaim({ [CHANNEL_CLAIM]: digest }, undefined)).toBe('mismatch');
  });

  it('only a TLS 1.3 connection that exports has a digest (TLS 1.2, plain HTTP, no exporter: none)', () => {
    const bytes = new Uint8Array(32).fill(1);
    expect(channelDigest(channel('TLSv1.3', bytes))).toBe(exporterDigest(bytes));
    expect(channelDigest(channel('TLSv1.2', bytes))).toBeUndefined();
    expect(channelDigest(channel('TLSv1.3', undefined))).toBeUndefined();
    expect(channelDigest(undefined)).toBeUndefined();
  });
});

/** A TLS connection of the client's own, and the RFC 9266 digest it sees. */
async function tlsConnection(port: number, maxVersion: 'TLSv1.3' | 'TLSv1.2' = 'TLSv1.3'): Promise<{ socket: TLSSocket; digest: string }> {
  const socket = connect({ port, host: '127.0.0.1', rejectUnauthorized: false, maxVersion });
  await once(socket, 'secureConnect');
  return { socket, digest: exporterDigest(socket.exportKeyingMaterial(32, TLS_EXPORTER_LABEL, Buffer.alloc(0))) };
}

/** One HTTP/1.1 request over `socket` (the connection the proof names, or another one). */
function over(socket: TLSSocket, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: any }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ createConnection: () => socket, method, path, headers: { ...headers, ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('channel-bound DPoP proofs over real TLS 1.3 (keyturn behind TLS, and an API server on https)', () => {
  let kt: OAuthServer;
  let app: RegisteredClient;
  let certs: string;
  let front: TlsServer;
  let frontPort: number;
  let api: HttpsServer;
  let apiPort: number;
  let key: ProofKey;
  const refusals: RefusalReason[] = [];

  beforeAll(async () => {
    kt = await startOAuthServer({ dpopNonce: false });
    app = await kt.createClient({ name: 'cb-app', scopes: ['read'] });
    key = await proofKey();
    certs = mkdtempSync(join(tmpdir(), 'keyturn-dpop-certs-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-keyout', join(certs, 'server.key'), '-out', join(certs, 'server.pem')], { stdio: 'ignore' });
    const tlsOptions = { key: readFileSync(join(certs, 'server.key')), cert: readFileSync(join(certs, 'server.pem')), minVersion: 'TLSv1.2' as const };
    // keyturn's own TLS serving is another change: here TLS ends in this process and the connection goes to keyturn's server as it is.
    front = createTlsServer(tlsOptions, (socket) => kt.app.server.emit('connection', socket));
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    frontPort = (front.address() as AddressInfo).port;
    const verifier = createVerifier({ url: kt.url, audience: kt.url, dpop: { publicOrigin: 'https://api.example' } });
    api = createHttpsServer(tlsOptions, withKeyturn(verifier, (_req, res, c) => void res.end(JSON.stringify({ principal: c.principal })), { onRefused: (r) => refusals.push(r) }));
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    apiPort = (api.address() as AddressInfo).port;
  });
  afterAll(async () => {
    front?.close();
    api?.closeAllConnections();
    api?.close();
    await kt?.stop();
    if (certs) rmSync(certs, { recursive: true, force: true });
  });
  beforeEach(() => kt.ctx.set(new Date()));

  const form = 'grant_type=client_credentials';
  const tokenHeaders = (proof: string) => ({ host: 'keyturn', authorization: basic(app.id, app.secret), 'content-type': 'application/x-www-form-urlencoded', dpop: proof });
  const events = async () => ((await kt.api('GET', '/v1/events?type=binding.dpop_failed')).body.items as { reason: string }[]).map((e) => e.reason);

  it('the token endpoint accepts a proof naming the connection it came on, and refuses it on another connection, over TLS 1.2 and on plain HTTP', async () => {
    const first = await tlsConnection(frontPort);
    const proof = await makeProof(key, 'POST', kt.tokenUrl, { claims: { [CHANNEL_CLAIM]: first.digest } });
    const ok = await over(first.socket, 'POST', '/oauth/token', tokenHeaders(proof), form);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.token_type).toBe('DPoP');

    const second = await tlsConnection(frontPort);
    expect(second.digest).not.toBe(first.digest);
    const moved = await over(second.socket, 'POST', '/oauth/token', tokenHeaders(await makeProof(key, 'POST', kt.tokenUrl, { claims: { [CHANNEL_CLAIM]: first.digest } })), form);
    expect(moved.status).toBe(400);
    expect(moved.body).toMatchObject({ error: 'invalid_dpop_proof', error_description: 'DPoP proof is bound to another TLS connection' });

    const old = await tlsConnection(frontPort, 'TLSv1.2');
    expect(old.socket.getProtocol()).toBe('TLSv1.2');
    const tls12 = await over(old.socket, 'POST', '/oauth/token', tokenHeaders(await makeProof(key, 'POST', kt.tokenUrl, { claims: { [CHANNEL_CLAIM]: old.digest } })), form);
    expect(tls12.body.error).toBe('invalid_dpop_proof');

    const plain = await kt.form('/oauth/token', { grant_type: 'client_credentials' }, { basic: [app.id, app.secret], headers: { dpop: await makeProof(key, 'POST', kt.tokenUrl, { claims: { [CHANNEL_CLAIM]: first.digest } }) } });
    expect(plain.body.error).toBe('invalid_dpop_proof');
    expect(await events()).toContain('channel');
  });

  it('the verifier library accepts a channel-bound proof on its connection only (htu from the configured public origin)', async () => {
    const issued = await kt.form('/oauth/token', { grant_type: 'client_credentials' }, { basic: [app.id, app.secret], headers: { dpop: await makeProof(key, 'POST', kt.tokenUrl) } });
    const at = issued.body.access_token as string;
    const conn = await tlsConnection(apiPort);
    const proofFor = (digest: string) => makeProof(key, 'GET', 'https://api.example/orders', { accessToken: at, claims: { [CHANNEL_CLAIM]: digest } });
    const ok = await over(conn.socket, 'GET', '/orders', { host: 'attacker.example', authorization: `DPoP ${at}`, dpop: await proofFor(conn.digest), connection: 'close' });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    const other = await tlsConnection(apiPort);
    const moved = await over(other.socket, 'GET', '/orders', { host: 'api.example', authorization: `DPoP ${at}`, dpop: await proofFor(conn.digest), connection: 'close' });
    expect(moved.status).toBe(401);
    expect(moved.headers['www-authenticate']).toMatch(/^DPoP realm="keyturn", error="invalid_dpop_proof"/);
    expect(refusals.at(-1)).toMatchObject({ code: 'ERR_INVALID_DPOP_PROOF', dpopReason: 'channel' });
  });
});
