import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM } from '../../src/audit/events.js';
import { makeDevCerts, type DevCerts } from '../../src/runtime/dev-certs.js';
import { createVerifier, type Verifier } from '../../src/verifier/index.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { makeProof, proofKey, type ProofKey } from './support.js';
import { call, caFetch, claims, exporter, form, pem, thumbprint, type CallOptions } from './tls-support.js';

/**
 * Sender-constrained tokens in both formats: a JWT carries its `cnf` in itself, an opaque token in
 * its row. For each binding (mTLS `x5t#S256`, TLS-session `tls_exporter#S256`, DPoP `jkt`), the
 * token endpoint issues the token in either format with the same `cnf`, introspection answers that
 * `cnf`, and a resource server embedding the verifier (JWT locally, opaque through introspection)
 * accepts it only where its binding holds — never as a bearer token. Real TLS 1.3, generated
 * certificates.
 */

const AUDIENCE = 'https://api.example';
let dir: string;
let certs: DevCerts;
let other: DevCerts;
let s: TestServer;
let rsClient: { id: string; secret: string };
let verifier: Verifier;
let api: Server;
let apiUrl: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keyturn-opaque-bound-'));
  certs = makeDevCerts(join(dir, 'dev'));
  other = makeDevCerts(join(dir, 'other'));
  s = await startTestServer({ tlsCert: certs.files['server.pem'], tlsKey: certs.files['server.key'], tlsClientCa: certs.files['ca.pem'] });
  const created = await s.kt.oauth.clients.create({ name: 'orders-api', scopes: [], resourceServerFor: [AUDIENCE] }, SYSTEM);
  rsClient = { id: created.client.clientId, secret: created.secret! };
  // The API server: keyturn's own handler for everything but /api (so a session-bound token can be
  // obtained and used on one connection), the verifier library on /api.
  verifier = createVerifier({
    url: s.url,
    issuer: s.kt.services.oauth.issuer(),
    audience: AUDIENCE,
    jwks: (await s.kt.oauth.ring.jwks()) as never,
    introspection: { clientId: rsClient.id, clientSecret: rsClient.secret },
    introspectionCacheTtlMs: 0,
    fetch: caFetch(certs),
    stream: false,
  });
  const dispatch = s.app.server.listeners('request')[0] as (req: IncomingMessage, res: ServerResponse) => void;
  api = createHttpsServer({ cert: pem(certs.files['server.pem']), key: pem(certs.files['server.key']), ca: pem(certs.files['ca.pem']), requestCert: true, rejectUnauthorized: false }, (req, res) => {
    if (req.url !== '/api') return dispatch(req, res);
    void verifier.verifyRequest(req).then((r) => {
      res.writeHead(r.valid ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(r));
    });
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiUrl = `https://localhost:${(api.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  api?.close();
  await verifier?.close();
  await s?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const FORMATS = ['jwt', 'opaque'] as const;
type Format = (typeof FORMATS)[number];

const req = (url: string, method: string, path: string, options: CallOptions = {}) => call(certs, url, method, path, options);
const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });

/** What introspection tells the resource server about `token`. */
async function introspect(token: string) {
  return (await req(s.url, 'POST', '/oauth/introspect', { cert: null, headers: basic(rsClient.id, rsClient.secret), body: form({ token }) })).body;
}

function expectFormat(token: string, format: Format) {
  if (format === 'opaque') expect(token).toMatch(/^kta_/);
  else expect(token.split('.')).toHaveLength(3);
}

/** The `cnf` a token carries: the JWT claim, and for both formats what introspection answers. */
async function cnfOf(token: string, format: Format) {
  const seen = await introspect(token);
  expect(seen.active).toBe(true);
  if (format === 'jwt') expect(claims(token).cnf).toEqual(seen.cnf);
  return seen;
}

describe.each(FORMATS)('%s access tokens', (format) => {
  it('mTLS (RFC 8705): cnf x5t#S256 stored and answered; accepted with the certificate only', async () => {
    const { client } = await s.kt.oauth.clients.create(
      { name: `mtls-${format}`, authMethod: 'tls_client_auth', tlsClientAuth: { subjectDn: certs.clientSubject }, audiences: [AUDIENCE], policyOverrides: { accessTokenFormat: format } },
      SYSTEM,
    );
    const issued = await req(s.url, 'POST', '/oauth/token', { body: form({ grant_type: 'client_credentials', client_id: client.clientId }) });
    expect([issued.status, issued.body.token_type]).toEqual([200, 'Bearer']);
    const token = issued.body.access_token as string;
    expectFormat(token, format);
    const seen = await cnfOf(token, format);
    expect(seen).toMatchObject({ token_type: 'Bearer', cnf: { 'x5t#S256': thumbprint(certs.files['client.pem']) } });

    const auth = { authorization: `Bearer ${token}` };
    const ok = await req(apiUrl, 'GET', '/api', { headers: auth });
    expect([ok.status, ok.body.kind, ok.body.cnf]).toEqual([200, format, seen.cnf]);
    for (const cert of [other, null]) {
      const refused = await req(apiUrl, 'GET', '/api', { headers: auth, cert });
      expect([refused.status, refused.body.reason]).toEqual([401, 'certificate']);
    }
  });

  it('TLS session (RFC 9266): cnf tls_exporter#S256 stored and answered; accepted on the issuing connection only', async () => {
    const { client, secret } = await s.kt.oauth.clients.create({ name: `session-${format}`, audiences: [AUDIENCE], policyOverrides: { accessTokenFormat: format } }, SYSTEM);
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: pem(certs.files['ca.pem']) });
    try {
      let digest = '';
      const issued = await req(apiUrl, 'POST', '/oauth/token', {
        agent,
        cert: null,
        headers: basic(client.clientId, secret!),
        body: (socket) => form({ grant_type: 'client_credentials', tls_exporter: (digest = exporter(socket)) }),
      });
      expect(issued.status).toBe(200);
      const token = issued.body.access_token as string;
      expectFormat(token, format);
      expect(await cnfOf(token, format)).toMatchObject({ token_type: 'Bearer', cnf: { 'tls_exporter#S256': digest } });

      const auth = { authorization: `Bearer ${token}` };
      const same = await req(apiUrl, 'GET', '/api', { agent, cert: null, headers: auth });
      expect([same.status, same.body.kind, same.socket === issued.socket]).toEqual([200, format, true]);
      const elsewhere = await req(apiUrl, 'GET', '/api', { cert: null, headers: auth });
      expect([elsewhere.status, elsewhere.body.reason]).toEqual([401, 'tls_session']);
    } finally {
      agent.destroy();
    }
  });

  it('DPoP (RFC 9449): cnf jkt stored, introspected as token_type DPoP; accepted with a proof by its key only, never as Bearer', async () => {
    const { client, secret } = await s.kt.oauth.clients.create({ name: `dpop-${format}`, audiences: [AUDIENCE], policyOverrides: { accessTokenFormat: format } }, SYSTEM);
    const key: ProofKey = await proofKey();
    const ask = async (nonce?: string) =>
      req(s.url, 'POST', '/oauth/token', {
        cert: null,
        headers: { ...basic(client.clientId, secret!), dpop: await makeProof(key, 'POST', `${s.url}/oauth/token`, nonce === undefined ? {} : { nonce }) },
        body: form({ grant_type: 'client_credentials' }),
      });
    const handshake = await ask();
    expect(handshake.body.error).toBe('use_dpop_nonce');
    const issued = await ask(handshake.headers['dpop-nonce'] as string);
    expect([issued.status, issued.body.token_type]).toEqual([200, 'DPoP']);
    const token = issued.body.access_token as string;
    expectFormat(token, format);
    const seen = await cnfOf(token, format);
    expect(seen).toMatchObject({ token_type: 'DPoP', cnf: { jkt: expect.stringMatching(/^[\w-]{43}$/) } });

    const proved = async (by: ProofKey) => ({ authorization: `DPoP ${token}`, dpop: await makeProof(by, 'GET', `${apiUrl}/api`, { accessToken: token }) });
    const ok = await req(apiUrl, 'GET', '/api', { cert: null, headers: await proved(key) });
    expect([ok.status, ok.body.kind, ok.body.cnf]).toEqual([200, format, seen.cnf]);
    const bearer = await req(apiUrl, 'GET', '/api', { cert: null, headers: { authorization: `Bearer ${token}` } });
    expect([bearer.status, bearer.body.reason]).toEqual([401, 'bound']);
    const thief = await req(apiUrl, 'GET', '/api', { cert: null, headers: await proved(await proofKey()) });
    expect(thief.status).toBe(401);
    const noProof = await req(apiUrl, 'GET', '/api', { cert: null, headers: { authorization: `DPoP ${token}` } });
    expect(noProof.status).toBe(401);
  });
});

describe('fail closed on what the verifier cannot check', () => {
  it('an opaque token whose stored cnf has a member the verifier does not know is refused (cnf), not taken as bearer', async () => {
    const { client, secret } = await s.kt.oauth.clients.create({ name: 'unknown-cnf', audiences: [AUDIENCE], policyOverrides: { accessTokenFormat: 'opaque' } }, SYSTEM);
    const token = (await req(s.url, 'POST', '/oauth/token', { cert: null, headers: basic(client.clientId, secret!), body: form({ grant_type: 'client_credentials' }) })).body.access_token as string;
    expect((await req(apiUrl, 'GET', '/api', { cert: null, headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    // A binding of a kind this verifier version does not know (as a newer keyturn might record).
    await s.kt.store.run('UPDATE oauth_access_tokens SET cnf = ? WHERE client_id = ?', [JSON.stringify({ 'x5t#S512': 'A'.repeat(86) }), client.clientId]);
    expect((await introspect(token)).cnf).toEqual({ 'x5t#S512': 'A'.repeat(86) });
    const refused = await req(apiUrl, 'GET', '/api', { cert: null, headers: { authorization: `Bearer ${token}` } });
    expect([refused.status, refused.body.reason]).toEqual([401, 'cnf']);
  });
});
