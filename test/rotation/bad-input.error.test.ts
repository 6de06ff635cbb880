import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, startOAuthServer, type OAuthServer } from '../oauth/support.js';

/**
 * Bad input to rotation over HTTP answers a clear error with a stable code and changes nothing
 * (the store's rows and the event log are compared before and after). The env file without the
 * variable is in http.test.ts (`keys self-rotate`), the grace and revoked key at the service level
 * in rotation.test.ts; here the same over the wire, and what was missing.
 */
describe('rotation: bad input changes nothing', () => {
  let kt: OAuthServer;
  beforeAll(async () => {
    kt = await startOAuthServer({ rotationTick: 0 });
    await kt.api('POST', '/v1/principals', { kind: 'service', name: 'svc', policy: 'banking' });
  });
  afterAll(async () => kt.stop());

  /**
   * Every key and client as the API shows them, and the events that record a change: equal before
   * and after means nothing changed. (A refused credential is itself recorded, as every failed
   * authentication is: `*_failed` events are left out.)
   */
  const state = async () => ({
    keys: (await kt.api('GET', '/v1/keys?limit=1000')).body.items,
    clients: (await kt.api('GET', '/v1/clients?limit=1000')).body,
    events: ((await kt.api('GET', '/v1/events?limit=1000')).body.items as { type: string }[]).filter((e) => !/_failed$/.test(e.type)).length,
  });

  it('an unknown policy for a key, a client or a principal: ERR_VALIDATION naming it', async () => {
    const before = await state();
    for (const [path, body] of [
      ['/v1/keys', { owner: 'svc', name: 'x', policy: 'nope' }],
      ['/v1/clients', { name: 'x', policy: 'nope' }],
      ['/v1/principals', { kind: 'service', name: 'x', policy: 'nope' }],
    ] as const) {
      const res = await kt.api('POST', path, body);
      expect(res.status, path).toBe(400);
      expect(res.body.error_description ?? res.body.message, path).toMatch(/unknown policy ['"]nope['"]/);
    }
    expect(await state()).toEqual(before);
  });

  it('a grace longer than the policy allows, for a key and a client secret: ERR_VALIDATION with the limit', async () => {
    const key = (await kt.api('POST', '/v1/keys', { owner: 'svc', name: 'g' })).body;
    const app = await kt.createClient({ name: 'g', owner: 'svc', policy: 'banking' });
    const before = await state();
    const k = await kt.api('POST', `/v1/keys/${key.id}/rotate`, { graceSeconds: 3601 });
    expect(k.status).toBe(400);
    expect(JSON.stringify(k.body)).toContain('grace: at most 3600 seconds under policy banking');
    const c = await kt.api('POST', `/v1/clients/${app.id}/rotate-secret`, { graceSeconds: 3601 });
    expect(c.status).toBe(400);
    expect(JSON.stringify(c.body)).toContain('grace: at most 3600 seconds under policy banking');
    expect(await state()).toEqual(before);
  });

  it('rotating a revoked key: ERR_KEY_STATE; self-rotating with a retired key: 401 invalid_token', async () => {
    const revoked = (await kt.api('POST', '/v1/keys', { owner: 'svc', name: 'r' })).body;
    await kt.api('POST', `/v1/keys/${revoked.id}/revoke`, {});
    const old = (await kt.api('POST', '/v1/keys', { owner: 'svc', name: 'old' })).body;
    const successor = (await kt.api('POST', `/v1/keys/${old.id}/rotate`, { graceSeconds: 60 })).body;
    kt.ctx.advance(61_000);
    await kt.kt.keys.settleDeadlines(100);
    expect((await kt.api('GET', `/v1/keys/${old.id}`)).body.status).toBe('retired');
    const before = await state();
    const r = await kt.api('POST', `/v1/keys/${revoked.id}/rotate`, {});
    expect(r.status).toBe(409);
    expect(JSON.stringify(r.body)).toContain('a revoked key cannot be rotated');
    const self = await kt.api('POST', '/v1/keys/self/rotate', {}, old.key);
    expect(self.status).toBe(401);
    expect(self.body).toMatchObject({ error: 'invalid_token' });
    expect(self.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(JSON.stringify(self.body)).not.toContain(old.key.slice(8));
    expect(await state()).toEqual(before);
    // The successor is untouched and works.
    expect((await kt.api('POST', '/v1/keys/verify', { key: successor.key }, null)).body).toMatchObject({ valid: true, keyId: successor.id });
  });

  it('POST /v1/clients/self/rotate-secret: the client with its secret gets a new one once; a wrong or missing secret is 401 invalid_client', async () => {
    const app = await kt.createClient({ name: 'selfy', owner: 'svc', policy: 'banking' });
    const call = (authorization: string | undefined) =>
      fetch(`${kt.url}/v1/clients/self/rotate-secret`, { method: 'POST', headers: authorization ? { authorization } : {} }).then(async (r) => ({ status: r.status, headers: r.headers, body: (await r.json()) as Record<string, any> }));
    const before = await state();
    for (const auth of [undefined, 'Bearer x', basic(app.id, 'ktcs_wrong'), basic('ktc_nope', app.secret)]) {
      const res = await call(auth);
      expect(res.status, auth).toBe(401);
      expect(res.body.error).toBe('invalid_client');
    }
    expect(await state()).toEqual(before);
    const ok = await call(basic(app.id, app.secret));
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    expect(ok.body).toMatchObject({ client_id: app.id, client_secret: expect.stringMatching(/^ktcs_/) });
    const token = await kt.form('/oauth/token', { grant_type: 'client_credentials' }, { basic: [app.id, ok.body.client_secret] });
    expect(token.status, token.text).toBe(200);
    const again = await call(basic(app.id, app.secret));
    expect(again.status).toBe(409);
    expect(JSON.stringify(again.body)).toContain('was shown once');
  });
});
