import { createPublicKey } from 'node:crypto';
import { base64url, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyturnError } from '../../src/core/errors.js';
import { createJwtVerifier, createVerifier, type Verifier, type VerifierOptions } from '../../src/verifier/index.js';
import { accessToken, API_AUDIENCE, createClient, OTHER_AUDIENCE, recordingFetch, startFixture, type Fixture, type OAuthClient } from './support.js';

/**
 * JWT access tokens (RFC 9068) verified locally against a real keyturn's JWKS: the genuine token,
 * the attacks of issue 3 (wrong audience or issuer, expired, tampered, `alg: none`, HS256 with the
 * public key, wrong `typ`, unknown `kid`), and the JWKS refetch after a signing key rotation.
 */
let fx: Fixture;
let app: OAuthClient;
let token: string;
let claims: Record<string, unknown>;
let kid: string;

beforeAll(async () => {
  fx = await startFixture();
  app = await createClient(fx);
  token = await accessToken(fx, app, { scope: 'read' });
  claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  kid = decodeProtectedHeader(token).kid!;
});
afterAll(async () => {
  await Promise.all(open.map((v) => v.close()));
  await fx.stop();
});

const open: Verifier[] = [];
function verifier(options: Partial<VerifierOptions> = {}): Verifier {
  const v = createVerifier({ url: fx.url, stream: false, audience: API_AUDIENCE, ...options });
  open.push(v);
  return v;
}

/** A clock the test moves; starts at the real time so keyturn's tokens are current. */
function clock() {
  let t = Date.now();
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

/** Signs `payload` with keyturn's own active ES256 key (to build tokens keyturn would never issue). */
async function signWithKeyturnKey(payload: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  const key = await fx.server.kt.oauth.ring.signingKey('ES256');
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.kid, ...header }).sign(key.privateKey);
}
const b64 = (o: unknown) => base64url.encode(JSON.stringify(o));

describe('JWT access tokens', () => {
  it('accepts a token keyturn issued, with its client, subject, scopes, id and expiry', async () => {
    const rec = recordingFetch();
    const v = verifier({ fetch: rec.fetch });
    const result = await v.verify(token);
    expect(result).toEqual({
      valid: true,
      kind: 'jwt',
      sub: app.principal,
      principal: app.principal,
      clientId: app.id,
      scopes: ['read'],
      expiresAt: new Date((claims.exp as number) * 1000).toISOString(),
      tokenId: claims.jti,
    });
    expect(Object.isFrozen(result)).toBe(true);
    // Verified locally: one JWKS fetch, no call to keyturn per token.
    expect(await v.verify(token)).toMatchObject({ valid: true });
    expect(rec.calls).toEqual([`${fx.url}/oauth/jwks`]);
    expect(v.stats()).toMatchObject({ jwksFetches: 1, upstreamRequests: 0 });
  });

  it('verifyJwt checks a JWT alone, and createJwtVerifier works with a fixed key set', async () => {
    expect(await verifier().verifyJwt(token)).toMatchObject({ valid: true, kind: 'jwt', clientId: app.id });
    const jwks = (await (await fetch(`${fx.url}/oauth/jwks`)).json()) as { keys: JWK[] };
    const standalone = createJwtVerifier({ issuer: fx.url, audience: API_AUDIENCE, jwks });
    expect(await standalone.verify(token)).toMatchObject({ valid: true, kind: 'jwt', scopes: ['read'] });
    expect(standalone.jwksFetches).toBe(0);
  });

  it('accepts a token carrying all of several scopes, and checks requiredScopes on requests', async () => {
    const both = await accessToken(fx, app, { scope: 'read write' });
    const v = verifier({ requiredScopes: ['read'] });
    expect(await v.verify(both)).toMatchObject({ valid: true, scopes: ['read', 'write'] });
    const req = (t: string) => ({ headers: { authorization: `Bearer ${t}` } });
    expect(await v.verifyRequest(req(both), { requiredScopes: ['write'] })).toMatchObject({ valid: true, kind: 'jwt' });
    expect(await v.verifyRequest(req(token), { requiredScopes: ['write'] })).toMatchObject({
      valid: false,
      code: 'ERR_INSUFFICIENT_SCOPE',
      requiredScopes: ['write'],
      credential: { kind: 'jwt', clientId: app.id },
    });
  });

  it('accepts `typ: application/at+jwt` (RFC 9068 §2.1)', async () => {
    expect(await verifier().verify(await signWithKeyturnKey(claims, { typ: 'application/at+jwt' }))).toMatchObject({ valid: true });
  });

  it('refuses a token for another audience', async () => {
    const other = await accessToken(fx, app, { resource: OTHER_AUDIENCE });
    expect(await verifier().verify(other)).toEqual({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'audience' });
    // …which a verifier serving that audience (too) accepts.
    expect(await verifier({ audience: [API_AUDIENCE, OTHER_AUDIENCE] }).verify(other)).toMatchObject({ valid: true });
  });

  it('refuses a token from another issuer', async () => {
    expect(await verifier({ issuer: 'https://keyturn.elsewhere.example' }).verify(token)).toEqual({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'issuer' });
  });

  it('refuses an expired token (clock tolerance 5 s by default)', async () => {
    const shortLived = await createClient(fx, { policyOverrides: { accessTokenTtl: 30 } });
    const t = await accessToken(fx, shortLived);
    const exp = JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString('utf8')).exp as number;
    const c = clock();
    const v = verifier({ now: c.now });
    expect(await v.verify(t)).toMatchObject({ valid: true });
    c.advance(exp * 1000 - c.now() + 4_000); // 4 s past exp: within the tolerance
    expect(await v.verify(t)).toMatchObject({ valid: true });
    c.advance(2_000);
    expect(await v.verify(t)).toEqual({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'expired' });
    expect(await verifier({ now: c.now, clockToleranceSec: 0 }).verify(t)).toMatchObject({ reason: 'expired' });
  });

  it('refuses a token not yet valid (nbf)', async () => {
    const t = await signWithKeyturnKey({ ...claims, nbf: Math.floor(Date.now() / 1000) + 600 });
    expect(await verifier().verify(t)).toEqual({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'not_yet_valid' });
  });

  it('refuses a tampered payload', async () => {
    const [h, , s] = token.split('.');
    const forged = `${h}.${b64({ ...claims, scope: 'read write admin' })}.${s}`;
    expect(await verifier().verify(forged)).toEqual({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'signature' });
  });

  it('refuses alg: none, with or without a kid', async () => {
    const v = verifier();
    for (const header of [{ alg: 'none', typ: 'at+jwt', kid }, { alg: 'none', typ: 'at+jwt' }]) {
      expect(await v.verify(`${b64(header)}.${token.split('.')[1]}.`)).toEqual({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'algorithm' });
    }
  });

  it('refuses HS256 signed with the public key as the secret (algorithm confusion)', async () => {
    const jwks = (await (await fetch(`${fx.url}/oauth/jwks`)).json()) as { keys: JWK[] };
    const jwk = jwks.keys.find((k) => k.kid === kid)!;
    const pem = createPublicKey({ key: jwk as JWK & { kty: string }, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const v = verifier();
    for (const secret of [Buffer.from(pem), Buffer.from(JSON.stringify(jwk))]) {
      const forged = await new SignJWT({ ...claims, scope: 'admin' }).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid }).sign(new Uint8Array(secret));
      expect(await v.verify(forged)).toEqual({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'algorithm' });
    }
  });

  it('refuses a key of another algorithm than the header says', async () => {
    // The kid of keyturn's EdDSA key, with an ES256 signature by some other key.
    const jwks = (await (await fetch(`${fx.url}/oauth/jwks`)).json()) as { keys: JWK[] };
    const ed = jwks.keys.find((k) => k.kty === 'OKP' && k.alg === 'EdDSA');
    expect(ed?.kid).toBeTypeOf('string');
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: ed!.kid! }).sign(privateKey);
    expect(await verifier().verify(forged)).toEqual({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'algorithm' });
  });

  it('refuses a wrong typ (a plain JWT, an ID token)', async () => {
    const v = verifier();
    for (const typ of ['JWT', 'id_token+jwt']) {
      expect(await v.verify(await signWithKeyturnKey(claims, { typ }))).toEqual({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'type' });
    }
    const key = await fx.server.kt.oauth.ring.signingKey('ES256');
    const untyped = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: key.kid }).sign(key.privateKey);
    expect(await v.verify(untyped)).toEqual({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'type' });
  });

  it.each(['sub', 'client_id', 'exp', 'iat', 'jti'])('refuses a token without %s', async (claim) => {
    const { [claim]: _dropped, ...rest } = claims;
    expect(await verifier().verify(await signWithKeyturnKey(rest))).toMatchObject({ valid: false, code: 'ERR_INVALID_TOKEN', reason: expect.stringMatching(/^(claims|expired)$/) });
  });

  it('refuses claims of the wrong type and a sender-constrained token (cnf) presented as Bearer', async () => {
    const v = verifier();
    expect(await v.verify(await signWithKeyturnKey({ ...claims, client_id: 42 }))).toMatchObject({ reason: 'claims' });
    expect(await v.verify(await signWithKeyturnKey({ ...claims, scope: ['read'] }))).toMatchObject({ reason: 'claims' });
    expect(await v.verify(await signWithKeyturnKey({ ...claims, cnf: { jkt: 'abc' } }))).toMatchObject({ reason: 'bound' });
  });

  it('keeps an RFC 8693 actor', async () => {
    const act = { sub: 'prn_actor', client_id: 'cli_actor' };
    expect(await verifier().verify(await signWithKeyturnKey({ ...claims, act }))).toMatchObject({ valid: true, act });
    expect(await verifier().verify(await signWithKeyturnKey({ ...claims, act: 'nobody' }))).toMatchObject({ reason: 'claims' });
  });

  it.each([
    ['two parts', 'a.b'],
    ['garbage parts', 'a.b.c'],
    ['non-JSON header', `${base64url.encode('x')}.e30.sig`],
  ])('refuses a malformed JWT (%s) without fetching anything', async (_what, input) => {
    const rec = recordingFetch();
    const result = await verifier({ fetch: rec.fetch }).verify(input);
    expect(result.valid).toBe(false);
    expect(rec.calls).toEqual([]);
  });

  it('refuses a token signed by an unknown key; refetches the JWKS for an unknown kid at most once per cooldown', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forge = (k: string) => new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: k }).sign(privateKey);
    const c = clock();
    const rec = recordingFetch();
    const v = verifier({ now: c.now, fetch: rec.fetch });
    expect(await v.verify(token)).toMatchObject({ valid: true });
    expect(v.stats().jwksFetches).toBe(1);

    // Within the cooldown (30 s) of the first fetch: refused without a fetch.
    expect(await v.verify(await forge('attacker-1'))).toEqual({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'key_unknown' });
    expect(v.stats().jwksFetches).toBe(1);
    // After it: one refetch, then the cooldown again, however many unknown kids arrive.
    c.advance(30_000);
    const unknown = await Promise.all(['a', 'b', 'c', 'd'].map(async (k) => v.verify(await forge(k))));
    expect(unknown.every((r) => !r.valid && r.reason === 'key_unknown')).toBe(true);
    expect(await v.verify(await forge('e'))).toMatchObject({ reason: 'key_unknown' });
    expect(v.stats().jwksFetches).toBe(2);
    // A known kid with a foreign signature: refused, no fetch.
    expect(await v.verify(await forge(kid))).toEqual({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'signature' });
    expect(v.stats().jwksFetches).toBe(2);
    expect(rec.calls.every((u) => u === `${fx.url}/oauth/jwks`)).toBe(true);
  });

  it('finds the JWKS through RFC 8414 discovery when asked, and checks the metadata names the expected issuer', async () => {
    const rec = recordingFetch();
    const v = verifier({ fetch: rec.fetch, discovery: true });
    expect(await v.verify(token)).toMatchObject({ valid: true, kind: 'jwt' });
    expect(await v.verify(token)).toMatchObject({ valid: true });
    expect(rec.calls).toEqual([`${fx.url}/.well-known/oauth-authorization-server`, `${fx.url}/oauth/jwks`]);
    await expect(verifier({ discovery: true, issuer: 'https://keyturn.elsewhere.example' }).verify(token)).rejects.toMatchObject({ code: 'ERR_UPSTREAM' });
  });

  it('throws ERR_UPSTREAM when the JWKS cannot be fetched (an outage, not a refusal)', async () => {
    const v = verifier({ jwksUri: 'http://127.0.0.1:1/oauth/jwks' });
    await expect(v.verify(token)).rejects.toMatchObject({ code: 'ERR_UPSTREAM' });
    const rec = recordingFetch({ fail: (u) => u.endsWith('/oauth/jwks') });
    await expect(verifier({ fetch: rec.fetch }).verifyJwt(token)).rejects.toBeInstanceOf(KeyturnError);
  });

  it('refetches the JWKS in the background once older than jwksMaxAgeMs, serving the cached keys meanwhile', async () => {
    const c = clock();
    const v = verifier({ now: c.now, jwksMaxAgeMs: 60_000 });
    expect(await v.verify(token)).toMatchObject({ valid: true });
    c.advance(61_000);
    expect(await v.verify(token)).toMatchObject({ valid: true });
    await expect.poll(() => v.stats().jwksFetches, { timeout: 5_000 }).toBe(2);
  });
});

describe('a JWK Set that changes', () => {
  /** Serves whatever `set.keys` holds at `https://as.example/jwks`, counting fetches. */
  function jwksServer() {
    const state = { keys: [] as JWK[], fetches: 0 };
    const fetchJwks: typeof fetch = async () => {
      state.fetches++;
      return new Response(JSON.stringify({ keys: state.keys }), { status: 200, headers: { 'content-type': 'application/json' } });
    };
    return { state, fetchJwks };
  }
  async function keyPair(kidName: string) {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: kidName, alg: 'ES256', use: 'sig' };
    const sign = (payload: Record<string, unknown>) => new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: kidName }).sign(privateKey);
    return { jwk, sign };
  }
  const body = () => ({ ...claims, iss: 'https://as.example', aud: API_AUDIENCE });

  it('stops accepting a key once it is no longer published (after the background refresh)', async () => {
    const [a, b] = [await keyPair('a'), await keyPair('b')];
    const { state, fetchJwks } = jwksServer();
    state.keys = [a.jwk, b.jwk];
    const c = clock();
    const v = createJwtVerifier({ issuer: 'https://as.example', audience: API_AUDIENCE, jwksUri: 'https://as.example/jwks', fetch: fetchJwks, now: c.now, jwksMaxAgeMs: 60_000 });
    const tokenA = await a.sign(body());
    expect(await v.verify(tokenA)).toMatchObject({ valid: true });
    expect(await v.verify(tokenA)).toMatchObject({ valid: true }); // the remembered header
    state.keys = [b.jwk];
    c.advance(61_000);
    await v.verify(tokenA); // served from the old set while the refresh runs
    await expect.poll(() => state.fetches, { timeout: 5_000 }).toBe(2);
    await expect.poll(async () => (await v.verify(tokenA)).valid, { timeout: 5_000 }).toBe(false);
    expect(await v.verify(tokenA)).toEqual({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'key_unknown' });
    expect(await v.verify(await b.sign(body()))).toMatchObject({ valid: true });
  });

  it('ignores keys of algorithms not allowed, private or symmetric keys, and keys for encryption', async () => {
    const a = await keyPair('a');
    const { state, fetchJwks } = jwksServer();
    const v = (algorithms?: string[]) =>
      createJwtVerifier({ issuer: 'https://as.example', audience: API_AUDIENCE, jwksUri: 'https://as.example/jwks', fetch: fetchJwks, jwksCooldownMs: 0, ...(algorithms ? { algorithms } : {}) });
    const t = await a.sign(body());
    state.keys = [{ ...a.jwk, use: 'enc' }];
    expect(await v().verify(t)).toMatchObject({ reason: 'key_unknown' });
    state.keys = [{ ...a.jwk, key_ops: ['encrypt'] }];
    expect(await v().verify(t)).toMatchObject({ reason: 'key_unknown' });
    state.keys = [{ kty: 'oct', k: 'c2VjcmV0', kid: 'a', alg: 'HS256' }];
    expect(await v().verify(t)).toMatchObject({ valid: false });
    state.keys = [a.jwk];
    expect(await v(['EdDSA']).verify(t)).toMatchObject({ reason: 'algorithm' });
    expect(await v().verify(t)).toMatchObject({ valid: true });
  });
});

describe('configuration', () => {
  it('without audience, a JWT is refused like any credential the verifier does not take, and verifyJwt throws ERR_CONFIG', async () => {
    const rec = recordingFetch();
    const v = createVerifier({ url: fx.url, stream: false, fetch: rec.fetch });
    open.push(v);
    expect(await v.verify(token)).toEqual({ valid: false, code: 'ERR_SECRET_FORMAT' });
    await expect(v.verifyJwt(token)).rejects.toMatchObject({ code: 'ERR_CONFIG' });
    expect(rec.calls).toEqual([]);
  });

  it.each<[string, Partial<VerifierOptions>]>([
    ['alg none', { algorithms: ['none'] }],
    ['HS256', { algorithms: ['ES256', 'HS256'] }],
    ['no algorithm', { algorithms: [] }],
    ['empty audience', { audience: [] }],
    ['jwksUri without audience', { audience: undefined, jwksUri: 'http://127.0.0.1:1/jwks' }],
    ['introspection without audience', { audience: undefined, introspection: { clientId: 'a', clientSecret: 'b' } }],
    ['introspection without a secret', { introspection: { clientId: 'a', clientSecret: '' } }],
    ['jwksUri not http', { jwksUri: 'file:///etc/passwd' }],
    ['jwksUri and jwks', { jwksUri: 'http://127.0.0.1:1/jwks', jwks: { keys: [] } }],
    ['negative tolerance', { clockToleranceSec: -1 }],
  ])('refuses %s at creation', (_what, options) => {
    expect(() => createVerifier({ url: fx.url, stream: false, audience: API_AUDIENCE, ...options })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
  });

  it('createJwtVerifier needs exactly one of jwksUri and jwks', () => {
    expect(() => createJwtVerifier({ issuer: fx.url, audience: API_AUDIENCE })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
    expect(() => createJwtVerifier({ issuer: fx.url, audience: API_AUDIENCE, jwks: { keys: [] }, jwksUri: `${fx.url}/oauth/jwks` })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG' }),
    );
  });
});

// Last: rotating changes the keys every later token is signed with.
describe('signing key rotation', () => {
  it('accepts a token signed by a key it has not seen yet by refetching the JWKS, and keeps accepting tokens of the retired key', async () => {
    const c = clock();
    const v = verifier({ now: c.now });
    expect(await v.verify(token)).toMatchObject({ valid: true });
    expect(v.stats().jwksFetches).toBe(1);
    // Two rotations: the key that signs now was created (as `next`) after the verifier's fetch.
    for (let i = 0; i < 2; i++) expect((await fx.server.api('POST', '/v1/signing-keys/rotate', { alg: 'ES256' })).status).toBe(200);
    const fresh = await accessToken(fx, app);
    expect(decodeProtectedHeader(fresh).kid).not.toBe(kid);
    c.advance(30_000); // past the unknown-kid cooldown of the first fetch
    expect(await v.verify(fresh)).toMatchObject({ valid: true, kind: 'jwt', clientId: app.id });
    expect(v.stats().jwksFetches).toBe(2);
    // The retired key stays published until its tokens expire: the old token still verifies.
    expect(await v.verify(token)).toMatchObject({ valid: true });
  });
});
