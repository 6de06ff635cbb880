import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dpopThumbprint } from '../../src/core/dpop.js';
import { createVerifier } from '../../src/verifier/index.js';
import { claims, startOAuthServer, type OAuthServer, type RegisteredClient } from '../oauth/support.js';
import { makeProof, proofKey, startResourceServer, type ResourceServer } from './support.js';

/**
 * Real DPoP clients from npm against keyturn (token endpoint nonces on, the default) and an API
 * server embedding the verifier with its own nonces: openid-client v6 and oauth4webapi, each
 * doing the `use_dpop_nonce` round trips itself, getting DPoP-bound tokens, refreshing them with
 * the same key, and calling the API with proofs.
 */
describe('DPoP with real clients (openid-client v6, oauth4webapi), nonces at keyturn and at the API', () => {
  let kt: OAuthServer;
  let app: RegisteredClient;
  let rs: ResourceServer;

  beforeAll(async () => {
    kt = await startOAuthServer();
    await kt.api('POST', '/v1/policies', { name: 'dpop-refresh', from: 'default', binding: 'dpop', clientCredentialsRefresh: true });
    app = await kt.createClient({ name: 'npm-clients', scopes: ['read'], grantTypes: ['client_credentials', 'refresh_token'], policy: 'dpop-refresh' });
    rs = await startResourceServer({ url: kt.url, audience: kt.url, dpop: { nonceSecret: randomBytes(32) } });
  });
  afterAll(async () => {
    await rs?.close();
    await kt?.stop();
  });
  beforeEach(() => kt.ctx.set(new Date()));

  it('openid-client: client credentials, refresh and an API call, all DPoP-bound to one key', async () => {
    const config = await client.discovery(new URL(kt.url), app.id, undefined, client.ClientSecretBasic(app.secret), { execute: [client.allowInsecureRequests] });
    expect(config.serverMetadata().dpop_signing_alg_values_supported).toContain('ES256');
    const keyPair = await client.randomDPoPKeyPair('ES256');
    const DPoP = client.getDPoPHandle(config, keyPair);
    const tokens = await client.clientCredentialsGrant(config, { scope: 'read' }, { DPoP });
    expect(tokens.token_type).toBe('dpop');
    const jkt = await calculateJwkThumbprint((await exportJWK(keyPair.publicKey)) as JWK, 'sha256');
    expect(claims(tokens.access_token).cnf).toEqual({ jkt });

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!, undefined, { DPoP });
    expect(claims(refreshed.access_token).cnf).toEqual({ jkt });
    // With another key, the refresh token is refused.
    const other = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
    await expect(client.refreshTokenGrant(config, refreshed.refresh_token!, undefined, { DPoP: other })).rejects.toMatchObject({ error: 'invalid_dpop_proof' });

    const res = await client.fetchProtectedResource(config, refreshed.access_token, new URL(`${rs.url}/orders`), 'GET', undefined, undefined, { DPoP });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ principal: app.principal, kind: 'jwt' });
  });

  it('oauth4webapi: the same flow, the client retrying on use_dpop_nonce (Ed25519 key)', async () => {
    const issuer = new URL(kt.url);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true }));
    const c: oauth.Client = { client_id: app.id };
    const auth = oauth.ClientSecretBasic(app.secret);
    const keyPair = await oauth.generateKeyPair('Ed25519');
    const DPoP = oauth.DPoP(c, keyPair);
    const retrying = async <T>(attempt: () => Promise<T>): Promise<T> => {
      try {
        return await attempt();
      } catch (err) {
        if (!oauth.isDPoPNonceError(err)) throw err;
        return attempt();
      }
    };
    const tokens = await retrying(async () =>
      oauth.processClientCredentialsResponse(as, c, await oauth.clientCredentialsGrantRequest(as, c, auth, { scope: 'read' }, { DPoP, [oauth.allowInsecureRequests]: true })),
    );
    expect(tokens.token_type).toBe('dpop');
    const refreshed = await retrying(async () =>
      oauth.processRefreshTokenResponse(as, c, await oauth.refreshTokenGrantRequest(as, c, auth, tokens.refresh_token!, { DPoP, [oauth.allowInsecureRequests]: true })),
    );
    expect(claims(refreshed.access_token).cnf).toEqual(claims(tokens.access_token).cnf);
    const res = await retrying(() => oauth.protectedResourceRequest(refreshed.access_token, 'GET', new URL(`${rs.url}/orders`), undefined, undefined, { DPoP, [oauth.allowInsecureRequests]: true }));
    expect(res.status).toBe(200);
    // The API asks for its nonce (RFC 9449 §9): a proof without one gets use_dpop_nonce and a DPoP-Nonce to retry with.
    const holder = { privateKey: keyPair.privateKey as never, jwk: await exportJWK(keyPair.publicKey), alg: 'Ed25519' };
    const noNonce = await fetch(`${rs.url}/orders`, { headers: { authorization: `DPoP ${refreshed.access_token}`, dpop: await makeProof(holder, 'GET', `${rs.url}/orders`, { accessToken: refreshed.access_token }) } });
    expect(noNonce.status).toBe(401);
    expect(noNonce.headers.get('www-authenticate')).toMatch(/^DPoP realm="keyturn", error="use_dpop_nonce"/);
    expect(noNonce.headers.get('dpop-nonce')).toMatch(/^[\w-]{32}$/);
    // The same token as Bearer is refused.
    const asBearer = await fetch(`${rs.url}/orders`, { headers: { authorization: `Bearer ${refreshed.access_token}` } });
    expect(asBearer.status).toBe(401);
  });
});

const RFC7638 = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'vectors', 'rfc7638.json'), 'utf8')) as { jwk: JWK; thumbprint: string };
const RFC9449 = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'vectors', 'rfc9449.json'), 'utf8')) as { jwk: JWK; jkt: string };

describe('test vectors', () => {
  it('RFC 7638 §3.1: the thumbprint of the example RSA key', async () => {
    expect(await dpopThumbprint(RFC7638.jwk)).toBe(RFC7638.thumbprint);
  });
  it('RFC 9449 §6.1: the jkt of the example EC key', async () => {
    expect(await dpopThumbprint(RFC9449.jwk)).toBe(RFC9449.jkt);
  });
});

describe('the verifier fails closed on cnf members it does not understand', () => {
  it('refuses an unknown member (a session digest under another name, an extra beside jkt), a malformed member or an empty cnf, in the DPoP scheme and as Bearer; checks x5t#S256 against the connection', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const v = createVerifier({ url: 'http://keyturn.invalid', audience: 'https://api.example', jwks: { keys: [jwk] } });
    const key = await proofKey();
    const jkt = await dpopThumbprint(key.jwk);
    const token = (cnf: unknown) =>
      new SignJWT({ sub: 'prn_1', client_id: 'cli_1', scope: 'read', jti: randomBytes(8).toString('hex'), cnf: cnf as Record<string, unknown> })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
        .setIssuer('http://keyturn.invalid')
        .setAudience('https://api.example')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
    const request = async (t: string, scheme: string) =>
      v.verifyRequest({ method: 'GET', url: '/x', headers: { host: 'api.example', authorization: `${scheme} ${t}`, dpop: await makeProof(key, 'GET', 'http://api.example/x', { accessToken: t }) } });
    // A cnf the verifier cannot check is refused (`cnf`); as Bearer, one that claims a DPoP key is `bound` first.
    const unreadable: readonly [unknown, string][] = [
      [{ 'tls-exp#S256': 'abc' }, 'cnf'],
      [{ jkt, extra: 'x' }, 'bound'],
      [{ jkt: 42 }, 'bound'],
      [{ 'x5t#S256': 42 }, 'cnf'],
      [{}, 'cnf'],
      ['jkt', 'cnf'],
    ];
    for (const [cnf, asBearer] of unreadable) {
      const t = await token(cnf);
      expect(await request(t, 'DPoP'), JSON.stringify(cnf)).toMatchObject({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'cnf' });
      expect(await request(t, 'Bearer')).toMatchObject({ valid: false, code: 'ERR_INVALID_TOKEN', reason: asBearer });
      expect(await v.verify(t)).toMatchObject({ valid: false, reason: asBearer });
    }
    // A certificate-bound token is checked against the connection: without its certificate, refused either way.
    const certBound = await token({ 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' });
    expect(await request(certBound, 'DPoP')).toMatchObject({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'certificate' });
    expect(await request(certBound, 'Bearer')).toMatchObject({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'certificate' });
    expect(await v.verify(certBound)).toMatchObject({ valid: false, reason: 'certificate' });
    // A DPoP-bound token as Bearer (or to verify): `bound`.
    expect(await request(await token({ jkt }), 'Bearer')).toMatchObject({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'bound' });
    expect(await v.verify(await token({ jkt }))).toMatchObject({ valid: false, reason: 'bound' });
    const good = await token({ jkt });
    expect(await request(good, 'DPoP')).toMatchObject({ valid: true, cnf: { jkt } });
    await v.close();
  });
});

describe('server nonces at a resource server (RFC 9449 §9) shared with keyturn through the nonce secret', () => {
  let kt: OAuthServer;
  let app: RegisteredClient;
  let shared: ResourceServer;
  let own: ResourceServer;

  beforeAll(async () => {
    const secret = randomBytes(32);
    kt = await startOAuthServer({ dpopNonceSecret: secret.toString('hex') });
    await kt.api('POST', '/v1/policies', { name: 'dpop-nonces', from: 'default', binding: 'dpop' });
    app = await kt.createClient({ name: 'nonce-sharing', scopes: ['read'], policy: 'dpop-nonces' });
    shared = await startResourceServer({ url: kt.url, audience: kt.url, dpop: { nonceSecret: secret } });
    own = await startResourceServer({ url: kt.url, audience: kt.url, dpop: { nonceSecret: randomBytes(32) } });
  });
  afterAll(async () => {
    await shared?.close();
    await own?.close();
    await kt?.stop();
  });
  beforeEach(() => kt.ctx.set(new Date()));

  it('a nonce keyturn handed out is accepted by the API sharing its secret, refused (use_dpop_nonce) by one with its own; a successful answer carries the next nonce', async () => {
    const key = await proofKey('ed25519');
    const handshake = await kt.form('/oauth/token', { grant_type: 'client_credentials' }, { basic: [app.id, app.secret], headers: { dpop: await makeProof(key, 'POST', kt.tokenUrl) } });
    expect(handshake.body.error).toBe('use_dpop_nonce');
    const nonce = handshake.headers.get('dpop-nonce')!;
    const issued = await kt.form('/oauth/token', { grant_type: 'client_credentials' }, { basic: [app.id, app.secret], headers: { dpop: await makeProof(key, 'POST', kt.tokenUrl, { nonce }) } });
    expect(issued.status, issued.text).toBe(200);
    const token = issued.body.access_token as string;
    const call = async (rs: ResourceServer, n: string | undefined) =>
      fetch(`${rs.url}/orders`, { headers: { authorization: `DPoP ${token}`, dpop: await makeProof(key, 'GET', `${rs.url}/orders`, { accessToken: token, ...(n === undefined ? {} : { nonce: n }) }) } });
    const ok = await call(shared, nonce);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('dpop-nonce')).toBe(nonce);
    const refused = await call(own, nonce);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^DPoP realm="keyturn", error="use_dpop_nonce"/);
    const ownNonce = refused.headers.get('dpop-nonce')!;
    expect(ownNonce).not.toBe(nonce);
    const retried = await call(own, ownNonce);
    expect(retried.status).toBe(200);
    expect(retried.headers.get('dpop-nonce')).toBe(ownNonce);
    // A Bearer request never gets a DPoP nonce.
    expect((await fetch(`${own.url}/orders`, { headers: { authorization: `Bearer ${token}` } })).headers.get('dpop-nonce')).toBeNull();
  });

  it('openid-client at an API with its own nonces: one use_dpop_nonce round trip, then the nonce it keeps serves the next calls', async () => {
    const config = await client.discovery(new URL(kt.url), app.id, undefined, client.ClientSecretBasic(app.secret), { execute: [client.allowInsecureRequests] });
    const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
    const tokens = await client.clientCredentialsGrant(config, { scope: 'read' }, { DPoP });
    let refusals = 0;
    // Every request the client makes goes through this fetch: count the API's refusals.
    config[client.customFetch] = async (url: string, init: RequestInit) => {
      const res = await fetch(url, init);
      if (url.startsWith(own.url) && res.status === 401) refusals++;
      return res;
    };
    const get = () => client.fetchProtectedResource(config, tokens.access_token, new URL(`${own.url}/orders`), 'GET', undefined, undefined, { DPoP });
    expect((await get()).status).toBe(200);
    expect(refusals).toBe(1);
    expect((await get()).status).toBe(200);
    expect((await get()).status).toBe(200);
    expect(refusals).toBe(1);
  });
});
