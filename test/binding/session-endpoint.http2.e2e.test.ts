import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM } from '../../src/audit/events.js';
import { SessionClient } from '../../src/client/index.js';
import { makeDevCerts, type DevCerts } from '../../src/runtime/dev-certs.js';
import { createSessionEndpoint, createVerifier, presentationOf, type SessionEndpoint, type SessionRefusal, type TlsChannel, type Verifier } from '../../src/verifier/index.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { call, caFetch, claims, exporter, form, h2call, h2open, pem } from './tls-support.js';

/**
 * The API server's session endpoint (`createSessionEndpoint`) and the verifier on a node:http2
 * secure server (TLS 1.3; `allowHTTP1` false and true), keyturn issuing the session tokens as in
 * `session-endpoint.e2e.test.ts`. On HTTP/2 the connection is the session: a token obtained on one
 * session works for every stream of it, and gets `invalid_token` (`tls_session`) on another session,
 * after a reconnect and over an HTTP/1.1 connection to the same server. `SessionClient` pins one
 * HTTP/2 session with `http2: true` and obtains a new token after the session ends.
 */

const AUDIENCE = 'https://orders.example';
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
let dir: string;
let certs: DevCerts;
let s: TestServer;
let holder: { id: string; secret: string; principal: string };
let verifier: Verifier;
let session: SessionEndpoint;
const refusals: SessionRefusal[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keyturn-session-h2-'));
  certs = makeDevCerts(join(dir, 'dev'));
  s = await startTestServer({ tlsCert: certs.files['server.pem'], tlsKey: certs.files['server.key'] });
  const b = await s.kt.oauth.clients.create({ name: 'orders-api', scopes: ['read', 'write'], grantTypes: [EXCHANGE], audiences: [AUDIENCE], resourceServerFor: [AUDIENCE] }, SYSTEM);
  const h = await s.kt.oauth.clients.create({ name: 'holder', scopes: ['read'], audiences: [AUDIENCE] }, SYSTEM);
  holder = { id: h.client.clientId, secret: h.secret!, principal: h.client.principal };
  verifier = createVerifier({ url: s.url, issuer: s.kt.services.oauth.issuer(), audience: AUDIENCE, jwks: (await s.kt.oauth.ring.jwks()) as never, fetch: caFetch(certs), stream: false });
  session = createSessionEndpoint({
    verifier,
    tokenEndpoint: `${s.url}/oauth/token`,
    clientId: b.client.clientId,
    clientSecret: b.secret!,
    audience: AUDIENCE,
    fetch: caFetch(certs),
    onRefused: (r) => refusals.push(r),
  });
}, 60_000);

afterAll(async () => {
  await verifier?.close();
  await s?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A bearer (unbound) access token of the holder, obtained at keyturn directly. */
async function holderToken(): Promise<string> {
  const res = await call(certs, s.url, 'POST', '/oauth/token', {
    cert: null,
    headers: { authorization: `Basic ${Buffer.from(`${holder.id}:${holder.secret}`).toString('base64')}` },
    body: form({ grant_type: 'client_credentials', audience: AUDIENCE }),
  });
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

const lastRefusal = (): SessionRefusal | undefined => refusals[refusals.length - 1];

describe.each([false, true])('node:http2 secure server (allowHTTP1: %s)', (allowHTTP1) => {
  let api: Http2SecureServer;
  let url: string;
  const sessions = new Set<ServerHttp2Session>();
  /** Numbers the TLS channels the verifier is handed: one per connection, whatever the stream. */
  const channelIds = new WeakMap<TlsChannel, number>();
  let channels = 0;

  /** `/session`: the endpoint; `/api`: who called (verifier on the request's connection); `/channel`: the id of its TLS channel. */
  function route(req: Http2ServerRequest | IncomingMessage, res: Http2ServerResponse | ServerResponse): void {
    if (req.url === '/session') return session.handle(req, res);
    if (req.url === '/raw') return; // answered by the core stream API listener below
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/channel') {
      const tls = presentationOf(req)?.tls;
      if (tls === undefined) return json(500, {});
      if (!channelIds.has(tls)) channelIds.set(tls, ++channels);
      return json(200, { id: channelIds.get(tls), version: req.httpVersion });
    }
    if (req.url === '/gone') {
      // The session ends under the request (the client went away): its socket proxies can no longer be read.
      (req as Http2ServerRequest).stream.session?.destroy();
      gone.push(Promise.resolve().then(async () => ({ presentation: presentationOf(req), verified: await verifier.verifyRequest(req) })));
      return;
    }
    void verifier.verifyRequest(req).then((r) => json(r.valid ? 200 : 401, { ...r, version: req.httpVersion }));
  }
  const gone: Promise<unknown>[] = [];

  beforeAll(async () => {
    // node's default minVersion (TLS 1.2) on purpose: the endpoint itself refuses 1.2.
    api = createSecureServer({ cert: pem(certs.files['server.pem']), key: pem(certs.files['server.key']), allowHTTP1, unknownProtocolTimeout: 500 }, route);
    // The core stream API: no request object; the connection is `stream.session.socket`.
    api.on('stream', (stream, headers) => {
      if (headers[':path'] !== '/raw') return;
      void verifier.verifyRequest({ method: headers[':method'], url: headers[':path'], headers, socket: stream.session?.socket }).then((r) => {
        stream.respond({ ':status': r.valid ? 200 : 401, 'content-type': 'application/json' });
        stream.end(JSON.stringify(r));
      });
    });
    api.on('session', (x: ServerHttp2Session) => {
      sessions.add(x);
      x.once('close', () => sessions.delete(x));
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    url = `https://localhost:${(api.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const x of sessions) x.destroy();
    await new Promise((resolve) => api.close(resolve));
  });

  /** Obtains a session token on `h2` (an open client session), sending its own exporter digest. */
  async function obtain(h2: Awaited<ReturnType<typeof h2open>>, credential?: string) {
    return h2call(h2, 'POST', '/session', { headers: { authorization: `Bearer ${credential ?? (await holderToken())}` }, body: form({ tls_exporter: exporter(h2.socket as TLSSocket) }) });
  }

  it('a token obtained on one HTTP/2 session works for every stream of it, concurrent ones too; the exporter is read once per session', async () => {
    const h2 = await h2open(certs, url);
    try {
      const issued = await obtain(h2);
      expect([issued.status, issued.body.token_type]).toEqual([200, 'Bearer']);
      const token = issued.body.access_token as string;
      expect(claims(token)).toMatchObject({ aud: AUDIENCE, sub: holder.principal, cnf: { 'tls_exporter#S256': exporter(h2.socket as TLSSocket) } });
      const auth = { authorization: `Bearer ${token}` };
      const streams = await Promise.all(Array.from({ length: 6 }, () => h2call(h2, 'GET', '/api', { headers: auth })));
      expect(streams.map((r) => [r.status, r.body.valid, r.body.principal, r.body.version])).toEqual(Array(6).fill([200, true, holder.principal, '2.0']));
      // Every stream of the session is handed the same channel (the session's, not a per-stream proxy's).
      const ids = await Promise.all([h2call(h2, 'GET', '/channel'), h2call(h2, 'GET', '/channel'), h2call(h2, 'GET', '/channel')]);
      expect(new Set(ids.map((r) => r.body.id)).size).toBe(1);
      const other = await h2open(certs, url);
      try {
        expect((await h2call(other, 'GET', '/channel')).body.id).not.toBe(ids[0]!.body.id);
      } finally {
        other.close();
      }
    } finally {
      h2.close();
    }
  });

  it('the token is refused (invalid_token, tls_session) on another HTTP/2 session, after a reconnect, and over an HTTP/1.1 connection', async () => {
    const first = await h2open(certs, url);
    const second = await h2open(certs, url);
    let token: string;
    try {
      const issued = await obtain(first);
      expect(issued.status).toBe(200);
      token = issued.body.access_token as string;
      const auth = { authorization: `Bearer ${token}` };
      expect((await h2call(first, 'GET', '/api', { headers: auth })).status).toBe(200);
      const elsewhere = await h2call(second, 'GET', '/api', { headers: auth });
      expect([elsewhere.status, elsewhere.body.code, elsewhere.body.reason]).toEqual([401, 'ERR_INVALID_TOKEN', 'tls_session']);
      // The same through the core stream API (verifyRequest given stream.session.socket).
      expect((await h2call(first, 'GET', '/raw', { headers: auth })).status).toBe(200);
      const raw = await h2call(second, 'GET', '/raw', { headers: auth });
      expect([raw.status, raw.body.reason]).toEqual([401, 'tls_session']);
    } finally {
      first.close();
      second.close();
    }
    // A reconnect: the same client opens a new session to the same server.
    const again = await h2open(certs, url);
    try {
      const res = await h2call(again, 'GET', '/api', { headers: { authorization: `Bearer ${token}` } });
      expect([res.status, res.body.reason]).toEqual([401, 'tls_session']);
    } finally {
      again.close();
    }
    if (allowHTTP1) {
      const h1 = await call(certs, url, 'GET', '/api', { cert: null, headers: { authorization: `Bearer ${token}` } });
      expect([h1.status, h1.body.reason, h1.body.version]).toEqual([401, 'tls_session', '1.1']);
    }
  });

  it('SessionClient with http2 pins one session: concurrent requests are its streams, one token for all', async () => {
    const client = new SessionClient({ url, http2: true, session: { path: '/session', credential: holderToken }, tls: { ca: pem(certs.files['ca.pem']) } });
    try {
      const answers = await Promise.all(Array.from({ length: 5 }, () => client.request('GET', '/api')));
      expect(answers.map((r) => [r.status, JSON.parse(r.body).version])).toEqual(Array(5).fill([200, '2.0']));
      expect(JSON.parse(answers[0]!.body)).toMatchObject({ valid: true, kind: 'jwt', principal: holder.principal });
      expect((await client.request('GET', '/api')).status).toBe(200);
      expect(client.tokens).toBe(1);
      expect(sessions.size).toBe(1);
      // The token is the session's: another session refuses it.
      const other = await h2open(certs, url);
      try {
        const res = await h2call(other, 'GET', '/api', { headers: { authorization: `Bearer ${await client.token()}` } });
        expect([res.status, res.body.reason]).toEqual([401, 'tls_session']);
      } finally {
        other.close();
      }
    } finally {
      client.close();
    }
  });

  it('SessionClient obtains a new token on a new session after the server closes the session, and after close()', async () => {
    const client = new SessionClient({ url, http2: true, session: { path: '/session', credential: holderToken }, tls: { ca: pem(certs.files['ca.pem']) } });
    try {
      expect((await client.request('GET', '/api')).status).toBe(200);
      const before = await client.token();
      // The server ends every session (GOAWAY, then the connection closes).
      const closed = [...sessions].map((x) => new Promise((resolve) => x.once('close', resolve)));
      for (const x of sessions) x.close();
      await Promise.all(closed);
      expect((await client.request('GET', '/api')).status).toBe(200);
      expect(client.tokens).toBe(2);
      const after = await client.token();
      expect(claims(after).cnf['tls_exporter#S256']).not.toBe(claims(before).cnf['tls_exporter#S256']);
      // The client ends its session: the next request reconnects and obtains a third token.
      client.close();
      expect((await client.request('GET', '/api')).status).toBe(200);
      expect(client.tokens).toBe(3);
      expect(claims(await client.token()).cnf['tls_exporter#S256']).not.toBe(claims(after).cnf['tls_exporter#S256']);
      // The server drops the connection abruptly (no GOAWAY), and the request follows at once.
      for (const x of sessions) x.destroy();
      expect((await client.request('GET', '/api')).status).toBe(200);
      expect(client.tokens).toBe(4);
    } finally {
      client.close();
    }
  });

  it('a request whose HTTP/2 session was destroyed presents no TLS channel: a session token is refused (tls_session), nothing throws', async () => {
    const h2 = await h2open(certs, url);
    try {
      const token = (await obtain(h2)).body.access_token as string;
      // The client sees its session end without an answer (an error or an empty end, as node delivers it).
      const seen = await h2call(h2, 'GET', '/gone', { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
      expect(seen?.body).toBeUndefined();
      expect(gone).toHaveLength(1);
      expect(await gone.pop()).toMatchObject({ presentation: {}, verified: { valid: false, code: 'ERR_INVALID_TOKEN', reason: 'tls_session' } });
    } finally {
      h2.close();
    }
  });

  it('TLS 1.2 is refused: no session token on an HTTP/2 session over TLS 1.2 (tls_version), and a session token does not verify there', async () => {
    const old = await h2open(certs, url, { maxVersion: 'TLSv1.2' });
    const current = await h2open(certs, url);
    try {
      expect((old.socket as TLSSocket).getProtocol()).toBe('TLSv1.2');
      const credential = await holderToken();
      const res = await h2call(old, 'POST', '/session', { headers: { authorization: `Bearer ${credential}` }, body: form({ tls_exporter: exporter(old.socket as TLSSocket) }) });
      expect([res.status, res.body.error]).toEqual([400, 'invalid_request']);
      expect(lastRefusal()).toEqual({ status: 400, reason: 'tls_version' });
      const token = (await obtain(current, credential)).body.access_token as string;
      const there = await h2call(old, 'GET', '/api', { headers: { authorization: `Bearer ${token}` } });
      expect([there.status, there.body.reason]).toEqual([401, 'tls_session']);
    } finally {
      old.close();
      current.close();
    }
  });

  it('a forged exporter digest is refused (middlebox): a made-up one, and another session’s real one', async () => {
    const h2 = await h2open(certs, url);
    const other = await h2open(certs, url);
    try {
      const credential = await holderToken();
      const made = await h2call(h2, 'POST', '/session', { headers: { authorization: `Bearer ${credential}` }, body: form({ tls_exporter: 'A'.repeat(43) }) });
      expect([made.status, made.body.error, lastRefusal()?.reason]).toEqual([400, 'invalid_request', 'middlebox']);
      const borrowed = await h2call(h2, 'POST', '/session', { headers: { authorization: `Bearer ${credential}` }, body: form({ tls_exporter: exporter(other.socket as TLSSocket) }) });
      expect([borrowed.status, borrowed.body.error, lastRefusal()?.reason]).toEqual([400, 'invalid_request', 'middlebox']);
      // The same credential with this session's own digest: issued.
      expect((await obtain(h2, credential)).status).toBe(200);
    } finally {
      h2.close();
      other.close();
    }
  });

  it('SessionClient with http2 against a server that offers no HTTP/2 fails with an error saying so, and obtains no token', async () => {
    const http1 = createHttpsServer({ cert: pem(certs.files['server.pem']), key: pem(certs.files['server.key']) }, (_req, res) => res.end('{}'));
    await new Promise<void>((resolve) => http1.listen(0, '127.0.0.1', resolve));
    const client = new SessionClient({ url: `https://localhost:${(http1.address() as AddressInfo).port}`, http2: true, session: { path: '/session', credential: holderToken }, tls: { ca: pem(certs.files['ca.pem']) } });
    try {
      await expect(client.request('GET', '/api')).rejects.toThrow(/does not offer HTTP\/2 \(ALPN h2\); use http2: false/);
      expect(client.tokens).toBe(0);
    } finally {
      client.close();
      await new Promise((resolve) => http1.close(resolve));
    }
  });

  it(allowHTTP1 ? 'an HTTP/1.1 SessionClient gets its own connection-bound token on the same server' : 'an HTTP/1.1 SessionClient cannot reach an HTTP/2-only server (use http2: true there)', async () => {
    const client = new SessionClient({ url, session: { path: '/session', credential: holderToken }, tls: { ca: pem(certs.files['ca.pem']) } });
    try {
      if (!allowHTTP1) {
        // node:http2 answers an HTTP/1.1 request with 403 and closes: no token.
        await expect(client.request('GET', '/api')).rejects.toMatchObject({ name: 'SessionTokenError', status: 403 });
        expect(client.tokens).toBe(0);
        return;
      }
      const res = await client.request('GET', '/api');
      expect([res.status, JSON.parse(res.body).version]).toEqual([200, '1.1']);
      const h2 = await h2open(certs, url);
      try {
        const there = await h2call(h2, 'GET', '/api', { headers: { authorization: `Bearer ${await client.token()}` } });
        expect([there.status, there.body.reason]).toEqual([401, 'tls_session']);
      } finally {
        h2.close();
      }
    } finally {
      client.close();
    }
  });
});
