import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOAuthServer, type OAuthServer } from '../oauth/support.js';

/** `POST /v1/keys/self/rotate` is authenticated by the key it rotates, and by nothing else. */
describe('POST /v1/keys/self/rotate', () => {
  let kt: OAuthServer;
  beforeAll(async () => {
    kt = await startOAuthServer();
    await kt.api('POST', '/v1/principals', { kind: 'service', name: 'svc' });
  });
  afterAll(async () => kt.stop());

  const keyCount = async () => {
    const page = await kt.api('GET', '/v1/keys?limit=1000');
    return (page.body.items as unknown[]).length;
  };

  it('refuses a missing, malformed, unknown, revoked or suspended key with 401 and rotates nothing', async () => {
    const revoked = (await kt.api('POST', '/v1/keys', { owner: 'svc', name: 'r' })).body as { id: string; key: string };
    await kt.api('POST', `/v1/keys/${revoked.id}/revoke`, {});
    const suspended = (await kt.api('POST', '/v1/keys', { owner: 'svc', name: 's' })).body as { id: string; key: string };
    await kt.api('POST', `/v1/keys/${suspended.id}/suspend`, {});
    const before = await keyCount();
    expect((await kt.api('POST', '/v1/keys/self/rotate', {}, null)).status).toBe(401);
    for (const token of ['not a key', 'kt_live_' + 'A'.repeat(49), revoked.key, suspended.key]) {
      const res = await kt.api('POST', '/v1/keys/self/rotate', {}, token);
      expect(res.status, token.slice(0, 12)).toBe(401);
      expect(res.body).toMatchObject({ error: 'invalid_token' });
      expect(JSON.stringify(res.body)).not.toContain(token.slice(8));
    }
    expect(await keyCount()).toBe(before);
  });

  it('a retry after a lost answer never gets a second live successor, only its id', async () => {
    const key = (await kt.api('POST', '/v1/keys', { owner: 'svc', name: 'holder' })).body as { id: string; key: string };
    const first = await kt.api('POST', '/v1/keys/self/rotate', {}, key.key);
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(first.body).toMatchObject({ predecessor: { id: key.id, status: 'rotating' } });
    const before = await keyCount();
    const retries = await Promise.all([1, 2, 3].map(() => kt.api('POST', '/v1/keys/self/rotate', {}, key.key)));
    for (const retry of retries) {
      expect(retry.status).toBe(409);
      expect(retry.body.code).toBe('ERR_KEY_STATE');
      expect(retry.body.error_description).toContain(first.body.id);
      expect(JSON.stringify(retry.body)).not.toContain(first.body.key.slice(8));
    }
    expect(await keyCount()).toBe(before);
    // The holder's key cannot rotate someone else's: the successor belongs to the same owner, same name.
    expect(first.body).toMatchObject({ name: 'holder', principal: (await kt.api('GET', `/v1/keys/${key.id}`)).body.principal });
  });
});
