import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ASSERTION_TYPE,
  claims,
  header,
  startOAuthServer,
  TOKEN_EXCHANGE,
  TT_ACCESS,
  TT_API_KEY,
  verifyAsResourceServer,
  type OAuthServer,
  type RegisteredClient,
} from './support.js';

/**
 * Conformance with real OAuth clients from npm (openid-client v6, oauth4webapi v3) against a
 * listening keyturn: discovery, client_credentials with every client authentication method,
 * introspection, revocation, token exchange, EdDSA and opaque access tokens.
 */
describe('OAuth conformance with openid-client and oauth4webapi', () => {
  let kt: OAuthServer;
  let issuer: URL;
  let as: oauth.AuthorizationServer;
  const insecure = { [oauth.allowInsecureRequests]: true } as const;
  let basicClient: RegisteredClient;
  let rs: RegisteredClient; // a resource server that introspects

  beforeAll(async () => {
    kt = await startOAuthServer();
    issuer = new URL(kt.url);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
    basicClient = await kt.createClient({
      name: 'reports-job',
      scopes: ['reports:read', 'reports:write'],
      grantTypes: ['client_credentials'],
      audiences: ['https://api.example.com/'],
    });
    // Registered as the resource server of both audiences used below (RFC 7662 §4: only it and a token's own client may introspect).
    rs = await kt.createClient({ name: 'api-gateway', scopes: [], grantTypes: ['client_credentials'], resourceServerFor: ['https://api.example.com/', kt.url] });
  });
  afterAll(async () => kt.stop());

  describe('discovery (RFC 8414, OpenID Connect Discovery)', () => {
    it('serves both documents with the issuer it listens on, and oauth4webapi accepts both', async () => {
      const oidc = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }));
      for (const doc of [as, oidc]) {
        expect(doc.issuer).toBe(kt.url);
        expect(doc).toMatchObject({
          token_endpoint: `${kt.url}/oauth/token`,
          jwks_uri: `${kt.url}/oauth/jwks`,
          introspection_endpoint: `${kt.url}/oauth/introspect`,
          revocation_endpoint: `${kt.url}/oauth/revoke`,
        });
        expect(doc.grant_types_supported).toEqual(expect.arrayContaining(['client_credentials', 'refresh_token', TOKEN_EXCHANGE]));
        // Plain HTTP, no certificate-forwarding proxy: no RFC 8705 method (test/oauth/discovery.test.ts covers each configuration).
        expect(doc.token_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'client_secret_post', 'private_key_jwt']);
        expect(doc.tls_client_certificate_bound_access_tokens).toBeUndefined();
        expect(doc.token_endpoint_auth_signing_alg_values_supported).not.toContain('none');
        expect(doc.token_endpoint_auth_signing_alg_values_supported?.some((a) => a.startsWith('HS'))).toBe(false);
      }
    });

    it('openid-client discovers through either well-known document', async () => {
      for (const algorithm of ['oidc', 'oauth2'] as const) {
        const config = await client.discovery(issuer, basicClient.id, undefined, client.ClientSecretBasic(basicClient.secret), {
          algorithm,
          execute: [client.allowInsecureRequests],
        });
        expect(config.serverMetadata().issuer).toBe(kt.url);
        expect(config.serverMetadata().token_endpoint).toBe(`${kt.url}/oauth/token`);
      }
    });

    it('the JWKS holds public keys only, each with kid, alg and use=sig', async () => {
      const jwks = await kt.jwks();
      expect(jwks.keys.length).toBeGreaterThanOrEqual(2);
      for (const k of jwks.keys) {
        expect(k).toMatchObject({ use: 'sig' });
        expect(typeof k.kid).toBe('string');
        expect(['ES256', 'EdDSA']).toContain(k.alg);
        expect(k).not.toHaveProperty('d');
      }
    });
  });

  describe('client_credentials (RFC 6749 §4.4)', () => {
    it('client_secret_basic with openid-client: an RFC 9068 JWT that verifies against the JWKS', async () => {
      const config = await client.discovery(issuer, basicClient.id, undefined, client.ClientSecretBasic(basicClient.secret), {
        execute: [client.allowInsecureRequests],
      });
      const tokens = await client.clientCredentialsGrant(config, { scope: 'reports:read' });
      expect(tokens.token_type).toBe('bearer'); // openid-client lower-cases the scheme
      expect(tokens.expires_in).toBe(900);
      expect(tokens.scope).toBe('reports:read');
      expect(tokens.refresh_token).toBeUndefined(); // the client does not list the refresh_token grant
      expect(header(tokens.access_token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
      const payload = await verifyAsResourceServer(tokens.access_token, await kt.jwks(), {
        issuer: kt.url,
        audience: 'https://api.example.com/',
        now: kt.ctx.now(),
      });
      expect(payload).toMatchObject({ iss: kt.url, sub: basicClient.principal, client_id: basicClient.id, scope: 'reports:read', aud: 'https://api.example.com/' });
      expect(payload.exp! - payload.iat!).toBe(900);
      expect(typeof payload.jti).toBe('string');
    });

    it('client_secret_basic with oauth4webapi, and its RFC 9068 validator accepts the token', async () => {
      const c: oauth.Client = { client_id: basicClient.id };
      const res = await oauth.clientCredentialsGrantRequest(as, c, oauth.ClientSecretBasic(basicClient.secret), { scope: 'reports:read reports:write' }, insecure);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const tokens = await oauth.processClientCredentialsResponse(as, c, res);
      expect(tokens.scope).toBe('reports:read reports:write');
      const request = new Request('https://api.example.com/reports', { headers: { authorization: `Bearer ${tokens.access_token}` } });
      // oauth4webapi checks exp/iat against the real clock; keyturn's clock started at the real time.
      const validated = await oauth.validateJwtAccessToken(as, request, 'https://api.example.com/', insecure);
      expect(validated).toMatchObject({ client_id: basicClient.id, sub: basicClient.principal, scope: 'reports:read reports:write' });
    });

    it('client_secret_post with both clients', async () => {
      const config = await client.discovery(issuer, basicClient.id, undefined, client.ClientSecretPost(basicClient.secret), {
        execute: [client.allowInsecureRequests],
      });
      expect((await client.clientCredentialsGrant(config)).scope).toBe('reports:read reports:write');
      const c: oauth.Client = { client_id: basicClient.id };
      const res = await oauth.clientCredentialsGrantRequest(as, c, oauth.ClientSecretPost(basicClient.secret), {}, insecure);
      expect((await oauth.processClientCredentialsResponse(as, c, res)).access_token).toBeTypeOf('string');
    });

    it('private_key_jwt (RFC 7523) with a jose-generated key, with both clients', async () => {
      for (const alg of ['ES256', 'EdDSA', 'PS256'] as const) {
        const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
        // As exported by jose (no `alg`): oauth4webapi signs Ed25519 keys as `alg: Ed25519` (RFC 9864), not `EdDSA`.
        const jwk = { ...(await exportJWK(publicKey)), kid: `k-${alg}` };
        const pkj = await kt.createClient({ name: `signer-${alg}`, scopes: ['jobs:run'], grantTypes: ['client_credentials'], authMethod: 'private_key_jwt', jwks: { keys: [jwk] } });
        expect(pkj.secret).toBeNull();
        const config = await client.discovery(issuer, pkj.id, undefined, client.PrivateKeyJwt({ key: privateKey, kid: jwk.kid }), {
          execute: [client.allowInsecureRequests],
        });
        const viaOpenid = await client.clientCredentialsGrant(config, { scope: 'jobs:run' });
        expect(claims(viaOpenid.access_token)).toMatchObject({ client_id: pkj.id, scope: 'jobs:run' });
        const c: oauth.Client = { client_id: pkj.id };
        const res = await oauth.clientCredentialsGrantRequest(as, c, oauth.PrivateKeyJwt({ key: privateKey, kid: jwk.kid }), {}, insecure);
        expect(claims((await oauth.processClientCredentialsResponse(as, c, res)).access_token)).toMatchObject({ client_id: pkj.id });
        // A private_key_jwt client cannot fall back to a secret.
        const withBasic = await kt.form('/oauth/token', { grant_type: 'client_credentials' }, { basic: [pkj.id, 'anything'] });
        expect(withBasic.status).toBe(401);
      }
    });

    it("private_key_jwt with an Ed25519 key registered as alg EdDSA accepts both names (oauth4webapi writes 'Ed25519', jose 'EdDSA')", async () => {
      const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
      const jwk = { ...(await exportJWK(publicKey)), kid: 'ed-1', alg: 'EdDSA' };
      const pkj = await kt.createClient({ name: 'ed-signer', scopes: ['jobs:run'], grantTypes: ['client_credentials'], authMethod: 'private_key_jwt', jwks: { keys: [jwk] } });
      const c: oauth.Client = { client_id: pkj.id };
      const viaOauth4 = await oauth.clientCredentialsGrantRequest(as, c, oauth.PrivateKeyJwt({ key: privateKey, kid: 'ed-1' }), {}, insecure);
      expect((await oauth.processClientCredentialsResponse(as, c, viaOauth4)).access_token).toBeTypeOf('string');
      const now = Math.floor(kt.ctx.now().getTime() / 1000);
      const assertion = await new SignJWT({ iss: pkj.id, sub: pkj.id, aud: kt.url, jti: 'ed-jose-1', iat: now, exp: now + 60 })
        .setProtectedHeader({ alg: 'EdDSA', kid: 'ed-1' })
        .sign(privateKey);
      const viaJose = await kt.form('/oauth/token', { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: assertion });
      expect(viaJose.status, viaJose.text).toBe(200);
    });

    it('an EdDSA client gets EdDSA-signed tokens from the EdDSA key of the ring', async () => {
      const ed = await kt.createClient({ name: 'ed-client', scopes: ['x'], grantTypes: ['client_credentials'], accessTokenAlg: 'EdDSA' });
      const res = await kt.form('/oauth/token', { grant_type: 'client_credentials' }, { basic: [ed.id, ed.secret] });
      expect(res.status).toBe(200);
      const h = header(res.body.access_token);
      expect(h).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt' });
      const jwks = await kt.jwks();
      expect(jwks.keys.find((k) => k.kid === h.kid)).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' });
      await verifyAsResourceServer(res.body.access_token, jwks, { issuer: kt.url, audience: kt.url, now: kt.ctx.now() });
      expect(await kt.introspect(res.body.access_token, rs)).toMatchObject({ active: true, client_id: ed.id });
    });

    it('banking policy: opaque access tokens, active only through introspection', async () => {
      const bank = await kt.createClient({ name: 'payments', scopes: ['pay'], grantTypes: ['client_credentials', 'refresh_token'], policy: 'banking', policyOverrides: { clientCredentialsRefresh: true } });
      const config = await client.discovery(issuer, bank.id, undefined, client.ClientSecretBasic(bank.secret), { execute: [client.allowInsecureRequests] });
      const tokens = await client.clientCredentialsGrant(config);
      expect(tokens.access_token.split('.')).toHaveLength(1);
      expect(tokens.expires_in).toBe(300);
      expect(tokens.refresh_token).toBeTypeOf('string');
      const rsConfig = await client.discovery(issuer, rs.id, undefined, client.ClientSecretBasic(rs.secret), { execute: [client.allowInsecureRequests] });
      const info = await client.tokenIntrospection(rsConfig, tokens.access_token);
      expect(info).toMatchObject({ active: true, client_id: bank.id, scope: 'pay', token_type: 'Bearer', iss: kt.url });
      expect(info.exp! - info.iat!).toBe(300);
      kt.ctx.advance(300_000);
      expect(await client.tokenIntrospection(rsConfig, tokens.access_token)).toEqual({ active: false });
      // The refresh token still works (30 minutes) and yields another opaque token.
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
      expect(refreshed.access_token.split('.')).toHaveLength(1);
      expect((await client.tokenIntrospection(rsConfig, refreshed.access_token)).active).toBe(true);
    });
  });

  describe('introspection (RFC 7662)', () => {
    it('active:true with the RFC 7662 members; unknown, malformed and expired tokens get {active:false} and nothing else', async () => {
      const issued = await kt.form('/oauth/token', { grant_type: 'client_credentials', scope: 'reports:read' }, { basic: [basicClient.id, basicClient.secret] });
      const at = issued.body.access_token as string;
      const c: oauth.Client = { client_id: rs.id };
      const res = await oauth.introspectionRequest(as, c, oauth.ClientSecretBasic(rs.secret), at, insecure);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const info = await oauth.processIntrospectionResponse(as, c, res);
      const p = claims(at);
      expect(info).toMatchObject({ active: true, scope: 'reports:read', client_id: basicClient.id, sub: basicClient.principal, aud: 'https://api.example.com/', iss: kt.url, exp: p.exp, iat: p.iat, jti: p.jti, token_type: 'Bearer' });

      const forged = `${at.slice(0, -4)}AAAA`;
      for (const token of ['nope', 'kt_live_definitelynotavalidsecret', forged, at.split('.').slice(0, 2).join('.')]) {
        expect(await kt.introspect(token, rs)).toEqual({ active: false });
      }
      kt.ctx.advance(900_000);
      expect(await kt.introspect(at, rs)).toEqual({ active: false });
    });

    it('requires client authentication', async () => {
      const res = await kt.form('/oauth/introspect', { token: 'x' });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
    });
  });

  describe('revocation (RFC 7009)', () => {
    it('revokes access tokens with and without token_type_hint; unknown tokens answer 200', async () => {
      const config = await client.discovery(issuer, basicClient.id, undefined, client.ClientSecretBasic(basicClient.secret), { execute: [client.allowInsecureRequests] });
      for (const hint of [undefined, 'access_token', 'refresh_token', 'something_else']) {
        const { access_token } = await client.clientCredentialsGrant(config);
        expect(await kt.introspect(access_token, rs)).toMatchObject({ active: true });
        await client.tokenRevocation(config, access_token, hint ? { token_type_hint: hint } : undefined);
        expect(await kt.introspect(access_token, rs), `hint ${hint}`).toEqual({ active: false });
      }
      const c: oauth.Client = { client_id: basicClient.id };
      for (const token of ['unknown-token', 'kt_live_abc', 'a.b.c']) {
        const res = await oauth.revocationRequest(as, c, oauth.ClientSecretBasic(basicClient.secret), token, insecure);
        expect(res.status).toBe(200);
        await oauth.processRevocationResponse(res);
      }
    });

    it('revoking a refresh token revokes its grant: the refresh token and the access tokens from it', async () => {
      const rc = await kt.createClient({ name: 'revoker', scopes: ['a'], grantTypes: ['client_credentials', 'refresh_token'], policyOverrides: { clientCredentialsRefresh: true } });
      const config = await client.discovery(issuer, rc.id, undefined, client.ClientSecretBasic(rc.secret), { execute: [client.allowInsecureRequests] });
      const first = await client.clientCredentialsGrant(config);
      const second = await client.refreshTokenGrant(config, first.refresh_token!);
      await client.tokenRevocation(config, second.refresh_token!, { token_type_hint: 'refresh_token' });
      expect(await kt.introspect(second.refresh_token!, rc, 'refresh_token')).toEqual({ active: false });
      expect(await kt.introspect(first.access_token, rs)).toEqual({ active: false });
      expect(await kt.introspect(second.access_token, rs)).toEqual({ active: false });
      await expect(client.refreshTokenGrant(config, second.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    });

    it('oauth4webapi refreshes and revokes too', async () => {
      const rc = await kt.createClient({ name: 'o4w-refresher', scopes: ['a'], grantTypes: ['client_credentials', 'refresh_token'], policyOverrides: { clientCredentialsRefresh: true } });
      const c: oauth.Client = { client_id: rc.id };
      const auth = oauth.ClientSecretPost(rc.secret);
      const first = await oauth.processClientCredentialsResponse(as, c, await oauth.clientCredentialsGrantRequest(as, c, auth, {}, insecure));
      const second = await oauth.processRefreshTokenResponse(as, c, await oauth.refreshTokenGrantRequest(as, c, auth, first.refresh_token!, insecure));
      expect(second.refresh_token).toBeTypeOf('string');
      expect(second.refresh_token).not.toBe(first.refresh_token);
      await oauth.processRevocationResponse(await oauth.revocationRequest(as, c, auth, second.refresh_token!, { ...insecure, additionalParameters: { token_type_hint: 'refresh_token' } }));
      const again = await oauth.refreshTokenGrantRequest(as, c, auth, second.refresh_token!, insecure);
      await expect(oauth.processRefreshTokenResponse(as, c, again)).rejects.toMatchObject({ error: 'invalid_grant', status: 400 });
    });

    it("a client cannot revoke another client's token", async () => {
      const issued = await kt.form('/oauth/token', { grant_type: 'client_credentials' }, { basic: [basicClient.id, basicClient.secret] });
      const res = await kt.form('/oauth/revoke', { token: issued.body.access_token }, { basic: [rs.id, rs.secret] });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('unauthorized_client');
      expect(await kt.introspect(issued.body.access_token, rs)).toMatchObject({ active: true });
    });
  });

  describe('token exchange (RFC 8693)', () => {
    let exchanger: RegisteredClient;
    let apiKey: string;
    let keyOwner: string;

    beforeAll(async () => {
      exchanger = await kt.createClient({
        name: 'edge-proxy',
        scopes: ['orders:read', 'orders:write', 'billing:read'],
        grantTypes: [TOKEN_EXCHANGE],
        audiences: ['https://orders.example.com', 'https://billing.example.com'],
      });
      const owner = await kt.api('POST', '/v1/principals', { kind: 'user', name: 'dana', email: 'dana@example.com' });
      keyOwner = owner.body.id;
      const key = await kt.api('POST', '/v1/keys', { owner: 'dana', name: 'cli', scopes: ['orders:read', 'orders:write'] });
      expect(key.status).toBe(201);
      apiKey = key.body.key;
    });

    it('exchanges an API key for a down-scoped token for one audience (openid-client genericGrantRequest)', async () => {
      const config = await client.discovery(issuer, exchanger.id, undefined, client.ClientSecretBasic(exchanger.secret), { execute: [client.allowInsecureRequests] });
      const tokens = await client.genericGrantRequest(config, TOKEN_EXCHANGE, {
        subject_token: apiKey,
        subject_token_type: TT_API_KEY,
        resource: 'https://orders.example.com',
        scope: 'orders:read',
      });
      expect(tokens).toMatchObject({ issued_token_type: TT_ACCESS, scope: 'orders:read', expires_in: 300 });
      const payload = await verifyAsResourceServer(tokens.access_token, await kt.jwks(), { issuer: kt.url, audience: 'https://orders.example.com', now: kt.ctx.now() });
      expect(payload).toMatchObject({ sub: keyOwner, scope: 'orders:read', client_id: exchanger.id, act: { sub: exchanger.principal, client_id: exchanger.id } });
      expect(payload.aud).toBe('https://orders.example.com');
    });

    it('exchanges an access token (oauth4webapi genericTokenEndpointRequest) with `audience`', async () => {
      const issued = await kt.form('/oauth/token', { grant_type: TOKEN_EXCHANGE, subject_token: apiKey, subject_token_type: TT_API_KEY, audience: 'https://orders.example.com' }, { basic: [exchanger.id, exchanger.secret] });
      expect(issued.status, issued.text).toBe(200);
      const c: oauth.Client = { client_id: exchanger.id };
      const res = await oauth.genericTokenEndpointRequest(as, c, oauth.ClientSecretBasic(exchanger.secret), TOKEN_EXCHANGE, {
        subject_token: issued.body.access_token,
        subject_token_type: TT_ACCESS,
        audience: 'https://billing.example.com',
        scope: 'orders:read',
      }, insecure);
      const tokens = await oauth.processGenericTokenEndpointResponse(as, c, res);
      expect(claims(tokens.access_token)).toMatchObject({ aud: 'https://billing.example.com', scope: 'orders:read', sub: keyOwner });
    });

    it('scope beyond the subject → invalid_scope; bad subject → invalid_request; no audience → invalid_target', async () => {
      const config = await client.discovery(issuer, exchanger.id, undefined, client.ClientSecretBasic(exchanger.secret), { execute: [client.allowInsecureRequests] });
      await expect(
        client.genericGrantRequest(config, TOKEN_EXCHANGE, { subject_token: apiKey, subject_token_type: TT_API_KEY, resource: 'https://orders.example.com', scope: 'billing:read' }),
      ).rejects.toMatchObject({ error: 'invalid_scope', status: 400 });
      await expect(
        client.genericGrantRequest(config, TOKEN_EXCHANGE, { subject_token: 'kt_live_not-a-key', subject_token_type: TT_API_KEY, resource: 'https://orders.example.com' }),
      ).rejects.toMatchObject({ error: 'invalid_request', status: 400 });
      await expect(
        client.genericGrantRequest(config, TOKEN_EXCHANGE, { subject_token: apiKey, subject_token_type: TT_API_KEY }),
      ).rejects.toMatchObject({ error: 'invalid_target', status: 400 });
      await expect(
        client.genericGrantRequest(config, TOKEN_EXCHANGE, { subject_token: apiKey, subject_token_type: TT_API_KEY, resource: 'https://elsewhere.example.com' }),
      ).rejects.toMatchObject({ error: 'invalid_target', status: 400 });
      // A revoked API key is no longer a valid subject.
      const key = await kt.api('POST', '/v1/keys', { owner: 'dana', name: 'short', scopes: ['orders:read'] });
      await kt.api('POST', `/v1/keys/${key.body.id}/revoke`, {});
      await expect(
        client.genericGrantRequest(config, TOKEN_EXCHANGE, { subject_token: key.body.key, subject_token_type: TT_API_KEY, resource: 'https://orders.example.com' }),
      ).rejects.toMatchObject({ error: 'invalid_request' });
    });
  });
});
