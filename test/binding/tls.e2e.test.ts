import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, createServer as createHttpsServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listEvents, SYSTEM } from '../../src/audit/events.js';
import { SessionClient } from '../../src/client/index.js';
import { makeDevCerts, type DevCerts } from '../../src/runtime/dev-certs.js';
import { createJwtVerifier, createVerifier, presentationOf } from '../../src/verifier/index.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { makeProof, proofKey } from './support.js';

/**
 * Real TLS, certificates made by the test (`keyturn dev-certs`): keyturn serving HTTPS with a client
 * CA; RFC 8705 client authentication and certificate-bound tokens checked by the verifier library on
 * a resource server's own connections; TLS-session-bound tokens on the issuing connection, another
 * one and after a reconnect.
 */

let dir: string;
let certs: DevCerts;
let other: DevCerts;
let s: TestServer;
let api: Server;
let apiUrl: string;
let dispatch: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;

const pem = (file: string) => readFileSync(file);
const thumbprint = (file: string) => createHash('sha256').update(new X509Certificate(pem(file)).raw).digest('base64url');
const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, any>;

interface Answer {
  status: number;
  body: any;
  socket: TLSSocket;
  headers: Record<string, string | string[] | undefined>;
}

/** One HTTPS request; `agent` pins a connection, `body` may be computed from the connected socket. */
function call(url: string, method: string, path: string, options: { agent?: Agent; body?: string | ((s: TLSSocket) => string); headers?: Record<string, string>; cert?: DevCerts | null; maxVersion?: 'TLSv1.2' } = {}): Promise<Answer> {
  const cert = options.cert === undefined ? certs : options.cert;
  return new Promise((resolve, reject) => {
    let socket: TLSSocket;
    const req = request(
      new URL(path, url),
      {
        method,
        ca: pem(certs.files['ca.pem']),
        ...(options.agent ? { agent: options.agent } : { agent: false as const }),
        ...(cert ? { cert: pem(cert.files['client.pem']), key: pem(cert.files['client.key']) } : {}),
        ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...options.headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined, socket, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.on('socket', (raw) => {
      socket = raw as TLSSocket;
      const go = () => {
        const body = typeof options.body === 'function' ? options.body(socket) : options.body;
        if (body !== undefined) req.setHeader('content-length', Buffer.byteLength(body));
        req.end(body);
      };
      if (!isSecure(socket)) socket.once('secureConnect', go);
      else go();
    });
  });
}

/** Whether the TLS handshake of `socket` is done (`getProtocol()` is `unknown` or `null` before). */
const isSecure = (socket: TLSSocket) => !socket.connecting && socket.getProtocol() !== null && socket.getProtocol() !== 'unknown';

const exporter = (socket: TLSSocket) => createHash('sha256').update(socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0))).digest('base64url');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keyturn-tls-'));
  certs = makeDevCerts(join(dir, 'dev'));
  // Another valid CA and client: the same subject DN, but not issued by the configured client CA.
  other = makeDevCerts(join(dir, 'other'));
  s = await startTestServer({ tlsCert: certs.files['server.pem'], tlsKey: certs.files['server.key'], tlsClientCa: certs.files['ca.pem'] });
  // keyturn's own request handler (fast path, then fastify), as its HTTPS server runs it.
  dispatch = s.app.server.listeners('request')[0] as typeof dispatch;
  // A resource server that embeds keyturn's handler and the verifier library on one TLS listener
  // (the way an API server mounts the session endpoint): tokens obtained and used on one connection.
  const verifier = createJwtVerifier({ issuer: s.kt.services.oauth.issuer(), audience: 'https://api.example', jwks: (await s.kt.oauth.ring.jwks()) as never });
  api = createHttpsServer({ cert: pem(certs.files['server.pem']), key: pem(certs.files['server.key']), ca: pem(certs.files['ca.pem']), requestCert: true, rejectUnauthorized: false }, (req, res) => {
    if (req.url !== '/api') return dispatch!(req, res);
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    void verifier.verify(bearer, presentationOf(req)).then((r) => {
      res.writeHead(r.valid ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(r));
    });
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiUrl = `https://localhost:${(api.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  api?.close();
  await s?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

async function tlsClient(name: string, tlsClientAuth: Record<string, unknown>, authMethod = 'tls_client_auth') {
  const { client } = await s.kt.oauth.clients.create({ name, authMethod, tlsClientAuth, audiences: ['https://api.example'] }, SYSTEM);
  return client.clientId;
}

describe('HTTPS and RFC 8705 mTLS', () => {
  it('serves HTTPS at the URL it announces, and the issuer is that URL', async () => {
    expect(s.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await call(s.url, 'GET', '/.well-known/oauth-authorization-server', { cert: null });
    expect(res.status).toBe(200);
    expect(res.body.issuer).toBe(s.url);
    expect(res.body.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['tls_client_auth', 'self_signed_tls_client_auth']));
    expect(res.body.tls_client_certificate_bound_access_tokens).toBe(true);
  });

  it('tls_client_auth: the right certificate gets a certificate-bound token; the verifier accepts it only with that certificate', async () => {
    const id = await tlsClient('mtls-dn', { subjectDn: certs.clientSubject });
    const res = await call(apiUrl, 'POST', '/oauth/token', { body: form({ grant_type: 'client_credentials', client_id: id }) });
    expect(res.status).toBe(200);
    const token = res.body.access_token as string;
    expect(claims(token).cnf).toEqual({ 'x5t#S256': thumbprint(certs.files['client.pem']) });
    const auth = { authorization: `Bearer ${token}` };
    expect((await call(apiUrl, 'GET', '/api', { headers: auth })).status).toBe(200);
    const otherCert = await call(apiUrl, 'GET', '/api', { headers: auth, cert: other });
    expect([otherCert.status, otherCert.body.reason]).toEqual([401, 'certificate']);
    const none = await call(apiUrl, 'GET', '/api', { headers: auth, cert: null });
    expect([none.status, none.body.reason]).toEqual([401, 'certificate']);
  });

  it('tls_client_auth at introspection too: the client introspects its own bound token (cnf shown) with its certificate only', async () => {
    const id = await tlsClient('mtls-introspect', { subjectDn: certs.clientSubject });
    const token = (await call(s.url, 'POST', '/oauth/token', { body: form({ grant_type: 'client_credentials', client_id: id }) })).body.access_token as string;
    const seen = await call(s.url, 'POST', '/oauth/introspect', { body: form({ token, client_id: id }) });
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ active: true, cnf: { 'x5t#S256': thumbprint(certs.files['client.pem']) } });
    expect((await call(s.url, 'POST', '/oauth/introspect', { cert: other, body: form({ token, client_id: id }) })).status).toBe(401);
  });

  it('tls_client_auth: another valid certificate (same subject, other CA) and no certificate are invalid_client, audited', async () => {
    const id = await tlsClient('mtls-dn-2', { subjectDn: 'O=keyturn dev, CN=keyturn-dev-client' });
    const wrong = await call(s.url, 'POST', '/oauth/token', { cert: other, body: form({ grant_type: 'client_credentials', client_id: id }) });
    expect([wrong.status, wrong.body.error]).toEqual([401, 'invalid_client']);
    const none = await call(s.url, 'POST', '/oauth/token', { cert: null, body: form({ grant_type: 'client_credentials', client_id: id }) });
    expect([none.status, none.body.error]).toEqual([401, 'invalid_client']);
    const reasons = (await listEvents(s.kt.store, { type: 'client.auth_failed' })).filter((e) => e.target === id).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['tls_client_auth: unverified_certificate', 'tls_client_auth: missing_certificate']));
  });

  it('tls_client_auth by SAN; a SAN that differs is refused', async () => {
    const ok = await tlsClient('mtls-san', { sanDns: 'keyturn-dev-client' });
    expect((await call(s.url, 'POST', '/oauth/token', { body: form({ grant_type: 'client_credentials', client_id: ok }) })).status).toBe(200);
    const no = await tlsClient('mtls-san-2', { sanDns: 'someone-else' });
    expect((await call(s.url, 'POST', '/oauth/token', { body: form({ grant_type: 'client_credentials', client_id: no }) })).status).toBe(401);
  });

  it('self_signed_tls_client_auth: the registered thumbprint only, whoever issued it', async () => {
    const id = await tlsClient('self-signed', { thumbprints: [thumbprint(other.files['client.pem'])] }, 'self_signed_tls_client_auth');
    const res = await call(s.url, 'POST', '/oauth/token', { cert: other, body: form({ grant_type: 'client_credentials', client_id: id }) });
    expect(res.status).toBe(200);
    expect(claims(res.body.access_token).cnf['x5t#S256']).toBe(thumbprint(other.files['client.pem']));
    const wrong = await call(s.url, 'POST', '/oauth/token', { body: form({ grant_type: 'client_credentials', client_id: id }) });
    expect(wrong.status).toBe(401);
  });

  it('refuses a registration that is not one subject DN or SAN, or thumbprints for the self-signed method', async () => {
    await expect(s.kt.oauth.clients.create({ name: 'bad1', authMethod: 'tls_client_auth', tlsClientAuth: { subjectDn: 'CN=a', sanDns: 'b' } }, SYSTEM)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    await expect(s.kt.oauth.clients.create({ name: 'bad2', authMethod: 'tls_client_auth' }, SYSTEM)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    await expect(s.kt.oauth.clients.create({ name: 'bad3', authMethod: 'self_signed_tls_client_auth', tlsClientAuth: { thumbprints: ['short'] } }, SYSTEM)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
  });
});

describe('DPoP and mTLS together: a token bound to a DPoP key and a client certificate', () => {
  it('the token endpoint binds both (cnf jkt and x5t#S256); the verifier accepts it only with the proof and the certificate', async () => {
    const id = await tlsClient('mtls-dpop', { subjectDn: certs.clientSubject });
    const key = await proofKey();
    const tokenRequest = async (nonce?: string) =>
      call(s.url, 'POST', '/oauth/token', { headers: { dpop: await makeProof(key, 'POST', `${s.url}/oauth/token`, nonce === undefined ? {} : { nonce }) }, body: form({ grant_type: 'client_credentials', client_id: id }) });
    const handshake = await tokenRequest();
    expect([handshake.status, handshake.body.error]).toEqual([400, 'use_dpop_nonce']);
    const res = await tokenRequest(handshake.headers['dpop-nonce'] as string);
    expect([res.status, res.body.token_type]).toEqual([200, 'DPoP']);
    const token = res.body.access_token as string;
    const cnf = claims(token).cnf;
    expect(Object.keys(cnf).sort()).toEqual(['jkt', 'x5t#S256']);
    expect(cnf['x5t#S256']).toBe(thumbprint(certs.files['client.pem']));

    // A resource server on its own TLS listener, verifying with verifyRequest (DPoP scheme, request socket).
    const verifier = createVerifier({ url: s.url, issuer: s.kt.services.oauth.issuer(), audience: 'https://api.example', jwks: (await s.kt.oauth.ring.jwks()) as never, stream: false });
    const rs = createHttpsServer({ cert: pem(certs.files['server.pem']), key: pem(certs.files['server.key']), ca: pem(certs.files['ca.pem']), requestCert: true, rejectUnauthorized: false }, (req, out) => {
      void verifier.verifyRequest(req).then((r) => {
        out.writeHead(r.valid ? 200 : 401, { 'content-type': 'application/json' });
        out.end(JSON.stringify(r));
      });
    });
    await new Promise<void>((resolve) => rs.listen(0, '127.0.0.1', resolve));
    const rsUrl = `https://localhost:${(rs.address() as AddressInfo).port}`;
    try {
      const proved = async () => ({ authorization: `DPoP ${token}`, dpop: await makeProof(key, 'GET', `${rsUrl}/api`, { accessToken: token }) });
      const both = await call(rsUrl, 'GET', '/api', { headers: await proved() });
      expect([both.status, both.body.valid, both.body.cnf]).toEqual([200, true, cnf]);
      // The proof without the certificate, or with another one: refused.
      const noCert = await call(rsUrl, 'GET', '/api', { headers: await proved(), cert: null });
      expect([noCert.status, noCert.body.reason]).toEqual([401, 'certificate']);
      const otherCert = await call(rsUrl, 'GET', '/api', { headers: await proved(), cert: other });
      expect([otherCert.status, otherCert.body.reason]).toEqual([401, 'certificate']);
      // The certificate without the proof: as Bearer `bound`; with the DPoP scheme but no proof, or a proof by another key: refused.
      const bearer = await call(rsUrl, 'GET', '/api', { headers: { authorization: `Bearer ${token}` } });
      expect([bearer.status, bearer.body.reason]).toEqual([401, 'bound']);
      const noProof = await call(rsUrl, 'GET', '/api', { headers: { authorization: `DPoP ${token}` } });
      expect([noProof.status, noProof.body.valid]).toEqual([401, false]);
      const thief = await proofKey();
      const wrongKey = await call(rsUrl, 'GET', '/api', { headers: { authorization: `DPoP ${token}`, dpop: await makeProof(thief, 'GET', `${rsUrl}/api`, { accessToken: token }) } });
      expect([wrongKey.status, wrongKey.body.valid]).toEqual([401, false]);
      // And both again, with a fresh proof: still accepted (nothing above spent the token).
      expect((await call(rsUrl, 'GET', '/api', { headers: await proved() })).status).toBe(200);
    } finally {
      rs.close();
      await verifier.close();
    }
  });
});

describe('TLS-session-bound tokens (RFC 9266 tls-exporter)', () => {
  let id: string;
  let secret: string;
  beforeAll(async () => {
    const created = await s.kt.oauth.clients.create({ name: 'session', audiences: ['https://api.example'] }, SYSTEM);
    id = created.client.clientId;
    secret = created.secret!;
  });
  const basic = () => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });

  it('works on the issuing connection only: another connection and a reconnect get invalid_token', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: pem(certs.files['ca.pem']) });
    const issued = await call(apiUrl, 'POST', '/oauth/token', { agent, cert: null, headers: basic(), body: (sock) => form({ grant_type: 'client_credentials', tls_exporter: exporter(sock) }) });
    expect(issued.status).toBe(200);
    const token = issued.body.access_token as string;
    expect(claims(token).cnf).toEqual({ 'tls_exporter#S256': exporter(issued.socket) });
    const auth = { authorization: `Bearer ${token}` };
    const same = await call(apiUrl, 'GET', '/api', { agent, cert: null, headers: auth });
    expect(same.socket).toBe(issued.socket);
    expect(same.status).toBe(200);
    const another = await call(apiUrl, 'GET', '/api', { cert: null, headers: auth });
    expect([another.status, another.body.reason]).toEqual([401, 'tls_session']);
    issued.socket.destroy();
    const reconnected = await call(apiUrl, 'GET', '/api', { agent, cert: null, headers: auth });
    expect(reconnected.socket).not.toBe(issued.socket);
    expect([reconnected.status, reconnected.body.reason]).toEqual([401, 'tls_session']);
    agent.destroy();
  });

  it('refuses a client exporter digest that differs (a TLS-terminating middlebox) and TLS 1.2, with events', async () => {
    const middlebox = await call(s.url, 'POST', '/oauth/token', { cert: null, headers: basic(), body: form({ grant_type: 'client_credentials', tls_exporter: 'A'.repeat(43) }) });
    expect([middlebox.status, middlebox.body.error]).toEqual([400, 'invalid_request']);
    const old = await call(s.url, 'POST', '/oauth/token', { cert: null, maxVersion: 'TLSv1.2', headers: basic(), body: form({ grant_type: 'client_credentials', tls_exporter: 'A'.repeat(43) }) });
    expect([old.status, old.body.error]).toEqual([400, 'invalid_request']);
    expect(old.body.error_description).toMatch(/TLS 1\.3/);
    const events = (await listEvents(s.kt.store, { type: 'binding.tls_failed' })).filter((e) => e.target === id);
    expect(events.map((e) => e.reason)).toEqual(expect.arrayContaining(['middlebox']));
  });

  it('the keyturn/client SessionClient pins one connection and re-obtains its token after a reconnect', async () => {
    const client = new SessionClient({ url: apiUrl, clientId: id, clientSecret: secret, tls: { ca: pem(certs.files['ca.pem']) } });
    try {
      expect((await client.request('GET', '/api')).status).toBe(200);
      expect((await client.request('GET', '/api')).status).toBe(200);
      expect(client.tokens).toBe(1);
      // The server drops every connection: the next request goes on a new one, with a new token.
      api.closeAllConnections();
      await new Promise((r) => setTimeout(r, 50));
      expect((await client.request('GET', '/api')).status).toBe(200);
      expect(client.tokens).toBe(2);
    } finally {
      client.close();
    }
  });
});

describe('openssl s_client interop (RFC 9266 exporter value)', () => {
  it('openssl computes the exporter value keyturn binds to: its digest obtains a session-bound token on that connection', async () => {
    const { spawn } = await import('node:child_process');
    const { port } = new URL(s.url);
    const created = await s.kt.oauth.clients.create({ name: 'openssl', audiences: ['https://api.example'] }, SYSTEM);
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_3', '-CAfile', certs.files['ca.pem'], '-keymatexport', 'EXPORTER-Channel-Binding', '-keymatexportlen', '32', '-ign_eof'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const material = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString('utf8');
        const m = /Keying material:\s*([0-9A-Fa-f]{64})/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.on('error', reject);
      child.on('exit', () => reject(new Error(`openssl exited: ${out.slice(-500)}`)));
    });
    const digest = createHash('sha256').update(Buffer.from(material, 'hex')).digest('base64url');
    const body = form({ grant_type: 'client_credentials', tls_exporter: digest });
    const auth = Buffer.from(`${created.client.clientId}:${created.secret}`).toString('base64');
    child.stdin.write(`POST /oauth/token HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic ${auth}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    const answer = await new Promise<string>((resolve) => {
      child.stdout.on('data', () => {
        if (/\r\n\r\n\{.*\}/s.test(out)) resolve(out);
      });
      child.on('exit', () => resolve(out));
    });
    child.kill();
    expect(answer).toMatch(/HTTP\/1\.1 200/);
    const token = /"access_token":"([^"]+)"/.exec(answer)![1]!;
    expect(claims(token).cnf).toEqual({ 'tls_exporter#S256': digest });
  });
});

describe('API keys bound to source networks and a client certificate', () => {
  async function key(name: string, binding: Record<string, unknown>) {
    const { id: owner } = await s.kt.principals.create({ kind: 'service', name: `owner-${name}` }, SYSTEM);
    return (await s.kt.keys.create({ owner, name, binding }, SYSTEM)).secret;
  }
  const verify = (body: Record<string, unknown>) => call(s.url, 'POST', '/v1/keys/verify', { cert: null, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('POST /v1/keys/verify checks the address and thumbprint the caller saw; without them a bound key is refused', async () => {
    const secret = await key('net', { networks: ['10.1.0.0/16', '2001:db8::/32'] });
    expect((await verify({ key: secret, address: '10.1.2.3' })).body).toMatchObject({ valid: true, binding: { networks: ['10.1.0.0/16', '2001:db8::/32'] } });
    expect((await verify({ key: secret, address: '::ffff:10.1.2.3' })).body.valid).toBe(true);
    expect((await verify({ key: secret, address: '10.2.0.1' })).body).toEqual({ valid: false, code: 'ERR_BINDING_MISMATCH' });
    expect((await verify({ key: secret })).body).toEqual({ valid: false, code: 'ERR_BINDING_MISMATCH' });
    const x5t = thumbprint(certs.files['client.pem']);
    const pinned = await key('cert', { 'x5t#S256': x5t });
    expect((await verify({ key: pinned, 'x5t#S256': x5t })).body.valid).toBe(true);
    expect((await verify({ key: pinned, 'x5t#S256': thumbprint(other.files['client.pem']) })).body.code).toBe('ERR_BINDING_MISMATCH');
    const reasons = (await listEvents(s.kt.store, { type: 'binding.tls_failed' })).filter((e) => (e.data as { binding?: string }).binding === 'api-key').map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['network', 'missing_binding', 'wrong_certificate']));
  });

  it('refuses a binding that is not networks or a thumbprint', async () => {
    const { id: owner } = await s.kt.principals.create({ kind: 'service', name: 'owner-bad' }, SYSTEM);
    await expect(s.kt.keys.create({ owner, name: 'b1', binding: { networks: ['10.0.0.0/33'] } }, SYSTEM)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    await expect(s.kt.keys.create({ owner, name: 'b2', binding: {} }, SYSTEM)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
  });

  it('the verifier library checks a bound key against the request socket, cached or not', async () => {
    const { createVerifier } = await import('../../src/verifier/index.js');
    const x5t = thumbprint(certs.files['client.pem']);
    const secret = await key('lib', { networks: ['127.0.0.0/8'], 'x5t#S256': x5t });
    const verifier = createVerifier({ url: s.url, fetch: ((_input: string, init: RequestInit) => call(s.url, 'POST', '/v1/keys/verify', { cert: null, headers: { 'content-type': 'application/json' }, body: init.body as string }).then((r) => new Response(JSON.stringify(r.body), { status: r.status }))) as never });
    const server = createHttpsServer({ cert: pem(certs.files['server.pem']), key: pem(certs.files['server.key']), ca: pem(certs.files['ca.pem']), requestCert: true, rejectUnauthorized: false }, (req, res) => {
      void verifier.verifyRequest(req).then((r) => {
        res.writeHead(r.valid ? 200 : 401, { 'content-type': 'application/json' });
        res.end(JSON.stringify(r));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://localhost:${(server.address() as AddressInfo).port}`;
    try {
      const auth = { authorization: `Bearer ${secret}` };
      expect((await call(url, 'GET', '/', { headers: auth })).status).toBe(200);
      expect((await call(url, 'GET', '/', { headers: auth })).status).toBe(200);
      const wrong = await call(url, 'GET', '/', { headers: auth, cert: other });
      expect([wrong.status, wrong.body.code]).toEqual([401, 'ERR_BINDING_MISMATCH']);
      const none = await call(url, 'GET', '/', { headers: auth, cert: null });
      expect([none.status, none.body.code]).toEqual([401, 'ERR_BINDING_MISMATCH']);
      expect(verifier.stats().upstreamRequests).toBe(1);
    } finally {
      server.close();
      await verifier.close();
    }
  });
});

describe('behind a TLS-terminating proxy: RFC 9440 Client-Cert from trusted proxies only', () => {
  let behind: TestServer;
  let proxy: Server;
  let proxyUrl: string;
  let id: string;

  beforeAll(async () => {
    const { request: httpRequest } = await import('node:http');
    // keyturn on plain HTTP behind the proxy, which connects from 127.0.0.2; clients directly from 127.0.0.1.
    behind = await startTestServer({ clientCertHeader: 'client-cert', clientCertProxies: '127.0.0.2' });
    id = (await behind.kt.oauth.clients.create({ name: 'behind', authMethod: 'tls_client_auth', tlsClientAuth: { subjectDn: certs.clientSubject } }, SYSTEM)).client.clientId;
    const target = new URL(behind.url);
    proxy = createHttpsServer({ cert: pem(certs.files['server.pem']), key: pem(certs.files['server.key']), ca: pem(certs.files['ca.pem']), requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const headers = { ...req.headers };
      // A proxy sets the header from the connection it verified, and drops what the client wrote.
      delete headers['client-cert'];
      const peer = (req.socket as TLSSocket).getPeerX509Certificate();
      if (peer && (req.socket as TLSSocket).authorized) headers['client-cert'] = `:${peer.raw.toString('base64')}:`;
      const up = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers, localAddress: '127.0.0.2' }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `https://localhost:${(proxy.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    proxy?.close();
    await behind?.stop();
  });

  const body = () => form({ grant_type: 'client_credentials', client_id: id });

  it('through the proxy: the right certificate gets a bound token; a forged header with another certificate does not', async () => {
    const ok = await call(proxyUrl, 'POST', '/oauth/token', { body: body() });
    expect(ok.status).toBe(200);
    expect(claims(ok.body.access_token).cnf).toEqual({ 'x5t#S256': thumbprint(certs.files['client.pem']) });
    const forged = await call(proxyUrl, 'POST', '/oauth/token', {
      cert: other,
      headers: { 'client-cert': `:${new X509Certificate(pem(certs.files['client.pem'])).raw.toString('base64')}:` },
      body: body(),
    });
    // The proxy forwards only certificates of its CA and drops the client's header: keyturn sees none.
    expect([forged.status, forged.body.error]).toEqual([401, 'invalid_client']);
  });

  it('sent directly (not from a configured proxy): the header is ignored and audited', async () => {
    const { request: httpRequest } = await import('node:http');
    const target = new URL(behind.url);
    const direct = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = httpRequest(
        { host: target.hostname, port: target.port, path: '/oauth/token', method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'client-cert': `:${new X509Certificate(pem(certs.files['client.pem'])).raw.toString('base64')}:` } },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end(body());
    });
    expect([direct.status, direct.body.error]).toEqual([401, 'invalid_client']);
    const ignored = await listEvents(behind.kt.store, { type: 'binding.client_cert_header_ignored' });
    expect(ignored.length).toBeGreaterThanOrEqual(1);
    expect(ignored[0]).toMatchObject({ reason: 'client-cert', sourceIp: '127.0.0.1' });
  });
});

describe('mtlsPort: a second listener for certificates (RFC 8705 mtls_endpoint_aliases)', () => {
  let split: TestServer;
  beforeAll(async () => {
    split = await startTestServer({ tlsCert: certs.files['server.pem'], tlsKey: certs.files['server.key'], tlsClientCa: certs.files['ca.pem'], mtlsPort: 0 });
  });
  afterAll(async () => {
    await split?.stop();
  });

  it('discovery names the aliases; the main port never asks for a certificate, the mTLS port does', async () => {
    expect(split.mtlsUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const doc = (await call(split.url, 'GET', '/.well-known/oauth-authorization-server', { cert: null })).body;
    expect(doc.mtls_endpoint_aliases).toEqual({
      token_endpoint: `${split.mtlsUrl}/oauth/token`,
      introspection_endpoint: `${split.mtlsUrl}/oauth/introspect`,
      revocation_endpoint: `${split.mtlsUrl}/oauth/revoke`,
    });
    const { client } = await split.kt.oauth.clients.create({ name: 'split', authMethod: 'tls_client_auth', tlsClientAuth: { subjectDn: certs.clientSubject } }, SYSTEM);
    const body = form({ grant_type: 'client_credentials', client_id: client.clientId });
    // The client holds a certificate, but the main port does not request it: no certificate reaches keyturn.
    const main = await call(split.url.replace('127.0.0.1', 'localhost'), 'POST', '/oauth/token', { body });
    expect([main.status, main.body.error]).toEqual([401, 'invalid_client']);
    const alias = await call(split.mtlsUrl!.replace('127.0.0.1', 'localhost'), 'POST', '/oauth/token', { body });
    expect(alias.status).toBe(200);
    expect(claims(alias.body.access_token).cnf['x5t#S256']).toBe(thumbprint(certs.files['client.pem']));
  });
});

describe('TLS-session-bound tokens over HTTP/2', () => {
  it('streams of the issuing HTTP/2 connection use the token; another HTTP/2 connection gets invalid_token', async () => {
    const { connect, createSecureServer } = await import('node:http2');
    const verifier = createJwtVerifier({ issuer: s.kt.services.oauth.issuer(), audience: 'https://api.example', jwks: (await s.kt.oauth.ring.jwks()) as never });
    // keyturn's handler and the verifier on one HTTP/2 listener (node's compatibility API).
    const h2 = createSecureServer({ cert: pem(certs.files['server.pem']), key: pem(certs.files['server.key']) }, (req, res) => {
      if (req.url !== '/api') return dispatch!(req as never, res as never);
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      void verifier.verify(bearer, presentationOf(req as never)).then((r) => {
        res.writeHead(r.valid ? 200 : 401, { 'content-type': 'application/json' });
        res.end(JSON.stringify(r));
      });
    });
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    const url = `https://localhost:${(h2.address() as AddressInfo).port}`;
    const { client, secret } = await s.kt.oauth.clients.create({ name: 'h2', audiences: ['https://api.example'] }, SYSTEM);
    const open = async () => {
      const session = connect(url, { ca: pem(certs.files['ca.pem']) });
      await new Promise((resolve) => session.once('connect', resolve));
      return session;
    };
    const send = (session: Awaited<ReturnType<typeof open>>, path: string, headers: Record<string, string>, body?: string) =>
      new Promise<{ status: number; body: any }>((resolve, reject) => {
        const stream = session.request({ ':method': body === undefined ? 'GET' : 'POST', ':path': path, ...headers });
        let status = 0;
        let text = '';
        stream.on('response', (h) => (status = Number(h[':status'])));
        stream.on('data', (c: Buffer) => (text += c.toString()));
        stream.on('end', () => resolve({ status, body: text ? JSON.parse(text) : undefined }));
        stream.on('error', reject);
        stream.end(body);
      });
    const first = await open();
    const second = await open();
    try {
      const body = form({ grant_type: 'client_credentials', tls_exporter: exporter(first.socket as TLSSocket) });
      const issued = await send(first, '/oauth/token', { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client.clientId}:${secret}`).toString('base64')}` }, body);
      expect(issued.status).toBe(200);
      const auth = { authorization: `Bearer ${issued.body.access_token}` };
      const streams = await Promise.all([send(first, '/api', auth), send(first, '/api', auth), send(first, '/api', auth)]);
      expect(streams.map((r) => r.status)).toEqual([200, 200, 200]);
      const elsewhere = await send(second, '/api', auth);
      expect([elsewhere.status, elsewhere.body.reason]).toEqual([401, 'tls_session']);
    } finally {
      first.close();
      second.close();
      h2.close();
    }
  });
});
