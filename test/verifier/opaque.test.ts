import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext } from '../../src/core/context.js';
import { generateSecret } from '../../src/core/secret.js';
import { createVerifier, type Verifier, type VerifierOptions } from '../../src/verifier/index.js';
import { accessToken, API_AUDIENCE, createClient, oauthPost, OTHER_AUDIENCE, recordingFetch, startFixture, type Fixture, type OAuthClient } from './support.js';

/**
 * Opaque access tokens (a client with the `banking` policy gets them) checked through RFC 7662
 * introspection against a real keyturn: accepted, cached within bounds, coalesced, and refused
 * once revoked and the cache TTL has passed (clock-controlled).
 */
let fx: Fixture;
let bank: OAuthClient;
let rs: OAuthClient;

beforeAll(async () => {
  fx = await startFixture();
  bank = await createClient(fx, { policy: 'banking' });
  // A gateway registered as resource server for both audiences (RFC 7662 §4), so the verifier's own audience check is what refuses below.
  rs = await createClient(fx, { name: 'orders-api', scopes: [], resourceServerFor: [API_AUDIENCE, OTHER_AUDIENCE] });
});
afterAll(async () => {
  await Promise.all(open.map((v) => v.close()));
  await fx.stop();
});

const open: Verifier[] = [];
function verifier(options: Partial<VerifierOptions> = {}): Verifier {
  const v = createVerifier({ url: fx.url, stream: false, audience: API_AUDIENCE, introspection: { clientId: rs.id, clientSecret: rs.secret }, ...options });
  open.push(v);
  return v;
}
function clock() {
  let t = Date.now();
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}
const introspections = (rec: ReturnType<typeof recordingFetch>) => rec.calls.filter((u) => u === `${fx.url}/oauth/introspect`).length;

describe('opaque access tokens', () => {
  it('accepts a token through introspection with its client, subject, scopes and expiry', async () => {
    const token = await accessToken(fx, bank, { scope: 'read write' });
    expect(token).toMatch(/^kta_/);
    const rec = recordingFetch();
    const result = await verifier({ fetch: rec.fetch }).verify(token);
    expect(result).toEqual({
      valid: true,
      kind: 'opaque',
      sub: bank.principal,
      principal: bank.principal,
      clientId: bank.id,
      scopes: ['read', 'write'],
      expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      tokenId: expect.stringMatching(/^atk_/),
    });
    expect(Object.isFrozen(result)).toBe(true);
    expect(rec.calls).toEqual([`${fx.url}/oauth/introspect`]); // never /v1/keys/verify
  });

  it('serves an active answer from the cache, and a revocation takes effect once the TTL has passed', async () => {
    const token = await accessToken(fx, bank);
    const c = clock();
    const rec = recordingFetch();
    const v = verifier({ fetch: rec.fetch, now: c.now, introspectionCacheTtlMs: 30_000 });
    expect(await v.verify(token)).toMatchObject({ valid: true });
    expect(await v.verify(token)).toMatchObject({ valid: true });
    expect(introspections(rec)).toBe(1);
    expect(v.stats()).toMatchObject({ introspections: 1, introspectionHits: 1 });

    expect((await oauthPost(fx, '/oauth/revoke', bank, { token })).status).toBe(200);
    c.advance(29_999);
    expect(await v.verify(token)).toMatchObject({ valid: true }); // the bound: at most the TTL
    c.advance(1);
    expect(await v.verify(token)).toEqual({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'inactive' });
    expect(introspections(rec)).toBe(2);
    // Refusals are not cached: each check asks again.
    expect(await v.verify(token)).toMatchObject({ reason: 'inactive' });
    expect(introspections(rec)).toBe(3);
  });

  it('never serves a cached answer past the token’s exp', async () => {
    const token = await accessToken(fx, await createClient(fx, { policy: 'banking', policyOverrides: { accessTokenTtl: 30 } }));
    const c = clock();
    const rec = recordingFetch();
    const v = verifier({ fetch: rec.fetch, now: c.now, introspectionCacheTtlMs: 3_600_000 });
    const first = await v.verify(token);
    expect(first).toMatchObject({ valid: true });
    if (!first.valid || first.kind === 'api_key') throw new Error('expected an access token');
    c.advance(Date.parse(first.expiresAt) - c.now());
    // Past exp: not from the cache; keyturn (whose clock has not moved) still says active, the verifier refuses it as expired.
    expect(await v.verify(token)).toEqual({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'expired' });
    expect(introspections(rec)).toBe(2);
  });

  it('shares one introspection among concurrent checks of the same token', async () => {
    const token = await accessToken(fx, bank);
    const rec = recordingFetch();
    const v = verifier({ fetch: rec.fetch });
    const results = await Promise.all(Array.from({ length: 8 }, () => v.verify(token)));
    expect(results.every((r) => r.valid)).toBe(true);
    expect(introspections(rec)).toBe(1);
  });

  it('keeps at most introspectionMaxEntries answers; introspectionCacheTtlMs 0 turns caching off', async () => {
    const [a, b] = [await accessToken(fx, bank), await accessToken(fx, bank)];
    const rec = recordingFetch();
    const v = verifier({ fetch: rec.fetch, introspectionMaxEntries: 1 });
    await v.verify(a);
    await v.verify(b);
    await v.verify(b);
    await v.verify(a);
    expect(introspections(rec)).toBe(3); // a was evicted by b
    const off = recordingFetch();
    const uncached = verifier({ fetch: off.fetch, introspectionCacheTtlMs: 0 });
    await uncached.verify(a);
    await uncached.verify(a);
    expect(introspections(off)).toBe(2);
  });

  it('refuses a token for another audience', async () => {
    const token = await accessToken(fx, bank, { resource: OTHER_AUDIENCE });
    expect(await verifier().verify(token)).toEqual({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'audience' });
    // A resource server registered for its own audience only is not told anything about the token (RFC 7662 §4).
    const ordersOnly = await createClient(fx, { name: 'orders-only', scopes: [], resourceServerFor: [API_AUDIENCE] });
    const narrow = verifier({ introspection: { clientId: ordersOnly.id, clientSecret: ordersOnly.secret } });
    expect(await narrow.verify(token)).toEqual({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'inactive' });
    expect((await narrow.verify(await accessToken(fx, bank))).valid).toBe(true);
  });

  it('refuses an unknown token of the access-token format', async () => {
    expect(await verifier().verify(generateSecret('kta', systemContext))).toEqual({ valid: false, code: 'ERR_INVALID_TOKEN', reason: 'inactive' });
  });

  it('refuses opaque tokens locally when no introspection client is configured; API keys still go to the key check', async () => {
    const token = await accessToken(fx, bank);
    const rec = recordingFetch();
    const v = verifier({ fetch: rec.fetch, introspection: undefined });
    expect(await v.verify(token)).toEqual({ valid: false, code: 'ERR_SECRET_FORMAT' });
    expect(rec.calls).toEqual([]);
    const { key } = await fx.createKey();
    expect(await v.verify(key)).toMatchObject({ valid: true, kind: 'api_key' });
    expect(rec.calls).toEqual([`${fx.url}/v1/keys/verify`]);
  });

  it('takes other access-token prefixes when configured', async () => {
    const rec = recordingFetch();
    const v = verifier({ fetch: rec.fetch, accessTokenPrefixes: ['acme_at'] });
    expect(await v.verify(generateSecret('acme_at', systemContext))).toMatchObject({ reason: 'inactive' });
    expect(rec.calls).toEqual([`${fx.url}/oauth/introspect`]);
  });

  it('throws ERR_UPSTREAM when its client credentials are refused (a configuration outage, not a bad token)', async () => {
    const token = await accessToken(fx, bank);
    const v = verifier({ introspection: { clientId: rs.id, clientSecret: `${rs.secret.slice(0, -1)}${rs.secret.endsWith('x') ? 'y' : 'x'}` } });
    await expect(v.verify(token)).rejects.toMatchObject({ code: 'ERR_UPSTREAM', details: { status: 401 } });
  });

  it('finds the introspection endpoint through RFC 8414 discovery when asked', async () => {
    const token = await accessToken(fx, bank);
    const rec = recordingFetch();
    expect(await verifier({ fetch: rec.fetch, discovery: true }).verify(token)).toMatchObject({ valid: true, kind: 'opaque' });
    expect(rec.calls).toEqual([`${fx.url}/.well-known/oauth-authorization-server`, `${fx.url}/oauth/introspect`]);
  });

  it('throws ERR_UPSTREAM when keyturn cannot be reached', async () => {
    const token = await accessToken(fx, bank);
    const rec = recordingFetch({ fail: (u) => u.endsWith('/oauth/introspect') });
    await expect(verifier({ fetch: rec.fetch }).verify(token)).rejects.toMatchObject({ code: 'ERR_UPSTREAM' });
  });

  it('checks requiredScopes of opaque tokens too', async () => {
    const token = await accessToken(fx, bank, { scope: 'read' });
    const v = verifier({ requiredScopes: ['write'] });
    expect(await v.verifyRequest({ headers: { authorization: `Bearer ${token}` } })).toMatchObject({
      valid: false,
      code: 'ERR_INSUFFICIENT_SCOPE',
      requiredScopes: ['write'],
      credential: { kind: 'opaque', clientId: bank.id },
    });
  });

  it('clear() drops cached introspection answers', async () => {
    const token = await accessToken(fx, bank);
    const rec = recordingFetch();
    const v = verifier({ fetch: rec.fetch });
    await v.verify(token);
    v.clear();
    await v.verify(token);
    expect(introspections(rec)).toBe(2);
  });
});
