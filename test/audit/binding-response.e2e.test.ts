import { afterEach, beforeEach, expect, it } from 'vitest';
import { readCursor } from '../../src/audit/sinks/cursor.js';
import { makeProof, proofKey, type ProofKey } from '../binding/support.js';
import { startOAuthServer, type OAuthServer, type RegisteredClient } from '../oauth/support.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';

/**
 * The `binding_mismatch` detection's automatic response at the token endpoint, against a listening
 * keyturn on each store: a real DPoP-bound refresh token presented with another key is a finding
 * on its family, and with the rule in `audit.detections.suspendOn` the family is revoked with its
 * access tokens (the client and its other families keep working); without it nothing is revoked;
 * a refusal that is not a mismatch (a malformed proof, an unknown refresh token) changes nothing.
 */
describeStore('binding_mismatch response at the token endpoint', (kind) => {
  let handle: StoreHandle;
  let kt: OAuthServer | undefined;
  beforeEach(async () => {
    handle = await freshStore(kind);
  });
  afterEach(async () => {
    await kt?.stop();
    kt = undefined;
    await handle.dispose();
  });

  async function start(suspendOn: string[]): Promise<{ app: RegisteredClient; key: ProofKey }> {
    kt = await startOAuthServer({ db: handle.db, detections: JSON.stringify({ suspendOn }) });
    // The engine starts at the log's end on its first run: wait for it, so what follows is after.
    await until(async () => (await readCursor(handle.store, 'detections')) !== undefined, 'the detection engine started');
    expect((await kt.api('POST', '/v1/policies', { name: 'dpop-only', from: 'default', binding: 'dpop', clientCredentialsRefresh: true })).status).toBe(201);
    const app = await kt.createClient({ name: 'dpop-app', scopes: ['read'], grantTypes: ['client_credentials', 'refresh_token'], policy: 'dpop-only' });
    return { app, key: await proofKey() };
  }

  const request = (app: RegisteredClient, proof: string | undefined, form: Record<string, string>) =>
    kt!.form('/oauth/token', form, { basic: [app.id, app.secret], headers: proof === undefined ? {} : { dpop: proof } });
  async function nonce(app: RegisteredClient, key: ProofKey): Promise<string> {
    const res = await request(app, await makeProof(key, 'POST', kt!.tokenUrl), { grant_type: 'client_credentials' });
    expect(res.body.error).toBe('use_dpop_nonce');
    return res.headers.get('dpop-nonce')!;
  }
  /** A DPoP-bound access and refresh token of `app`, proven with `key`. */
  async function bound(app: RegisteredClient, key: ProofKey): Promise<{ access_token: string; refresh_token: string }> {
    const res = await request(app, await makeProof(key, 'POST', kt!.tokenUrl, { nonce: await nonce(app, key) }), { grant_type: 'client_credentials' });
    expect(res.status, res.text).toBe(200);
    expect(res.body.refresh_token).toMatch(/^ktr_/);
    return res.body;
  }
  const grants = async (app: RegisteredClient) => (await kt!.api('GET', `/v1/clients/${app.id}/grants`)).body.items as { id: string; status: string }[];
  const findings = async () => ((await kt!.api('GET', '/v1/events?type=detection.finding&limit=100')).body.items as { target: string; data: Record<string, unknown> }[]).filter((f) => f.data['rule'] === 'binding_mismatch');
  async function until(check: () => Promise<boolean>, what: string): Promise<void> {
    const end = Date.now() + 15_000;
    while (!(await check())) {
      if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('a DPoP-bound refresh token presented with another key: a finding on its family, which is revoked with its access tokens; the client keeps working', async () => {
    const { app, key } = await start(['binding_mismatch']);
    kt!.ctx.set(new Date());
    const stolen = await bound(app, key);
    const other = await bound(app, key);
    const [family] = (await grants(app)).filter((g) => g.status === 'active');
    expect(family).toBeDefined();
    const thief = await proofKey();
    const n = await nonce(app, key);
    const refused = await request(app, await makeProof(thief, 'POST', kt!.tokenUrl, { nonce: n }), { grant_type: 'refresh_token', refresh_token: stolen.refresh_token });
    expect(refused.status, refused.text).toBe(400);
    expect(refused.body.error).toBe('invalid_dpop_proof');
    // The refusal names the family, with its client.
    const failed = (await kt!.api('GET', '/v1/events?type=binding.dpop_failed&limit=100')).body.items as { target: string; reason: string; data: Record<string, unknown> }[];
    const mismatch = failed.find((e) => e.reason === 'key_mismatch')!;
    const stolenFamily = (await grants(app)).find((g) => g.id === mismatch.target);
    expect(stolenFamily, 'the event names one of the client’s families').toBeDefined();
    expect(mismatch.data['client']).toBe(app.id);

    await until(async () => (await findings()).length > 0, 'the finding is recorded');
    const [finding] = await findings();
    expect(finding).toMatchObject({ target: mismatch.target, data: { severity: 'high', response: 'revoked' } });
    const revoked = (await kt!.api('GET', `/v1/events?type=grant.revoked&limit=100`)).body.items as { target: string; actor: string | null; reason: string }[];
    expect(revoked.map((e) => e.target)).toEqual([mismatch.target]);
    expect(revoked[0]!.reason).toMatch(/^detection binding_mismatch/);
    // The family is gone for its holder too: the refresh token and its access token no longer work.
    expect((await grants(app)).find((g) => g.id === mismatch.target)!.status).toBe('revoked');
    const legit = await request(app, await makeProof(key, 'POST', kt!.tokenUrl, { nonce: n }), { grant_type: 'refresh_token', refresh_token: stolen.refresh_token });
    expect(legit.status, legit.text).toBe(400);
    expect(legit.body.error).toBe('invalid_grant');
    expect(await kt!.introspect(stolen.access_token, app)).toEqual({ active: false });
    // The client is not disabled, and its other family still refreshes.
    expect((await kt!.api('GET', `/v1/clients/${app.id}`)).body.status).toBe('active');
    expect(await kt!.introspect(other.access_token, app)).toMatchObject({ active: true });
    const fine = await request(app, await makeProof(key, 'POST', kt!.tokenUrl, { nonce: n }), { grant_type: 'refresh_token', refresh_token: other.refresh_token });
    expect(fine.status, fine.text).toBe(200);
  });

  it('with the response off: the same mismatch is a finding that revokes nothing; the holder goes on refreshing', async () => {
    const { app, key } = await start([]);
    kt!.ctx.set(new Date());
    const stolen = await bound(app, key);
    const n = await nonce(app, key);
    const refused = await request(app, await makeProof(await proofKey(), 'POST', kt!.tokenUrl, { nonce: n }), { grant_type: 'refresh_token', refresh_token: stolen.refresh_token });
    expect(refused.body.error).toBe('invalid_dpop_proof');
    await until(async () => (await findings()).length > 0, 'the finding is recorded');
    expect((await findings())[0]!.data['response']).toBe('none');
    expect((await kt!.api('GET', '/v1/events?type=grant.revoked&limit=100')).body.items).toEqual([]);
    expect((await grants(app)).every((g) => g.status === 'active')).toBe(true);
    const ok = await request(app, await makeProof(key, 'POST', kt!.tokenUrl, { nonce: n }), { grant_type: 'refresh_token', refresh_token: stolen.refresh_token });
    expect(ok.status, ok.text).toBe(200);
  });

  it('bad input is no mismatch: a malformed proof or an unknown refresh token revokes nothing and disables nothing', async () => {
    const { app, key } = await start(['binding_mismatch']);
    kt!.ctx.set(new Date());
    const mine = await bound(app, key);
    const n = await nonce(app, key);
    const malformed = await request(app, 'not-a-proof', { grant_type: 'refresh_token', refresh_token: mine.refresh_token });
    expect(malformed.body.error).toBe('invalid_dpop_proof');
    const unknown = await request(app, await makeProof(await proofKey(), 'POST', kt!.tokenUrl, { nonce: n }), { grant_type: 'refresh_token', refresh_token: 'ktr_' + 'A'.repeat(49) });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('invalid_grant');
    // A marker event after them: once the engine has passed it, it has seen both refusals.
    const marker = await kt!.api('POST', '/v1/policies', { name: 'marker', from: 'default' });
    expect(marker.status).toBe(201);
    await until(async () => {
      const head = (await kt!.api('GET', '/v1/events?type=policy.created&limit=100')).body.items as { seq: number }[];
      return ((await readCursor(handle.store, 'detections'))?.position ?? 0) >= Math.max(...head.map((e) => e.seq));
    }, 'the engine read past the refusals');
    expect(await findings()).toEqual([]);
    expect((await kt!.api('GET', '/v1/events?type=grant.revoked&limit=100')).body.items).toEqual([]);
    expect((await grants(app)).every((g) => g.status === 'active')).toBe(true);
    expect((await kt!.api('GET', `/v1/clients/${app.id}`)).body.status).toBe('active');
    const ok = await request(app, await makeProof(key, 'POST', kt!.tokenUrl, { nonce: n }), { grant_type: 'refresh_token', refresh_token: mine.refresh_token });
    expect(ok.status, ok.text).toBe(200);
  });
});
