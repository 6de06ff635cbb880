import { createHash, createPublicKey } from 'node:crypto';
import { base64url, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ASSERTION_TYPE,
  claims,
  expectOAuthError,
  header,
  startOAuthServer,
  verifyAsResourceServer,
  type OAuthServer,
  type RegisteredClient,
} from './support.js';

const AUDIENCE = 'https://api.example.com';
type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

/**
 * Attacks on access tokens (checked the way a resource server checks them — jose.jwtVerify with
 * an allow-list against the JWKS — and through introspection), on client assertions (RFC 7523),
 * on refresh tokens, and on the token endpoint's request parsing.
 */
describe('OAuth attacks', () => {
  let kt: OAuthServer;
  let app: RegisteredClient;
  let rs: RegisteredClient;
  let token: string;
  let jwks: { keys: JWK[] };

  beforeAll(async () => {
    kt = await startOAuthServer();
    app = await kt.createClient({
      name: 'victim',
      scopes: ['read', 'admin'],
      grantTypes: ['client_credentials', 'refresh_token'],
      audiences: [AUDIENCE, 'https://other.example.com'],
      policyOverrides: { clientCredentialsRefresh: true },
    });
    rs = await kt.createClient({ name: 'resource-server', scopes: [], grantTypes: ['client_credentials'], resourceServerFor: [AUDIENCE] });
    const res = await kt.form('/oauth/token', { grant_type: 'client_credentials', scope: 'read' }, { basic: [app.id, app.secret] });
    token = res.body.access_token;
    jwks = await kt.jwks();
  });
  afterAll(async () => kt.stop());

  const rsVerify = (t: string, audience = AUDIENCE) => verifyAsResourceServer(t, jwks, { issuer: kt.url, audience, now: kt.ctx.now() });
  /** The attack must fail locally with `code` and be inactive through introspection. */
  async function rejected(t: string, code: string): Promise<void> {
    await expect(rsVerify(t)).rejects.toMatchObject({ code });
    expect(await kt.introspect(t, rs)).toEqual({ active: false });
  }
  const b64 = (o: unknown) => base64url.encode(JSON.stringify(o));

  describe('access tokens', () => {
    it('the genuine token verifies (control)', async () => {
      await expect(rsVerify(token)).resolves.toMatchObject({ client_id: app.id, scope: 'read' });
      expect(await kt.introspect(token, rs)).toMatchObject({ active: true });
    });

    it('alg: none is refused', async () => {
      const h = header(token);
      const forged = `${b64({ alg: 'none', typ: 'at+jwt', kid: h.kid })}.${token.split('.')[1]}.`;
      await rejected(forged, 'ERR_JOSE_ALG_NOT_ALLOWED');
      const forgedNoKid = `${b64({ alg: 'none', typ: 'at+jwt' })}.${token.split('.')[1]}.`;
      await rejected(forgedNoKid, 'ERR_JOSE_ALG_NOT_ALLOWED');
    });

    it('HS256 signed with the public key as the secret (algorithm confusion) is refused', async () => {
      const jwk = jwks.keys.find((k) => k.kid === header(token).kid)!;
      const pem = createPublicKey({ key: jwk as JWK & { kty: string }, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      for (const secret of [Buffer.from(pem), Buffer.from(JSON.stringify(jwk))]) {
        const forged = await new SignJWT({ ...claims(token), scope: 'read admin' })
          .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: jwk.kid! })
          .sign(new Uint8Array(secret));
        await rejected(forged, 'ERR_JOSE_ALG_NOT_ALLOWED');
      }
    });

    it('a token signed by an unknown key is refused, whether its kid is unknown or borrowed', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      const unknownKid = await new SignJWT(claims(token)).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'attacker-key' }).sign(privateKey);
      await rejected(unknownKid, 'ERR_JWKS_NO_MATCHING_KEY');
      const borrowedKid = await new SignJWT(claims(token)).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: header(token).kid! }).sign(privateKey);
      await rejected(borrowedKid, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    });

    it('a tampered payload is refused', async () => {
      const [h, , s] = token.split('.');
      for (const change of [{ scope: 'read admin' }, { exp: claims(token).exp as number + 86_400 }, { sub: 'prn_someone_else' }, { aud: 'https://other.example.com' }]) {
        const tampered = `${h}.${b64({ ...claims(token), ...change })}.${s}`;
        await rejected(tampered, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
      }
      // A flipped signature byte, too.
      const sig = Buffer.from(s!, 'base64url');
      sig[5] = sig[5]! ^ 1;
      await rejected(`${h}.${token.split('.')[1]}.${sig.toString('base64url')}`, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    });

    it('a wrong audience is refused by the resource server; introspection names the real audience', async () => {
      await expect(rsVerify(token, 'https://other.example.com')).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' });
      expect(await kt.introspect(token, rs)).toMatchObject({ active: true, aud: AUDIENCE });
    });

    it('a JWT signed by our own key but with the wrong typ, or never issued, is not an access token', async () => {
      const key = await kt.kt.oauth.ring.signingKey('ES256');
      const asIdToken = await new SignJWT(claims(token)).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: key.kid }).sign(key.privateKey);
      await rejected(asIdToken, 'ERR_JWT_CLAIM_VALIDATION_FAILED');
      const noTyp = await new SignJWT(claims(token)).setProtectedHeader({ alg: 'ES256', kid: key.kid }).sign(key.privateKey);
      await rejected(noTyp, 'ERR_JWT_CLAIM_VALIDATION_FAILED');
      // Properly signed and typed, but keyturn never issued this jti: introspection says inactive.
      const neverIssued = await new SignJWT({ ...claims(token), jti: 'atk_forged' }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.kid }).sign(key.privateKey);
      expect(await kt.introspect(neverIssued, rs)).toEqual({ active: false });
    });

    it('an expired token is refused both ways (clock-controlled)', async () => {
      const res = await kt.form('/oauth/token', { grant_type: 'client_credentials' }, { basic: [app.id, app.secret] });
      const t = res.body.access_token as string;
      kt.ctx.advance(900_000);
      await rejected(t, 'ERR_JWT_EXPIRED');
    });

    it('a revoked JWT still verifies offline until expiry (by design) but introspects inactive', async () => {
      const res = await kt.form('/oauth/token', { grant_type: 'client_credentials' }, { basic: [app.id, app.secret] });
      const t = res.body.access_token as string;
      expect((await kt.form('/oauth/revoke', { token: t }, { basic: [app.id, app.secret] })).status).toBe(200);
      await expect(rsVerify(t)).resolves.toBeDefined();
      expect(await kt.introspect(t, rs)).toEqual({ active: false });
    });
  });

  describe('client assertions (private_key_jwt, RFC 7523)', () => {
    let signer: RegisteredClient;
    let privateKey: PrivateKey;
    let publicJwk: JWK;
    const kid = 'signer-1';

    beforeAll(async () => {
      const pair = await generateKeyPair('ES256', { extractable: true });
      privateKey = pair.privateKey;
      publicJwk = { ...(await exportJWK(pair.publicKey)), kid };
      signer = await kt.createClient({ name: 'signer', scopes: ['read'], grantTypes: ['client_credentials'], authMethod: 'private_key_jwt', jwks: { keys: [publicJwk] } });
    });

    let seq = 0;
    function assertion(over: { claims?: Record<string, unknown>; header?: Record<string, unknown>; key?: PrivateKey | Uint8Array; lifetime?: number; iatOffset?: number } = {}): Promise<string> {
      const now = Math.floor(kt.ctx.now().getTime() / 1000) + (over.iatOffset ?? 0);
      const body = { iss: signer.id, sub: signer.id, aud: kt.url, jti: `jti-${++seq}-${Math.random()}`, iat: now, exp: now + (over.lifetime ?? 60), ...over.claims };
      return new SignJWT(body).setProtectedHeader({ alg: 'ES256', kid, ...over.header } as { alg: string }).sign(over.key ?? privateKey);
    }
    const present = (a: string, extra: Record<string, string> = {}) =>
      kt.form('/oauth/token', { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: a, ...extra });

    it('a good assertion works, once (control + jti replay)', async () => {
      const a = await assertion();
      const first = await present(a);
      expect(first.status, first.text).toBe(200);
      expectOAuthError(await present(a), 'invalid_client');
    });

    it('alg: none is refused', async () => {
      const now = Math.floor(kt.ctx.now().getTime() / 1000);
      const unsigned = `${b64({ alg: 'none' })}.${b64({ iss: signer.id, sub: signer.id, aud: kt.url, jti: 'none-1', iat: now, exp: now + 60 })}.`;
      expectOAuthError(await present(unsigned), 'invalid_client');
    });

    it('HS256 keyed with the registered public key (or its thumbprint-ish bytes) is refused', async () => {
      for (const secret of [JSON.stringify(publicJwk), createHash('sha256').update(JSON.stringify(publicJwk)).digest('hex')]) {
        const a = await assertion({ header: { alg: 'HS256' }, key: new TextEncoder().encode(secret) });
        expectOAuthError(await present(a), 'invalid_client');
      }
    });

    it('wrong audience, wrong issuer/subject, an unregistered key: invalid_client', async () => {
      expectOAuthError(await present(await assertion({ claims: { aud: 'https://evil.example.com' } })), 'invalid_client');
      expectOAuthError(await present(await assertion({ claims: { sub: rs.id } })), 'invalid_client');
      expectOAuthError(await present(await assertion({ claims: { iss: rs.id, sub: rs.id } })), 'invalid_client');
      const { privateKey: other } = await generateKeyPair('ES256');
      expectOAuthError(await present(await assertion({ key: other })), 'invalid_client');
      expectOAuthError(await present(await assertion(), { client_id: rs.id }), 'invalid_client');
    });

    it('expired, not yet valid, lives too long, or without jti/exp: invalid_client', async () => {
      expectOAuthError(await present(await assertion({ iatOffset: -400, lifetime: 300 })), 'invalid_client'); // expired 100 s ago
      expectOAuthError(await present(await assertion({ lifetime: 3_600 })), 'invalid_client'); // one hour
      expectOAuthError(await present(await assertion({ claims: { nbf: Math.floor(kt.ctx.now().getTime() / 1000) + 600 } })), 'invalid_client');
      expectOAuthError(await present(await assertion({ claims: { jti: undefined } })), 'invalid_client');
      expectOAuthError(await present(await assertion({ claims: { exp: undefined } })), 'invalid_client');
    });

    it('the endpoint URL is an accepted audience too; a wrong assertion type is refused', async () => {
      const ok = await present(await assertion({ claims: { aud: `${kt.url}/oauth/token` } }));
      expect(ok.status, ok.text).toBe(200);
      const res = await kt.form('/oauth/token', { grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer', client_assertion: await assertion() });
      expectOAuthError(res, 'invalid_client');
    });

    it('a secret client cannot be impersonated with an assertion (it has no keys)', async () => {
      const a = await assertion({ claims: { iss: app.id, sub: app.id } });
      expectOAuthError(await present(a), 'invalid_client');
    });
  });

  describe('refresh tokens and the token endpoint', () => {
    it('a refresh token replayed from an older generation → invalid_grant and the family is gone', async () => {
      const start = await kt.form('/oauth/token', { grant_type: 'client_credentials' }, { basic: [app.id, app.secret] });
      let current = start.body.refresh_token as string;
      const generations = [current];
      for (let i = 0; i < 3; i++) {
        const r = await kt.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: current }, { basic: [app.id, app.secret] });
        expect(r.status, r.text).toBe(200);
        expect(r.headers.get('cache-control')).toBe('no-store');
        current = r.body.refresh_token;
        generations.push(current);
      }
      const replay = await kt.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: generations[1]! }, { basic: [app.id, app.secret] });
      expectOAuthError(replay, 'invalid_grant');
      expectOAuthError(await kt.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: current }, { basic: [app.id, app.secret] }), 'invalid_grant');
      expect(await kt.introspect(start.body.access_token, rs)).toEqual({ active: false });
    });

    it('duplicate form parameters → invalid_request', async () => {
      const auth = { basic: [app.id, app.secret] as const };
      for (const body of ['grant_type=client_credentials&grant_type=client_credentials', 'grant_type=client_credentials&scope=read&scope=admin', 'grant_type=refresh_token&refresh_token=a&refresh_token=b']) {
        expectOAuthError(await kt.form('/oauth/token', body, auth), 'invalid_request');
      }
      const dupClient = `grant_type=client_credentials&client_id=${app.id}&client_secret=${app.secret}&client_secret=x`;
      const res = await kt.form('/oauth/token', dupClient);
      expectOAuthError(res, 'invalid_request');
      // Repeated parameters at introspection and revocation, too.
      expectOAuthError(await kt.form('/oauth/introspect', 'token=a&token=b', { basic: [rs.id, rs.secret] }), 'invalid_request');
      expectOAuthError(await kt.form('/oauth/revoke', 'token=a&token=b', { basic: [rs.id, rs.secret] }), 'invalid_request');
    });

    it('a JSON body → invalid_request (RFC 6749 §3.2: form-encoded only), nothing issued', async () => {
      const res = await fetch(kt.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${app.id}:${app.secret}`).toString('base64')}` },
        body: JSON.stringify({ grant_type: 'client_credentials' }),
      });
      const text = await res.text();
      expectOAuthError({ status: res.status, headers: res.headers, text, body: JSON.parse(text) }, 'invalid_request');
    });

    it('GET on the token endpoint does not issue', async () => {
      const res = await fetch(`${kt.tokenUrl}?grant_type=client_credentials`, { headers: { authorization: `Basic ${Buffer.from(`${app.id}:${app.secret}`).toString('base64')}` } });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(await res.text()).not.toContain('access_token');
    });

    it('more than one client authentication method → invalid_client', async () => {
      const res = await kt.form('/oauth/token', { grant_type: 'client_credentials', client_id: app.id, client_secret: app.secret }, { basic: [app.id, app.secret] });
      expectOAuthError(res, 'invalid_client');
    });

    it("another client's secret, a client_id that differs from Basic, a wrong secret: invalid_client", async () => {
      expectOAuthError(await kt.form('/oauth/token', { grant_type: 'client_credentials' }, { basic: [app.id, rs.secret] }), 'invalid_client');
      expectOAuthError(await kt.form('/oauth/token', { grant_type: 'client_credentials', client_id: rs.id }, { basic: [app.id, app.secret] }), 'invalid_client');
      expectOAuthError(await kt.form('/oauth/token', { grant_type: 'client_credentials', client_id: app.id, client_secret: `${app.secret.slice(0, -1)}x` }), 'invalid_client');
      expectOAuthError(await kt.form('/oauth/token', { grant_type: 'client_credentials', client_id: 'ktc_nobody', client_secret: app.secret }), 'invalid_client');
    });

    it('a refresh token is not an access token, and an access token is not a refresh token', async () => {
      const start = await kt.form('/oauth/token', { grant_type: 'client_credentials' }, { basic: [app.id, app.secret] });
      expectOAuthError(await kt.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: start.body.access_token }, { basic: [app.id, app.secret] }), 'invalid_grant');
      expect(await kt.introspect(start.body.refresh_token, rs)).toEqual({ active: false }); // another client's refresh token
    });
  });
});
