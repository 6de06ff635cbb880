import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Introspector } from '../../src/verifier/introspection.js';
import { createVerifier, MAX_ACTORS, type Verifier } from '../../src/verifier/index.js';
import { actorsOf } from '../../src/verifier/jwt.js';
import { API_AUDIENCE, createClient, oauthPost, startFixture, type Fixture, type OAuthClient } from './support.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const TT_ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const TT_API_KEY = 'urn:keyturn:params:oauth:token-type:api_key';

/**
 * Issue #9 follow-up: a token exchanged again carries a nested RFC 8693 §4.1 `act` claim (the
 * current actor outermost, each earlier one nested under it), but the verifier kept only the
 * outermost actor: an API server could not see that `downstream` acted through `edge` for the
 * key's owner, nor refuse a chain that went through a client it does not trust. The verifier now
 * gives the whole chain (`actors`, outermost first), from the JWT and from introspection, and
 * refuses a malformed nested actor as it does a malformed outer one. Failed before the change.
 */
describe('nested act claims from the real token endpoint', () => {
  let fx: Fixture;
  let edge: OAuthClient;
  let downstream: OAuthClient;
  let third: OAuthClient;
  let rs: OAuthClient;
  let verifier: Verifier;

  beforeAll(async () => {
    fx = await startFixture();
    const exchanger = { grantTypes: [TOKEN_EXCHANGE], scopes: ['read'] };
    edge = await createClient(fx, { name: 'edge', ...exchanger });
    downstream = await createClient(fx, { name: 'downstream', ...exchanger });
    third = await createClient(fx, { name: 'third', ...exchanger });
    rs = await createClient(fx, { name: 'api-gateway', scopes: [], resourceServerFor: [API_AUDIENCE] });
    verifier = createVerifier({ url: fx.url, stream: false, audience: API_AUDIENCE });
  });
  afterAll(async () => {
    await verifier.close();
    await fx.stop();
  });

  const exchange = async (as: OAuthClient, subject: string, type: string): Promise<string> => {
    const res = await oauthPost(fx, '/oauth/token', as, { grant_type: TOKEN_EXCHANGE, subject_token: subject, subject_token_type: type, audience: API_AUDIENCE });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.access_token as string;
  };
  const actor = (c: OAuthClient) => ({ sub: c.principal, client_id: c.id });

  it('gives every actor of a three-hop chain, outermost first, and keeps act as the outermost alone', async () => {
    const { key } = await fx.createKey();
    const first = await exchange(edge, key, TT_API_KEY);
    const second = await exchange(downstream, first, TT_ACCESS);
    const last = await exchange(third, second, TT_ACCESS);
    const one = await verifier.verify(first);
    expect(one).toMatchObject({ valid: true, kind: 'jwt', act: actor(edge), actors: [actor(edge)] });
    const result = await verifier.verify(last);
    expect(result).toMatchObject({ valid: true, kind: 'jwt', act: actor(third), actors: [actor(third), actor(downstream), actor(edge)] });
    // The existing field is unchanged: the outermost actor only, without the nested `act`.
    expect(result.valid && result.kind !== 'api_key' ? result.act : undefined).toEqual(actor(third));
    expect(result.valid && result.kind !== 'api_key' && Object.isFrozen(result.actors)).toBe(true);
  });

  it('reads the same chain from an introspection answer', async () => {
    const { key } = await fx.createKey();
    const last = await exchange(downstream, await exchange(edge, key, TT_API_KEY), TT_ACCESS);
    const introspector = new Introspector({
      url: `${fx.url}/oauth/introspect`,
      clientId: rs.id,
      clientSecret: rs.secret,
      issuer: fx.url,
      audience: [API_AUDIENCE],
      ttlMs: 0,
      maxEntries: 10,
      timeoutMs: 5_000,
      fetch,
      now: Date.now,
    });
    expect(await introspector.verify(last)).toMatchObject({ valid: true, act: actor(downstream), actors: [actor(downstream), actor(edge)] });
  });

  it('refuses a malformed or unbounded nested actor', () => {
    expect(actorsOf({ sub: 'a', act: { sub: 'b', client_id: 'c' } })).toEqual([{ sub: 'a' }, { sub: 'b', client_id: 'c' }]);
    expect(actorsOf({ sub: 'a', act: 'b' })).toBeUndefined();
    expect(actorsOf({ sub: 'a', act: { client_id: 'c' } })).toBeUndefined();
    expect(actorsOf({ sub: 'a', act: [{ sub: 'b' }] })).toBeUndefined();
    let deep: Record<string, unknown> = { sub: 'root' };
    for (let i = 0; i < MAX_ACTORS; i++) deep = { sub: `a${i}`, act: deep };
    expect(actorsOf(deep)).toBeUndefined();
  });
});
