/**
 * Fail closed (issue 12 item 4): a change does not happen unless its event is stored. For each
 * capability a trigger on `events` refuses that capability's event type (on SQLite and
 * PostgreSQL alike), the request is made over real HTTP, and the change is checked not to have
 * happened — nothing half-done, no secret handed out.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';
import { startOAuthServer, type OAuthServer } from '../oauth/support.js';

describeStore('a change whose event cannot be stored does not happen', (kind) => {
  let handle: StoreHandle;
  let kt: OAuthServer;
  let owner: string;

  /** Makes every insert of an event of `type` fail, as a full disk or a broken log would. */
  async function refuse(type: string): Promise<void> {
    if (kind === 'sqlite') {
      await handle.store.run(`CREATE TRIGGER refuse_event BEFORE INSERT ON events WHEN NEW.type = '${type}' BEGIN SELECT RAISE(ABORT, 'event write refused'); END`);
    } else {
      await handle.store.run(`CREATE OR REPLACE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'event write refused'; END $$`);
      await handle.store.run(`CREATE TRIGGER refuse_event BEFORE INSERT ON events FOR EACH ROW WHEN (NEW.type = '${type}') EXECUTE FUNCTION refuse_event()`);
    }
  }

  beforeAll(async () => {
    handle = await freshStore(kind);
    kt = await startOAuthServer({ db: handle.db });
    const res = await kt.api('POST', '/v1/principals', { kind: 'service', name: 'billing' });
    expect(res.status).toBe(201);
    owner = res.body.id;
  });
  afterEach(async () => {
    await handle.store.run(kind === 'sqlite' ? 'DROP TRIGGER IF EXISTS refuse_event' : 'DROP TRIGGER IF EXISTS refuse_event ON events');
  });
  afterAll(async () => {
    await kt.stop();
    await handle.dispose();
  });

  const count = async (sql: string, params: string[] = []): Promise<number> => Number((await handle.store.get<{ n: number }>(sql, params))!.n);
  const newKey = async (name: string) => {
    const res = await kt.api('POST', '/v1/keys', { owner, name, scopes: ['read'] });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: string; secret: string };
  };

  it('issuing an API key', async () => {
    const before = await count('SELECT COUNT(*) AS n FROM api_keys');
    await refuse('key.created');
    const res = await kt.api('POST', '/v1/keys', { owner, name: 'never', scopes: ['read'] });
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(JSON.stringify(res.body)).not.toMatch(/kt_live_/);
    expect(await count('SELECT COUNT(*) AS n FROM api_keys')).toBe(before);
  });

  it('rotating an API key', async () => {
    const key = await newKey('rotated');
    const before = await count('SELECT COUNT(*) AS n FROM api_keys');
    await refuse('key.rotated');
    const res = await kt.api('POST', `/v1/keys/${key.id}/rotate`, {});
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(JSON.stringify(res.body)).not.toMatch(/kt_live_/);
    expect(await count('SELECT COUNT(*) AS n FROM api_keys')).toBe(before);
    expect((await kt.api('GET', `/v1/keys/${key.id}`)).body.status).toBe('active');
  });

  it('revoking an API key', async () => {
    const key = await newKey('revoked');
    await refuse('key.revoked');
    const res = await kt.api('POST', `/v1/keys/${key.id}/revoke`, {});
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect((await kt.api('GET', `/v1/keys/${key.id}`)).body.status).toBe('active');
    expect(await count("SELECT COUNT(*) AS n FROM api_keys WHERE id = ? AND status = 'active'", [key.id])).toBe(1);
  });

  it('issuing an OAuth access token', async () => {
    const client = await kt.createClient({ name: 'svc', scopes: ['read'], grantTypes: ['client_credentials'] });
    const before = await count('SELECT COUNT(*) AS n FROM oauth_access_tokens');
    await refuse('token.issued');
    const res = await kt.form('/oauth/token', { grant_type: 'client_credentials', scope: 'read' }, { basic: [client.id, client.secret] });
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ error: 'server_error' });
    expect(res.text).not.toMatch(/access_token/);
    expect(await count('SELECT COUNT(*) AS n FROM oauth_access_tokens')).toBe(before);
    // With the log healthy again the same request succeeds.
    await handle.store.run(kind === 'sqlite' ? 'DROP TRIGGER refuse_event' : 'DROP TRIGGER refuse_event ON events');
    const ok = await kt.form('/oauth/token', { grant_type: 'client_credentials', scope: 'read' }, { basic: [client.id, client.secret] });
    expect(ok.status).toBe(200);
    expect(await count('SELECT COUNT(*) AS n FROM oauth_access_tokens')).toBe(before + 1);
  });

  it('rotating a client secret', async () => {
    const client = await kt.createClient({ name: 'rotating', scopes: ['read'], grantTypes: ['client_credentials'] });
    const view = (await kt.api('GET', `/v1/clients/${client.id}`)).body;
    await refuse('client.secret_rotated');
    const res = await kt.api('POST', `/v1/clients/${client.id}/rotate-secret`, {});
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(res.body?.client_secret).toBeUndefined();
    // The old secret is still the only one: it works, and no second secret was stored.
    const token = await kt.form('/oauth/token', { grant_type: 'client_credentials', scope: 'read' }, { basic: [client.id, client.secret] });
    expect(token.status).toBe(200);
    expect((await kt.api('GET', `/v1/clients/${client.id}`)).body).toEqual(view);
  });
});
