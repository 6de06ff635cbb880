import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/runtime/logger.js';
import { startServer, type RunningServer } from '../../src/runtime/serve.js';
import { expressMiddleware } from '../../src/verifier/index.js';
import { basic, startOAuthServer, type OAuthServer, type RawResponse, type RegisteredClient } from '../oauth/support.js';
import { cli } from '../support/cli.js';
import { PG_UP, PG_URL } from '../support/stores.js';
import { makeProof, proofKey, startResourceServer, type ProofKey, type ResourceServer } from './support.js';

/**
 * DPoP (RFC 9449) against a listening keyturn and an API server embedding the verifier library:
 * every attack of §4.3 and §11 refused at the token endpoint and at the resource, each failure
 * recorded with its reason; the nonce handshake; DPoP-bound refresh tokens and exchanges.
 */
describe('DPoP at the token endpoint and the resource (attacks of RFC 9449 §4.3, §11)', () => {
  let kt: OAuthServer;
  let app: RegisteredClient;
  let rs: ResourceServer;
  let key: ProofKey;

  beforeAll(async () => {
    kt = await startOAuthServer();
    const created = await kt.api('POST', '/v1/policies', { name: 'dpop-only', from: 'default', binding: 'dpop', clientCredentialsRefresh: true });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    app = await kt.createClient({
      name: 'dpop-app',
      scopes: ['read'],
      grantTypes: ['client_credentials', 'refresh_token', 'urn:ietf:params:oauth:grant-type:token-exchange'],
      policy: 'dpop-only',
    });
    rs = await startResourceServer({ url: kt.url, audience: kt.url });
    key = await proofKey();
  });
  afterAll(async () => {
    await rs?.close();
    await kt?.stop();
  });
  // Real clients sign with the real time: keep keyturn's clock on it.
  beforeEach(() => kt.ctx.set(new Date()));

  const tokenRequest = (proofs: string | string[] | undefined, form: Record<string, string> = { grant_type: 'client_credentials' }, c: RegisteredClient = app) => {
    const headers: Record<string, string> = {};
    const list = proofs === undefined ? [] : Array.isArray(proofs) ? proofs : [proofs];
    if (list.length > 0) headers.dpop = list.join(', ');
    return kt.form('/oauth/token', form, { basic: [c.id, c.secret], headers });
  };
  /** The current nonce, from the `use_dpop_nonce` handshake. */
  async function nonce(c: RegisteredClient = app): Promise<string> {
    const res = await tokenRequest(await makeProof(key, 'POST', kt.tokenUrl), undefined, c);
    expect(res.status, res.text).toBe(400);
    expect(res.body.error).toBe('use_dpop_nonce');
    return res.headers.get('dpop-nonce')!;
  }
  async function token(c: RegisteredClient = app): Promise<{ access_token: string; refresh_token?: string; token_type: string }> {
    const n = await nonce(c);
    const res = await tokenRequest(await makeProof(key, 'POST', kt.tokenUrl, { nonce: n }), undefined, c);
    expect(res.status, res.text).toBe(200);
    return res.body;
  }
  /** Another client under the DPoP policy: failures are aggregated per client and reason, so each test's first is written in full. */
  let clients = 0;
  const another = () =>
    kt.createClient({ name: `dpop-app-${++clients}`, scopes: ['read'], grantTypes: ['client_credentials', 'refresh_token', 'urn:ietf:params:oauth:grant-type:token-exchange'], policy: 'dpop-only' });
  const failures = async (reason: string): Promise<number> => {
    const res = await kt.api('GET', `/v1/events?type=binding.dpop_failed&limit=500`);
    return (res.body.items as { reason: string }[]).filter((e) => e.reason === reason).length;
  };
  async function refused(res: RawResponse, reason: string, before: number, error = 'invalid_dpop_proof'): Promise<void> {
    expect(res.status, res.text).toBe(400);
    expect(res.body).toMatchObject({ error });
    expect(await failures(reason), `one binding.dpop_failed event with reason ${reason}`).toBe(before + 1);
  }
  const resource = (token: string, scheme: string, proof?: string, path = '/orders?page=2') =>
    fetch(`${rs.url}${path}`, { headers: { authorization: `${scheme} ${token}`, ...(proof === undefined ? {} : { dpop: proof }) } });

  it('the nonce handshake, then a DPoP-bound token: token_type DPoP, cnf.jkt of the proof key, a fresh DPoP-Nonce', async () => {
    const n = await nonce();
    expect(n).toMatch(/^[\w-]{32}$/);
    const res = await tokenRequest(await makeProof(key, 'POST', kt.tokenUrl, { nonce: n }));
    expect(res.status, res.text).toBe(200);
    expect(res.body.token_type).toBe('DPoP');
    expect(res.headers.get('dpop-nonce')).toMatch(/^[\w-]{32}$/);
    const { calculateJwkThumbprint } = await import('jose');
    const claims = JSON.parse(Buffer.from(res.body.access_token.split('.')[1], 'base64url').toString()) as { cnf: { jkt: string } };
    expect(claims.cnf).toEqual({ jkt: await calculateJwkThumbprint(key.jwk, 'sha256') });
    // Introspection reports the binding (RFC 9449 §6.2).
    expect(await kt.introspect(res.body.access_token, app)).toMatchObject({ active: true, token_type: 'DPoP', cnf: claims.cnf });
  });

  it('discovery names the proof algorithms (dpop_signing_alg_values_supported), Ed25519 and EdDSA among them, no HS*', async () => {
    const meta = (await (await fetch(`${kt.url}/.well-known/oauth-authorization-server`)).json()) as { dpop_signing_alg_values_supported: string[] };
    expect(meta.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256', 'EdDSA', 'Ed25519']));
    expect(meta.dpop_signing_alg_values_supported.some((a) => /^HS|none/i.test(a))).toBe(false);
  });

  it('no proof where the policy requires DPoP; two DPoP headers', async () => {
    let before = await failures('missing');
    await refused(await tokenRequest(undefined), 'missing', before);
    const n = await nonce();
    before = await failures('multiple');
    await refused(await tokenRequest([await makeProof(key, 'POST', kt.tokenUrl, { nonce: n }), await makeProof(key, 'POST', kt.tokenUrl, { nonce: n })]), 'multiple', before);
  });

  it('wrong typ, alg HS256, alg none, a private jwk, a foreign signer', async () => {
    const n = await nonce();
    let before = await failures('type');
    await refused(await tokenRequest(await makeProof(key, 'POST', kt.tokenUrl, { nonce: n, header: { typ: 'JWT' } })), 'type', before);
    before = await failures('algorithm');
    await refused(await tokenRequest(await makeProof(key, 'POST', kt.tokenUrl, { nonce: n, header: { alg: 'HS256' }, signWith: randomBytes(32) })), 'algorithm', before);
    const unsigned = `${Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'none', jwk: key.jwk })).toString('base64url')}.${Buffer.from(JSON.stringify({ jti: 'x', htm: 'POST', htu: kt.tokenUrl, iat: Math.floor(Date.now() / 1000), nonce: n })).toString('base64url')}.`;
    const none = await tokenRequest(unsigned);
    expect(none.body.error).toBe('invalid_dpop_proof');
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    before = await failures('jwk');
    await refused(await tokenRequest(await makeProof({ ...key, jwk: await exportJWK(pair.privateKey), privateKey: pair.privateKey }, 'POST', kt.tokenUrl, { nonce: n })), 'jwk', before);
    const thief = await proofKey();
    before = await failures('signature');
    await refused(await tokenRequest(await makeProof(key, 'POST', kt.tokenUrl, { nonce: n, signWith: thief.privateKey })), 'signature', before);
  });

  it('wrong htm, wrong htu, stale iat, a stale nonce; a replayed jti', async () => {
    const n = await nonce();
    let before = await failures('htm');
    await refused(await tokenRequest(await makeProof(key, 'GET', kt.tokenUrl, { nonce: n })), 'htm', before);
    before = await failures('htu');
    await refused(await tokenRequest(await makeProof(key, 'POST', `${kt.url}/oauth/introspect`, { nonce: n })), 'htu', before);
    before = await failures('iat');
    await refused(await tokenRequest(await makeProof(key, 'POST', kt.tokenUrl, { nonce: n, claims: { iat: Math.floor(Date.now() / 1000) - 600 } })), 'iat', before);
    // Two nonce windows later (5 minutes each), the old nonce is stale: use_dpop_nonce with a new one.
    kt.ctx.advance(11 * 60_000);
    before = await failures('nonce');
    const stale = await tokenRequest(await makeProof(key, 'POST', kt.tokenUrl, { nonce: n, claims: { iat: Math.floor(kt.ctx.now().getTime() / 1000) } }));
    await refused(stale, 'nonce', before, 'use_dpop_nonce');
    expect(stale.headers.get('dpop-nonce')).not.toBe(n);
    kt.ctx.set(new Date());
    const fresh = await nonce();
    const proof = await makeProof(key, 'POST', kt.tokenUrl, { nonce: fresh });
    expect((await tokenRequest(proof)).status).toBe(200);
    before = await failures('replay');
    await refused(await tokenRequest(proof), 'replay', before);
  });

  it('a client whose policy requires DPoP gets no bearer token; a first request without nonce is not an event', async () => {
    const before = await failures('nonce');
    await nonce();
    expect(await failures('nonce')).toBe(before);
  });

  it('at the resource: accepted with its proof; as Bearer, with no proof, another key, wrong ath, htm or htu, stale iat, replayed: refused', async () => {
    const { access_token: at } = await token();
    const url = `${rs.url}/orders`;
    const ok = await resource(at, 'DPoP', await makeProof(key, 'GET', url, { accessToken: at }));
    expect(ok.status, await ok.clone().text()).toBe(200);
    expect(await ok.json()).toMatchObject({ principal: app.principal, kind: 'jwt' });

    const asBearer = await resource(at, 'Bearer');
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('www-authenticate')).toMatch(/^DPoP realm="keyturn", error="invalid_token", .*algs="[^"]*ES256[^"]*"$/);

    const expectProofError = async (res: Response, reason: string) => {
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_dpop_proof');
      expect(res.headers.get('www-authenticate')).toMatch(/^DPoP realm="keyturn", error="invalid_dpop_proof", error_description="[^"]+", algs="[^"]+"$/);
      void reason;
    };
    const reasons: string[] = [];
    const watched = await startResourceServer({ url: kt.url, audience: kt.url });
    const watchedUrl = `${watched.url}/orders`;
    try {
      const thief = await proofKey();
      await expectProofError(await resource(at, 'DPoP'), 'missing');
      await expectProofError(await resource(at, 'DPoP', await makeProof(thief, 'GET', url, { accessToken: at })), 'key_mismatch');
      await expectProofError(await resource(at, 'DPoP', await makeProof(key, 'GET', url, { accessToken: `${at}x` })), 'ath');
      await expectProofError(await resource(at, 'DPoP', await makeProof(key, 'GET', url)), 'ath');
      await expectProofError(await resource(at, 'DPoP', await makeProof(key, 'POST', url, { accessToken: at })), 'htm');
      await expectProofError(await resource(at, 'DPoP', await makeProof(key, 'GET', `${rs.url}/other`, { accessToken: at })), 'htu');
      await expectProofError(await resource(at, 'DPoP', await makeProof(key, 'GET', url, { accessToken: at, claims: { iat: Math.floor(Date.now() / 1000) - 300 } })), 'iat');
      const once = await makeProof(key, 'GET', url, { accessToken: at });
      expect((await resource(at, 'DPoP', once)).status).toBe(200);
      await expectProofError(await resource(at, 'DPoP', once), 'replay');
      // The verifier tells the API server the exact reason (never the client).
      for (const [proof, reason] of [
        [undefined, 'missing'],
        [await makeProof(thief, 'GET', watchedUrl, { accessToken: at }), 'key_mismatch'],
      ] as const) {
        const r = await watched.verifier.verifyRequest({ method: 'GET', url: '/orders', headers: { authorization: `DPoP ${at}`, host: new URL(watched.url).host, ...(proof ? { dpop: proof } : {}) } });
        expect(r).toMatchObject({ valid: false, code: 'ERR_INVALID_DPOP_PROOF', dpopReason: reason });
        reasons.push(reason);
      }
    } finally {
      await watched.close();
    }
    expect(reasons).toEqual(['missing', 'key_mismatch']);
  });

  it('express: a middleware mounted under a prefix checks htu against the whole path (originalUrl)', async () => {
    const { access_token: at } = await token();
    const app = express();
    app.use('/api', expressMiddleware(rs.verifier));
    app.get('/api/orders', (_req, res) => void res.json({ ok: true }));
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const call = async (htu: string) => (await fetch(`${base}/api/orders`, { headers: { authorization: `DPoP ${at}`, dpop: await makeProof(key, 'GET', htu, { accessToken: at }) } })).status;
      expect(await call(`${base}/api/orders`)).toBe(200);
      expect(await call(`${base}/orders`)).toBe(401);
    } finally {
      server.close();
    }
  });

  it('an unbound token or an API key in the DPoP scheme is refused; a cnf member the verifier does not know fails closed', async () => {
    const plain = await kt.createClient({ name: 'plain-app', scopes: ['read'] });
    const bearer = await kt.form('/oauth/token', { grant_type: 'client_credentials' }, { basic: [plain.id, plain.secret] });
    expect(bearer.body.token_type).toBe('Bearer');
    const at = bearer.body.access_token as string;
    const url = `${rs.url}/orders`;
    const asDpop = await resource(at, 'DPoP', await makeProof(key, 'GET', url, { accessToken: at }));
    expect(asDpop.status).toBe(401);
    expect(asDpop.headers.get('www-authenticate')).toMatch(/^DPoP .*error="invalid_token"/);
    expect((await resource(at, 'Bearer')).status).toBe(200);
    const r = await rs.verifier.verifyRequest({ method: 'GET', url: '/orders', headers: { authorization: `DPoP ${at}`, host: new URL(rs.url).host } });
    expect(r).toMatchObject({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'not_bound' });
  });

  it('over HTTP/2 (no Host header) htu is built from :authority: the right proof is accepted, one for another host refused', async () => {
    const { connect, createServer } = await import('node:http2');
    // Cleartext HTTP/2 (h2c): the request carries :authority and no host.
    const h2 = createServer((req, res) => {
      void rs.verifier.verifyRequest(req).then((r) => {
        res.writeHead(r.valid ? 200 : 401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ...r, host: req.headers.host ?? null }));
      });
    });
    h2.listen(0, '127.0.0.1');
    await once(h2, 'listening');
    const origin = `http://127.0.0.1:${(h2.address() as AddressInfo).port}`;
    const session = connect(origin);
    try {
      const { access_token: at } = await token();
      const get = (proof: string) =>
        new Promise<{ status: number; body: any }>((resolve, reject) => {
          const stream = session.request({ ':method': 'GET', ':path': '/orders', authorization: `DPoP ${at}`, dpop: proof });
          let status = 0;
          let text = '';
          stream.on('response', (h) => (status = Number(h[':status'])));
          stream.on('data', (c: Buffer) => (text += c.toString()));
          stream.on('end', () => resolve({ status, body: JSON.parse(text) }));
          stream.on('error', reject);
          stream.end();
        });
      const ok = await get(await makeProof(key, 'GET', `${origin}/orders`, { accessToken: at }));
      expect([ok.status, ok.body.valid, ok.body.host]).toEqual([200, true, null]);
      const elsewhere = await get(await makeProof(key, 'GET', 'http://api.example/orders', { accessToken: at }));
      expect([elsewhere.status, elsewhere.body.dpopReason]).toEqual([401, 'htu']);
    } finally {
      session.close();
      h2.close();
    }
  });

  it('a DPoP-bound refresh token needs a proof by the same key; a stolen one with the thief’s key is refused', async () => {
    const c = await another();
    const first = await token(c);
    expect(first.refresh_token).toMatch(/^ktr_/);
    const n = await nonce(c);
    const thief = await proofKey();
    const refresh = { grant_type: 'refresh_token', refresh_token: first.refresh_token! };
    let before = await failures('key_mismatch');
    await refused(await tokenRequest(await makeProof(thief, 'POST', kt.tokenUrl, { nonce: n }), refresh, c), 'key_mismatch', before);
    before = await failures('missing');
    await refused(await tokenRequest(undefined, refresh, c), 'missing', before);
    const ok = await tokenRequest(await makeProof(key, 'POST', kt.tokenUrl, { nonce: n }), refresh, c);
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.token_type).toBe('DPoP');
  });

  it('a DPoP-bound token cannot be exchanged (RFC 8693) without a proof by its key', async () => {
    const c = await another();
    const { access_token: subject } = await token(c);
    const form = { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: subject, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', audience: kt.url };
    const n = await nonce(c);
    const thief = await proofKey();
    const before = await failures('key_mismatch');
    await refused(await tokenRequest(await makeProof(thief, 'POST', kt.tokenUrl, { nonce: n }), form, c), 'key_mismatch', before);
    const ok = await tokenRequest(await makeProof(key, 'POST', kt.tokenUrl, { nonce: n }), form, c);
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.token_type).toBe('DPoP');
  });

  it('a policy whose binding the request cannot meet (mtls without a certificate) issues nothing: invalid_request', async () => {
    await kt.api('POST', '/v1/policies', { name: 'mtls-only', from: 'default', binding: 'mtls' });
    const c = await kt.createClient({ name: 'mtls-app', scopes: ['read'], policy: 'mtls-only' });
    const res = await kt.form('/oauth/token', { grant_type: 'client_credentials' }, { basic: [c.id, c.secret] });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request', code: 'ERR_BINDING_REQUIRED' });
  });

  it('a policy change from dpop to none is a weakening (policy.weakened names binding)', async () => {
    await kt.api('POST', '/v1/policies', { name: 'weakened', from: 'default', binding: 'dpop' });
    const res = await kt.api('PATCH', '/v1/policies/weakened', { binding: 'none' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const events = await kt.api('GET', '/v1/events?type=policy.weakened&target=weakened');
    expect(events.body.items[0].data).toMatchObject({ weakened: ['binding'] });
    const bad = await kt.api('PATCH', '/v1/policies/weakened', { binding: 'token-binding' });
    expect(bad.status).toBe(400);
    // The CLI names it too.
    const env = { KEYTURN_URL: kt.url, KEYTURN_DATA_DIR: kt.dataDir };
    const created = await cli(['policies', 'create', 'cli-dpop', '--binding', 'dpop', '--json'], env);
    expect(created.code, created.err).toBe(0);
    expect(JSON.parse(created.out)).toMatchObject({ policy: { binding: 'dpop' } });
    expect(await cli(['policies', 'update', 'cli-dpop', '--binding', 'sometimes'], env)).toMatchObject({ code: 2 });
  });
});

/**
 * Two keyturn nodes on one PostgreSQL behind one issuer: a nonce from one node is accepted by the
 * other (stateless, keyed by the shared master key), and a proof used on one node is refused as a
 * replay on the other (the shared jti table).
 */
describe.runIf(PG_UP)('DPoP across two nodes on one PostgreSQL', () => {
  let a: OAuthServer;
  let b: RunningServer;
  let bDir: string;
  let app: RegisteredClient;

  beforeAll(async () => {
    const db = `${PG_URL}?schema=kt_dpop_${randomBytes(5).toString('hex')}`;
    const masterKey = randomBytes(32).toString('hex');
    a = await startOAuthServer({ db, masterKey });
    // The second node of the same deployment: same database, master key and (public) issuer.
    bDir = mkdtempSync(join(tmpdir(), 'keyturn-node-b-'));
    b = await startServer(loadConfig({ flags: { dataDir: bDir, port: 0, logLevel: 'silent', db, masterKey, issuer: a.url } }), { logger: createLogger('silent') });
    app = await a.createClient({ name: 'cluster-app', scopes: ['read'] });
  });
  afterAll(async () => {
    await b?.close();
    if (bDir) rmSync(bDir, { recursive: true, force: true });
    await a?.stop();
  });

  it('a nonce from node A works on node B; a proof accepted by A is a replay on B', async () => {
    a.ctx.set(new Date());
    const key = await proofKey('ed25519');
    const post = async (node: { url: string }, proof: string) => {
      const res = await fetch(`${node.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(app.id, app.secret), dpop: proof },
        body: 'grant_type=client_credentials',
      });
      return { status: res.status, headers: res.headers, text: '', body: (await res.json()) as Record<string, unknown> };
    };
    expect(b.url).not.toBe(a.url);
    const handshake = await post(a, await makeProof(key, 'POST', a.tokenUrl));
    expect(handshake.body.error).toBe('use_dpop_nonce');
    const nonce = handshake.headers.get('dpop-nonce')!;
    const onB = await post(b, await makeProof(key, 'POST', a.tokenUrl, { nonce }));
    expect(onB.status, onB.text).toBe(200);
    expect(onB.body.token_type).toBe('DPoP');
    const proof = await makeProof(key, 'POST', a.tokenUrl, { nonce });
    expect((await post(a, proof)).status).toBe(200);
    const replayed = await post(b, proof);
    expect(replayed.status).toBe(400);
    expect(replayed.body).toMatchObject({ error: 'invalid_dpop_proof', error_description: 'DPoP proof was already used' });
  });
});
