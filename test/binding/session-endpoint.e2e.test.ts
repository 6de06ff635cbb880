import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, createServer as createHttpsServer, request as httpsRequest, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import express from 'express';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listEvents, SYSTEM } from '../../src/audit/events.js';
import { SessionClient, SessionTokenError } from '../../src/client/index.js';
import { makeDevCerts, type DevCerts } from '../../src/runtime/dev-certs.js';
import { createSessionEndpoint, createVerifier, type SessionEndpoint, type SessionRefusal, type Verifier } from '../../src/verifier/index.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { call, caFetch, claims, exporter, form, h2call, h2open, pem, type CallOptions } from './tls-support.js';

/**
 * TLS-session binding at an API server that embeds the verifier and mounts its session endpoint
 * (`createSessionEndpoint`): a client holding a keyturn access token or API key exchanges it, on its
 * TLS 1.3 connection to the API server, for a token bound to THAT connection; keyturn issues it (token
 * exchange relayed by the API server's own keyturn client). Real TLS 1.3 with generated certificates,
 * `SessionClient` on the client side. Refused: another connection, a reconnect, TLS 1.2, a
 * TLS-terminating middlebox (the client's digest differs from the server's), a credential that is
 * bound already, and at keyturn a relayed digest from anyone but the audience's resource server.
 */

const AUDIENCE = 'https://orders.example';
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
let dir: string;
let certs: DevCerts;
let s: TestServer;
let broker: { id: string; secret: string };
let holder: { id: string; secret: string; principal: string };
let verifier: Verifier;
let session: SessionEndpoint;
const refusals: SessionRefusal[] = [];
let api: Server;
let apiUrl: string;

const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });
const req = (url: string, method: string, path: string, options: CallOptions = {}) => call(certs, url, method, path, { cert: null, ...options });

/** The API's own routes: `/api` answers who called (verifier on the request's connection). */
function apiRoute(req: IncomingMessage, res: ServerResponse): void {
  void verifier.verifyRequest(req).then((r) => {
    res.writeHead(r.valid ? 200 : 401, { 'content-type': 'application/json' });
    res.end(JSON.stringify(r));
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `https://localhost:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keyturn-session-endpoint-'));
  certs = makeDevCerts(join(dir, 'dev'));
  s = await startTestServer({ tlsCert: certs.files['server.pem'], tlsKey: certs.files['server.key'] });
  const b = await s.kt.oauth.clients.create({ name: 'orders-api', scopes: ['read', 'write'], grantTypes: [EXCHANGE], audiences: [AUDIENCE], resourceServerFor: [AUDIENCE] }, SYSTEM);
  broker = { id: b.client.clientId, secret: b.secret! };
  const h = await s.kt.oauth.clients.create({ name: 'holder', scopes: ['read'], audiences: [AUDIENCE] }, SYSTEM);
  holder = { id: h.client.clientId, secret: h.secret!, principal: h.client.principal };
  verifier = createVerifier({ url: s.url, issuer: s.kt.services.oauth.issuer(), audience: AUDIENCE, jwks: (await s.kt.oauth.ring.jwks()) as never, fetch: caFetch(certs), stream: false });
  session = createSessionEndpoint({
    verifier,
    tokenEndpoint: `${s.url}/oauth/token`,
    clientId: broker.id,
    clientSecret: broker.secret,
    audience: AUDIENCE,
    fetch: caFetch(certs),
    onRefused: (r) => refusals.push(r),
  });
  // node's default minVersion (TLS 1.2) on purpose: the endpoint itself refuses 1.2.
  api = createHttpsServer({ cert: pem(certs.files['server.pem']), key: pem(certs.files['server.key']) }, (r, res) => (r.url === '/session' ? session.handle(r, res) : apiRoute(r, res)));
  apiUrl = await listen(api);
}, 60_000);

afterAll(async () => {
  api?.closeAllConnections();
  api?.close();
  await verifier?.close();
  await s?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A bearer (unbound) access token of the holder, obtained at keyturn directly. */
async function holderToken(): Promise<string> {
  const res = await req(s.url, 'POST', '/oauth/token', { headers: basic(holder.id, holder.secret), body: form({ grant_type: 'client_credentials', audience: AUDIENCE }) });
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

function lastRefusal(): SessionRefusal | undefined {
  return refusals[refusals.length - 1];
}

describe('a session endpoint mounted by the API server', () => {
  it('exchanges a keyturn access token for a token bound to the client’s connection to the API server; SessionClient uses it there', async () => {
    const credential = await holderToken();
    const client = new SessionClient({ url: apiUrl, session: { path: '/session', credential }, tls: { ca: pem(certs.files['ca.pem']) } });
    try {
      const first = await client.request('GET', '/api');
      expect(first.status).toBe(200);
      expect(JSON.parse(first.body)).toMatchObject({ valid: true, kind: 'jwt', principal: holder.principal, scopes: ['read'] });
      expect((await client.request('GET', '/api')).status).toBe(200);
      expect(client.tokens).toBe(1);
      const token = await client.token();
      const c = claims(token);
      expect(c.aud).toBe(AUDIENCE);
      expect(c.sub).toBe(holder.principal);
      expect(c.act).toMatchObject({ client_id: broker.id });
      expect(Object.keys(c.cnf)).toEqual(['tls_exporter#S256']);
      // Issued by keyturn, recorded as an exchange of the holder's token.
      const exchanged = await listEvents(s.kt.store, { type: 'token.exchanged' });
      expect(exchanged.some((e) => (e.data as { jti?: string }).jti === c.jti)).toBe(true);
    } finally {
      client.close();
    }
  });

  it('the session token works on the issuing connection only: another connection and a reconnect get invalid_token (tls_session)', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: pem(certs.files['ca.pem']) });
    try {
      const credential = await holderToken();
      let digest = '';
      const issued = await req(apiUrl, 'POST', '/session', { agent, headers: { authorization: `Bearer ${credential}` }, body: (socket) => form({ tls_exporter: (digest = exporter(socket)) }) });
      expect([issued.status, issued.body.token_type]).toEqual([200, 'Bearer']);
      const token = issued.body.access_token as string;
      expect(claims(token).cnf).toEqual({ 'tls_exporter#S256': digest });
      const auth = { authorization: `Bearer ${token}` };
      const same = await req(apiUrl, 'GET', '/api', { agent, headers: auth });
      expect([same.status, same.socket === issued.socket]).toEqual([200, true]);
      const other = await req(apiUrl, 'GET', '/api', { headers: auth });
      expect([other.status, other.body.reason]).toEqual([401, 'tls_session']);
      // A reconnect: the connection ends; the client's agent opens a new one.
      const closed = new Promise((resolve) => issued.socket.once('close', resolve));
      issued.socket.destroy();
      await closed;
      const again = await req(apiUrl, 'GET', '/api', { agent, headers: auth });
      expect(again.socket).not.toBe(issued.socket);
      expect([again.status, again.body.reason]).toEqual([401, 'tls_session']);
    } finally {
      agent.destroy();
    }
  });

  it('SessionClient obtains a new session token after a reconnect', async () => {
    const client = new SessionClient({ url: apiUrl, session: { path: '/session', credential: holderToken }, tls: { ca: pem(certs.files['ca.pem']) } });
    try {
      expect((await client.request('GET', '/api')).status).toBe(200);
      const before = await client.token();
      // The server drops every connection (the request may race the close: SessionClient retries on a fresh one).
      api.closeAllConnections();
      expect((await client.request('GET', '/api')).status).toBe(200);
      expect(client.tokens).toBe(2);
      const after = await client.token();
      expect(after).not.toBe(before);
      expect(claims(after).cnf['tls_exporter#S256']).not.toBe(claims(before).cnf['tls_exporter#S256']);
    } finally {
      client.close();
    }
  });

  it('SessionClient: concurrent first requests wait for one token request (one token for the pinned connection)', async () => {
    const client = new SessionClient({ url: apiUrl, session: { path: '/session', credential: holderToken }, tls: { ca: pem(certs.files['ca.pem']) } });
    try {
      const answers = await Promise.all(Array.from({ length: 4 }, () => client.request('GET', '/api')));
      expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      expect(client.tokens).toBe(1);
    } finally {
      client.close();
    }
  });

  it('an API key is exchanged too (subject type api_key)', async () => {
    const { id: owner } = await s.kt.principals.create({ kind: 'service', name: 'key-holder' }, SYSTEM);
    const { secret } = await s.kt.keys.create({ owner, name: 'session-key', scopes: ['read'] }, SYSTEM);
    const client = new SessionClient({ url: apiUrl, session: { path: '/session', credential: secret }, tls: { ca: pem(certs.files['ca.pem']) } });
    try {
      const res = await client.request('GET', '/api');
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ principal: owner, kind: 'jwt' });
      expect(claims(await client.token()).cnf).toHaveProperty(['tls_exporter#S256']);
    } finally {
      client.close();
    }
  });

  it('TLS 1.2 is refused (RFC 9266 tls-exporter is for TLS 1.3)', async () => {
    const credential = await holderToken();
    const res = await req(apiUrl, 'POST', '/session', { maxVersion: 'TLSv1.2', headers: { authorization: `Bearer ${credential}` }, body: (socket) => form({ tls_exporter: exporter(socket) }) });
    expect(res.socket.getProtocol()).toBe('TLSv1.2');
    expect([res.status, res.body.error]).toEqual([400, 'invalid_request']);
    expect(lastRefusal()).toEqual({ status: 400, reason: 'tls_version' });
  });

  it('a TLS-terminating middlebox is detected (the client’s digest is not the server’s) and refused', async () => {
    // A proxy that terminates the client's TLS and opens its own connection to the API server.
    const upstream = new Agent({ keepAlive: true, ca: pem(certs.files['ca.pem']) });
    const target = new URL(apiUrl);
    const proxy = createHttpsServer({ cert: pem(certs.files['server.pem']), key: pem(certs.files['server.key']) }, (r, res) => {
      const up = httpsRequest({ host: target.hostname, port: target.port, path: r.url, method: r.method, headers: r.headers, agent: upstream }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      });
      r.pipe(up);
    });
    const proxyUrl = await listen(proxy);
    try {
      const credential = await holderToken();
      const res = await req(proxyUrl, 'POST', '/session', { headers: { authorization: `Bearer ${credential}` }, body: (socket) => form({ tls_exporter: exporter(socket) }) });
      expect([res.status, res.body.error]).toEqual([400, 'invalid_request']);
      expect(lastRefusal()).toEqual({ status: 400, reason: 'middlebox' });
      // SessionClient through it: no token, an error naming the refusal.
      const client = new SessionClient({ url: proxyUrl, session: { path: '/session', credential }, tls: { ca: pem(certs.files['ca.pem']) } });
      try {
        await expect(client.request('GET', '/api')).rejects.toMatchObject({ name: 'SessionTokenError', status: 400, error: 'invalid_request' });
      } finally {
        client.close();
      }
      // A digest that is not this connection's, sent directly: the same refusal.
      const forged = await req(apiUrl, 'POST', '/session', { headers: { authorization: `Bearer ${credential}` }, body: form({ tls_exporter: 'A'.repeat(43) }) });
      expect([forged.status, lastRefusal()?.reason]).toEqual([400, 'middlebox']);
    } finally {
      proxy.closeAllConnections();
      proxy.close();
      upstream.destroy();
    }
  });

  it('refuses a bad or missing credential (401), a bound one (400: it is constrained already), and other methods', async () => {
    const body = (socket: TLSSocket) => form({ tls_exporter: exporter(socket) });
    const none = await req(apiUrl, 'POST', '/session', { body });
    expect([none.status, none.body.error]).toEqual([401, 'invalid_token']);
    const bad = await req(apiUrl, 'POST', '/session', { headers: { authorization: 'Bearer kt_live_notarealkey' }, body });
    expect([bad.status, bad.body.error, lastRefusal()?.reason]).toEqual([401, 'invalid_token', 'credential']);
    // A session token presented to get another, on its own connection (where it verifies): bound already.
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: pem(certs.files['ca.pem']) });
    try {
      const credential = await holderToken();
      const issued = await req(apiUrl, 'POST', '/session', { agent, headers: { authorization: `Bearer ${credential}` }, body });
      const token = issued.body.access_token as string;
      const again = await req(apiUrl, 'POST', '/session', { agent, headers: { authorization: `Bearer ${token}` }, body });
      expect([again.status, again.body.error, again.socket === issued.socket, lastRefusal()?.reason]).toEqual([400, 'invalid_request', true, 'bound']);
      // On another connection it does not even verify.
      const elsewhere = await req(apiUrl, 'POST', '/session', { headers: { authorization: `Bearer ${token}` }, body });
      expect([elsewhere.status, lastRefusal()]).toEqual([401, { status: 401, reason: 'credential', detail: 'ERR_INVALID_TOKEN: tls_session' }]);
    } finally {
      agent.destroy();
    }
    const get = await req(apiUrl, 'GET', '/session');
    expect([get.status, get.headers.allow]).toEqual([405, 'POST']);
  });
});

describe('keyturn: a relayed connection digest only from the audience’s resource server', () => {
  const exchange = (extra: Record<string, string>, subject: string) =>
    form({ grant_type: EXCHANGE, subject_token: subject, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', audience: AUDIENCE, holder_tls_exporter: 'B'.repeat(43), ...extra });

  it('another client with the exchange grant may not relay one (unauthorized_client, audited)', async () => {
    const other = await s.kt.oauth.clients.create({ name: 'not-the-rs', scopes: ['read'], grantTypes: [EXCHANGE], audiences: [AUDIENCE] }, SYSTEM);
    const res = await req(s.url, 'POST', '/oauth/token', { headers: basic(other.client.clientId, other.secret!), body: exchange({}, await holderToken()) });
    expect([res.status, res.body.error]).toEqual([400, 'unauthorized_client']);
    const events = (await listEvents(s.kt.store, { type: 'binding.tls_failed' })).filter((e) => e.target === other.client.clientId);
    expect(events.map((e) => e.reason)).toEqual(['not_resource_server']);
  });

  it('the resource server gets a token bound to the digest it relays; not with client_credentials, a malformed digest, or a bound subject', async () => {
    const ok = await req(s.url, 'POST', '/oauth/token', { headers: basic(broker.id, broker.secret), body: exchange({}, await holderToken()) });
    expect(ok.status).toBe(200);
    expect(claims(ok.body.access_token).cnf).toEqual({ 'tls_exporter#S256': 'B'.repeat(43) });
    const cc = await req(s.url, 'POST', '/oauth/token', { headers: basic(holder.id, holder.secret), body: form({ grant_type: 'client_credentials', holder_tls_exporter: 'B'.repeat(43) }) });
    expect([cc.status, cc.body.error]).toEqual([400, 'invalid_request']);
    const malformed = await req(s.url, 'POST', '/oauth/token', { headers: basic(broker.id, broker.secret), body: exchange({ holder_tls_exporter: 'short' }, await holderToken()) });
    expect([malformed.status, malformed.body.error]).toEqual([400, 'invalid_request']);
    // The relayed token itself as subject: bound, so not exchanged again.
    const bound = await req(s.url, 'POST', '/oauth/token', { headers: basic(broker.id, broker.secret), body: exchange({}, ok.body.access_token as string) });
    expect([bound.status, bound.body.error]).toEqual([400, 'invalid_request']);
    const reasons = (await listEvents(s.kt.store, { type: 'binding.tls_failed' })).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['not_exchange', 'malformed_exporter', 'bound_subject']));
  });

  it('the session token falls with the credential it came from (lineage): revoking the subject makes it inactive', async () => {
    const subject = await holderToken();
    const ok = await req(s.url, 'POST', '/oauth/token', { headers: basic(broker.id, broker.secret), body: exchange({}, subject) });
    const token = ok.body.access_token as string;
    const introspect = () => req(s.url, 'POST', '/oauth/introspect', { headers: basic(broker.id, broker.secret), body: form({ token }) });
    expect((await introspect()).body).toMatchObject({ active: true, cnf: { 'tls_exporter#S256': 'B'.repeat(43) } });
    expect((await req(s.url, 'POST', '/oauth/revoke', { headers: basic(holder.id, holder.secret), body: form({ token: subject }) })).status).toBe(200);
    expect((await introspect()).body).toEqual({ active: false });
  });

  it('an API key bound to networks is exchanged only from them (also directly at keyturn, not only here)', async () => {
    const { id: owner } = await s.kt.principals.create({ kind: 'service', name: 'bound-key-holder' }, SYSTEM);
    const keyExchange = (secret: string) => form({ grant_type: EXCHANGE, subject_token: secret, subject_token_type: 'urn:keyturn:params:oauth:token-type:api_key', audience: AUDIENCE });
    const { key: outsideKey, secret: outside } = await s.kt.keys.create({ owner, name: 'outside', scopes: ['read'], binding: { networks: ['10.0.0.0/8'] } }, SYSTEM);
    const refused = await req(s.url, 'POST', '/oauth/token', { headers: basic(broker.id, broker.secret), body: keyExchange(outside) });
    expect([refused.status, refused.body.error]).toEqual([400, 'invalid_request']);
    const inside = (await s.kt.keys.create({ owner, name: 'inside', scopes: ['read'], binding: { networks: ['127.0.0.0/8'] } }, SYSTEM)).secret;
    expect((await req(s.url, 'POST', '/oauth/token', { headers: basic(broker.id, broker.secret), body: keyExchange(inside) })).status).toBe(200);
    const events = (await listEvents(s.kt.store, { type: 'binding.tls_failed' })).filter((e) => (e.data as { binding?: string }).binding === 'api-key' && (e.data as { at?: string }).at === 'token');
    expect(events.map((e) => e.reason)).toEqual(['network']);
    // The event names the key refused (what a binding_mismatch response would suspend) and the client that gave it.
    expect(events.map((e) => [e.target, e.data['client']])).toEqual([[outsideKey.id, broker.id]]);
    // Through the session endpoint a bound key is refused before keyturn is asked (it is constrained already).
    const client = new SessionClient({ url: apiUrl, session: { path: '/session', credential: inside }, tls: { ca: pem(certs.files['ca.pem']) } });
    try {
      await expect(client.token()).rejects.toBeInstanceOf(SessionTokenError);
      expect(lastRefusal()).toEqual({ status: 400, reason: 'bound' });
    } finally {
      client.close();
    }
  });
});

describe('the express and fastify adapters', () => {
  it('express: app.post(path, endpoint.handle) after express.urlencoded()', async () => {
    const app = express();
    app.post('/session', express.urlencoded({ extended: false }), session.handle as never);
    app.get('/api', apiRoute as never);
    const server = createHttpsServer({ cert: pem(certs.files['server.pem']), key: pem(certs.files['server.key']), minVersion: 'TLSv1.3' }, app);
    const url = await listen(server);
    const client = new SessionClient({ url, session: { path: '/session', credential: await holderToken() }, tls: { ca: pem(certs.files['ca.pem']) } });
    try {
      expect((await client.request('GET', '/api')).status).toBe(200);
      expect(client.tokens).toBe(1);
    } finally {
      client.close();
      server.closeAllConnections();
      server.close();
    }
  });

  it('fastify: app.post(path, endpoint.fastify) with a form parser', async () => {
    const app = Fastify({ https: { cert: pem(certs.files['server.pem']), key: pem(certs.files['server.key']), minVersion: 'TLSv1.3' } });
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_r, body, done) => done(null, body));
    app.post('/session', session.fastify);
    app.get('/api', async (request, reply) => {
      const r = await verifier.verifyRequest(request.raw);
      return reply.code(r.valid ? 200 : 401).send(r);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `https://localhost:${(app.server.address() as AddressInfo).port}`;
    const client = new SessionClient({ url, session: { path: '/session', credential: await holderToken() }, tls: { ca: pem(certs.files['ca.pem']) } });
    try {
      expect((await client.request('GET', '/api')).status).toBe(200);
      const elsewhere = await req(url, 'GET', '/api', { headers: { authorization: `Bearer ${await client.token()}` } });
      expect([elsewhere.status, elsewhere.body.reason]).toEqual([401, 'tls_session']);
    } finally {
      client.close();
      await app.close();
    }
  });
});

describe('the fastify adapter over HTTP/2', () => {
  it('fastify({ http2: true, https }): endpoint.fastify issues on an HTTP/2 session; its streams use the token, another session cannot', async () => {
    const app = Fastify({ http2: true, https: { cert: pem(certs.files['server.pem']), key: pem(certs.files['server.key']), minVersion: 'TLSv1.3' } });
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_r, body, done) => done(null, body));
    app.post('/session', session.fastify as never);
    app.get('/api', async (request, reply) => {
      const r = await verifier.verifyRequest(request.raw as never);
      return reply.code(r.valid ? 200 : 401).send(r);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `https://localhost:${(app.server.address() as AddressInfo).port}`;
    const client = new SessionClient({ url, http2: true, session: { path: '/session', credential: await holderToken() }, tls: { ca: pem(certs.files['ca.pem']) } });
    const other = await h2open(certs, url);
    try {
      const streams = await Promise.all([client.request('GET', '/api'), client.request('GET', '/api'), client.request('GET', '/api')]);
      expect(streams.map((r) => [r.status, JSON.parse(r.body).valid])).toEqual([
        [200, true],
        [200, true],
        [200, true],
      ]);
      expect(client.tokens).toBe(1);
      // Another HTTP/2 session presenting the first one's token: refused.
      const elsewhere = await h2call(other, 'GET', '/api', { headers: { authorization: `Bearer ${await client.token()}` } });
      expect([elsewhere.status, elsewhere.body.reason]).toEqual([401, 'tls_session']);
    } finally {
      client.close();
      other.close();
      await app.close();
    }
  });
});

describe('SessionClient renewal', () => {
  it('obtains a new token when the held one is about to expire, on the same connection', async () => {
    let lifetime = 0;
    let issued = 0;
    const stub = createHttpsServer({ cert: pem(certs.files['server.pem']), key: pem(certs.files['server.key']) }, (r, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (r.url === '/session') res.end(JSON.stringify({ access_token: `t${++issued}`, token_type: 'Bearer', expires_in: lifetime }));
      else res.end(JSON.stringify({ authorization: r.headers.authorization }));
      r.resume();
    });
    const url = await listen(stub);
    const client = new SessionClient({ url, session: { path: '/session', credential: 'kt_anything' }, tls: { ca: pem(certs.files['ca.pem']) } });
    try {
      // A token that expires at once is renewed before every use.
      expect(JSON.parse((await client.request('GET', '/api')).body)).toEqual({ authorization: 'Bearer t1' });
      expect(JSON.parse((await client.request('GET', '/api')).body)).toEqual({ authorization: 'Bearer t2' });
      // One that lives an hour is kept.
      lifetime = 3600;
      expect(JSON.parse((await client.request('GET', '/api')).body)).toEqual({ authorization: 'Bearer t3' });
      expect(JSON.parse((await client.request('GET', '/api')).body)).toEqual({ authorization: 'Bearer t3' });
      expect(client.tokens).toBe(3);
    } finally {
      client.close();
      stub.closeAllConnections();
      stub.close();
    }
  });
});
