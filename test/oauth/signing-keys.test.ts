import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { header, startOAuthServer, verifyAsResourceServer, type OAuthServer, type RegisteredClient } from './support.js';

/**
 * Signing key ring rotation as a resource server sees it through the JWKS, clock-controlled:
 * the next key is published before it signs; a token signed before a rotation keeps verifying
 * until its own expiry; the retired key leaves the JWKS after that.
 */
describe('signing key rotation seen through the JWKS', () => {
  let kt: OAuthServer;
  let app: RegisteredClient;
  let rs: RegisteredClient;

  beforeAll(async () => {
    kt = await startOAuthServer();
    app = await kt.createClient({ name: 'rotating-app', scopes: ['read'], grantTypes: ['client_credentials'] });
    rs = await kt.createClient({ name: 'rs', scopes: [], grantTypes: ['client_credentials'], resourceServerFor: [kt.url] });
  });
  afterAll(async () => kt.stop());

  const issue = async (c: RegisteredClient = app): Promise<string> => {
    const res = await kt.form('/oauth/token', { grant_type: 'client_credentials' }, { basic: [c.id, c.secret] });
    expect(res.status, res.text).toBe(200);
    return res.body.access_token as string;
  };
  const verify = async (token: string) => verifyAsResourceServer(token, await kt.jwks(), { issuer: kt.url, audience: kt.url, now: kt.ctx.now() });
  const keys = async () => (await kt.api('GET', '/v1/signing-keys')).body.items as { kid: string; alg: string; status: string; publishUntil: string | null }[];

  it('publishes the next key before it signs, keeps the retired key until its last token expired, then drops it', async () => {
    const before = await keys();
    const activeBefore = before.find((k) => k.alg === 'ES256' && k.status === 'active')!;
    const nextBefore = before.find((k) => k.alg === 'ES256' && k.status === 'next')!;
    const jwksBefore = (await kt.jwks()).keys.map((k) => k.kid);
    expect(jwksBefore).toContain(activeBefore.kid);
    expect(jwksBefore).toContain(nextBefore.kid); // published before it signs

    const old = await issue();
    expect(header(old).kid).toBe(activeBefore.kid);

    kt.ctx.advance(60_000);
    const rotated = await kt.api('POST', '/v1/signing-keys/rotate', { alg: 'ES256' });
    expect(rotated.status).toBe(200);
    expect(rotated.body.activated).toEqual([nextBefore.kid]);
    const after = await keys();
    const newNext = after.find((k) => k.alg === 'ES256' && k.status === 'next')!;
    expect(after.find((k) => k.kid === activeBefore.kid)?.status).toBe('retired');

    // The new token is signed by the key that was already published; a new next key is published too.
    const fresh = await issue();
    expect(header(fresh).kid).toBe(nextBefore.kid);
    const jwksAfter = (await kt.jwks()).keys.map((k) => k.kid);
    expect(jwksAfter).toEqual(expect.arrayContaining([activeBefore.kid, nextBefore.kid, newNext.kid]));

    // The old token keeps verifying locally and through introspection until its own expiry.
    await expect(verify(old)).resolves.toMatchObject({ client_id: app.id });
    kt.ctx.advance(899_000 - 60_000 - 1_000); // one second before `old` expires (issued 60 s before rotation)
    await expect(verify(old)).resolves.toMatchObject({ client_id: app.id });
    expect(await kt.introspect(old, rs)).toMatchObject({ active: true });
    await expect(verify(fresh)).resolves.toBeDefined();

    kt.ctx.advance(2_000); // `old` has expired
    await expect(verify(old)).rejects.toMatchObject({ code: 'ERR_JWT_EXPIRED' });
    expect(await kt.introspect(old, rs)).toEqual({ active: false });

    // One minute of skew later the retired key leaves the JWKS; the new key goes on signing.
    kt.ctx.advance(61_000);
    const finalKids = (await kt.jwks()).keys.map((k) => k.kid);
    expect(finalKids).not.toContain(activeBefore.kid);
    expect(finalKids).toEqual(expect.arrayContaining([nextBefore.kid, newNext.kid]));
    const latest = await issue();
    expect(header(latest).kid).toBe(nextBefore.kid);
    await expect(verify(latest)).resolves.toBeDefined();
  });

  it('two rotations in a row: each key signs only after it was published, every unexpired token verifies', async () => {
    const tokens: string[] = [await issue()];
    for (let i = 0; i < 2; i++) {
      const next = (await keys()).find((k) => k.alg === 'ES256' && k.status === 'next')!;
      expect((await kt.jwks()).keys.map((k) => k.kid)).toContain(next.kid);
      await kt.api('POST', '/v1/signing-keys/rotate', { alg: 'ES256' });
      const t = await issue();
      expect(header(t).kid).toBe(next.kid);
      tokens.push(t);
      kt.ctx.advance(1_000);
    }
    for (const t of tokens) await expect(verify(t)).resolves.toBeDefined();
  });

  it('rotating ES256 leaves EdDSA alone', async () => {
    const ed = await kt.createClient({ name: 'ed', scopes: [], grantTypes: ['client_credentials'], accessTokenAlg: 'EdDSA' });
    const kidBefore = header(await issue(ed)).kid;
    await kt.api('POST', '/v1/signing-keys/rotate', { alg: 'ES256' });
    expect(header(await issue(ed)).kid).toBe(kidBefore);
    await kt.api('POST', '/v1/signing-keys/rotate', { alg: 'EdDSA' });
    const t = await issue(ed);
    expect(header(t).kid).not.toBe(kidBefore);
    await expect(verify(t)).resolves.toBeDefined();
  });
});
