import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { manualContext } from '../../src/core/context.js';
import { secretDigest } from '../../src/core/secret.js';
import type { TestServer } from '../support/server.js';
import { describeStore } from '../support/stores.js';
import { dumpDatabase, startLeakServer, startReceiver, type Receiver } from './support/server.js';

/**
 * Attack reproductions (issue #9 items 2, 5, 11; issue #10 item 1): a leaked OAuth client secret,
 * refresh token or opaque access token was recorded as "not a key of this server" (and labelled a
 * false positive to GitHub) while it kept working; a leaked key unsuspended by an admin was never
 * acted on again; a public reporter's URL reached the owner as a link; a scan authenticated with
 * the admin key suspended that very key, locking the operator out.
 */

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const finding = (secret: string, extra: Record<string, unknown> = {}) => ({ fingerprint: secretDigest(secret), kind: 'keyturn', rule: 'keyturn-secret', file: 'app/.env', line: 3, column: 1, ...extra });

async function token(server: TestServer, form: Record<string, string>, client: { id: string; secret: string }) {
  const res = await fetch(`${server.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}` },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

for (const mode of ['suspend', 'revoke'] as const) {
  describeStore(`leaked OAuth credentials are acted on (${mode} mode)`, (kind) => {
    const ctx = manualContext(new Date());
    const gh = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    let server: TestServer;
    let stop: () => Promise<void>;
    let hooks: Receiver;
    let ghKeys: Receiver;
    let n = 0;

    beforeAll(async () => {
      hooks = await startReceiver(() => ({ status: 204 }));
      const pem = gh.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      ghKeys = await startReceiver(() => ({ status: 200, body: JSON.stringify({ public_keys: [{ key_identifier: 'kid', key: pem, is_current: true }] }) }));
      ({ server, stop } = await startLeakServer(kind, { leakResponse: mode, githubKeysUrl: `${ghKeys.url}/keys` }, ctx));
    });
    afterAll(async () => {
      await stop();
      await hooks.close();
      await ghKeys.close();
    });
    beforeEach(() => {
      hooks.received.length = 0;
      ctx.advance(120_000); // report buckets refill
    });

    async function newClient(overrides: Record<string, unknown> = {}) {
      const owner = `owner-${mode}-${++n}`;
      expect((await server.api('POST', '/v1/principals', { kind: 'service', name: owner, webhookUrl: `${hooks.url}/owner/${owner}` })).status).toBe(201);
      const res = await server.api('POST', '/v1/clients', {
        name: `app-${mode}-${n}`,
        owner,
        scopes: ['read'],
        grantTypes: ['client_credentials', 'refresh_token'],
        policyOverrides: { refreshTokens: true, clientCredentialsRefresh: true, ...overrides },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return { id: res.body.client_id as string, secret: res.body.client_secret as string, owner };
    }

    async function ownerPayloads(owner: string) {
      await server.kt.leaks.response.idle();
      const owned = hooks.received.filter((r) => r.path === `/owner/${owner}`);
      // An owner's notification is a signed Standard Webhooks delivery (`key.leaked`) wrapping the leak payload.
      for (const r of owned) expect(r.headers['webhook-signature']).toMatch(/^v1,/);
      return owned.map((r) => leakPayloadOf(r.body));
    }

    it('a leaked current client secret found by a scan stops working; the owner is told', async () => {
      const client = await newClient();
      expect((await token(server, { grant_type: 'client_credentials' }, client)).status).toBe(200);
      const res = await server.api('POST', '/v1/leaks/findings', [finding(client.secret)]);
      expect(res.body.items[0]).toMatchObject({
        status: mode === 'suspend' ? 'suspended' : 'revoked',
        credential: { type: 'client_secret', id: client.id, response: mode === 'suspend' ? 'client_disabled' : 'secret_revoked' },
        new: true,
      });
      expect((await token(server, { grant_type: 'client_credentials' }, client)).status).toBe(401);
      const view = (await server.api('GET', `/v1/clients/${client.id}`)).body;
      if (mode === 'suspend') expect(view.status).toBe('disabled');
      else expect(view.secretLast4 ?? view.secret_last4 ?? null).toBeNull();
      const [payload] = await ownerPayloads(client.owner);
      expect(payload).toMatchObject({ type: 'leak.detected', credential: { type: 'client_secret', id: client.id } });
      const events = (await server.api('GET', `/v1/events?target=${client.id}`)).body.items as { type: string; reason: string | null }[];
      expect(events.map((e) => e.type)).toContain(mode === 'suspend' ? 'client.disabled' : 'client.secret_revoked');
      expect(events.map((e) => e.type)).toContain('leak.detected');
      // the owner recovers: a new secret (and, when disabled, enabling the client, which acknowledges the finding)
      const rotated = await server.api('POST', `/v1/clients/${client.id}/rotate-secret`, { graceSeconds: 0 });
      if (mode === 'suspend') expect((await server.api('POST', `/v1/clients/${client.id}/enable`, { ackLeak: true })).status).toBe(200);
      expect((await token(server, { grant_type: 'client_credentials' }, { id: client.id, secret: rotated.body.client_secret })).status).toBe(200);
    });

    it('a leaked previous client secret (still in its rotation grace) stops working; the current one keeps working', async () => {
      const client = await newClient();
      const rotated = await server.api('POST', `/v1/clients/${client.id}/rotate-secret`, { graceSeconds: 3600 });
      const current = { id: client.id, secret: rotated.body.client_secret as string };
      expect((await token(server, { grant_type: 'client_credentials' }, client)).status).toBe(200); // the old one works in the grace
      const res = await server.api('POST', '/v1/leaks/findings', [finding(client.secret)]);
      expect(res.body.items[0]).toMatchObject({ status: 'revoked', credential: { type: 'client_secret', response: 'secret_revoked' } });
      expect((await token(server, { grant_type: 'client_credentials' }, client)).status).toBe(401);
      expect((await token(server, { grant_type: 'client_credentials' }, current)).status).toBe(200);
    });

    it('a leaked refresh token reported publicly revokes its family (and its access tokens)', async () => {
      const client = await newClient();
      const issued = await token(server, { grant_type: 'client_credentials' }, client);
      const refresh = issued.body.refresh_token as string;
      expect(refresh).toMatch(/^ktr_/);
      const report = await server.api('POST', '/v1/leaks/report', { token: refresh, url: 'https://paste.example/x' }, null);
      expect(report.status).toBe(202);
      const [payload] = await ownerPayloads(client.owner); // idle(): the queued report was looked up
      expect(payload).toMatchObject({ credential: { type: 'refresh_token', response: 'grant_revoked', client: client.id } });
      const used = await token(server, { grant_type: 'refresh_token', refresh_token: refresh }, client);
      expect(used.status).toBe(400);
      expect(used.body.error).toBe('invalid_grant');
      const grants = (await server.api('GET', `/v1/clients/${client.id}/grants`)).body.items as { status: string; revokeReason: string }[];
      expect(grants.map((g) => [g.status, g.revokeReason])).toEqual([['revoked', 'leak detected']]);
    });

    it('a leaked opaque access token reported by GitHub is revoked and labelled a true positive', async () => {
      const client = await newClient({ accessTokenFormat: 'opaque' });
      const issued = await token(server, { grant_type: 'client_credentials' }, client);
      const access = issued.body.access_token as string;
      expect(access).toMatch(/^kta_/);
      const intro = async () =>
        (
          await fetch(`${server.url}/oauth/introspect`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}` },
            body: new URLSearchParams({ token: access }).toString(),
          })
        ).json() as Promise<{ active: boolean }>;
      expect((await intro()).active).toBe(true);
      const body = JSON.stringify([{ token: access, type: 'keyturn_access_token', url: 'https://github.com/o/r/blob/x/.env', source: 'content' }]);
      const res = await fetch(`${server.url}/v1/leaks/github`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'github-public-key-identifier': 'kid', 'github-public-key-signature': sign('sha256', Buffer.from(body), { key: gh.privateKey, dsaEncoding: 'der' }).toString('base64') },
        body,
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual([{ token_hash: sha256(access), token_type: 'keyturn_access_token', label: 'true_positive' }]);
      expect((await intro()).active).toBe(false);
      const [payload] = await ownerPayloads(client.owner);
      expect(payload).toMatchObject({ credential: { type: 'access_token', response: 'token_revoked' } });
      // the client itself keeps working: only the token leaked
      expect((await token(server, { grant_type: 'client_credentials' }, client)).status).toBe(200);
    });

    it('stores no OAuth secret anywhere', async () => {
      const client = await newClient();
      await server.api('POST', '/v1/leaks/findings', [finding(client.secret)]);
      await server.kt.leaks.response.idle();
      const dump = await dumpDatabase(server);
      expect(dump).not.toContain(client.secret.slice(5, 40));
    });
  });
}


/** The leak payload of a notification: the global webhook's body as is, an owner's signed `key.leaked` delivery's `data`. */
function leakPayloadOf(body: string): Record<string, any> {
  const parsed = JSON.parse(body) as Record<string, any>;
  return parsed.type === 'key.leaked' ? (parsed.data as Record<string, any>) : parsed;
}

describeStore('a leaked key stays handled; reporters\' URLs are text; admin keys are held with care', (kind) => {
  const ctx = manualContext(new Date());
  let server: TestServer;
  let stop: () => Promise<void>;
  let hooks: Receiver;

  beforeAll(async () => {
    hooks = await startReceiver(() => ({ status: 204 }));
    ({ server, stop } = await startLeakServer(kind, { leakWebhookUrl: `${hooks.url}/global` }, ctx));
  });
  afterAll(async () => {
    await stop();
    await hooks.close();
  });
  beforeEach(() => {
    hooks.received.length = 0;
    ctx.advance(120_000);
  });

  const verify = async (key: string) => (await server.api('POST', '/v1/keys/verify', { key }, null)).body as { valid: boolean; code?: string };

  it('a suspended key reported leaked, then unsuspended, is acted on again when re-reported; unsuspending needs an acknowledgement', async () => {
    await server.api('POST', '/v1/principals', { kind: 'service', name: 'again' });
    const k = (await server.api('POST', '/v1/keys', { owner: 'again', name: 'prod' })).body as { id: string; key: string };
    await server.api('POST', `/v1/keys/${k.id}/suspend`, { reason: 'maintenance' });
    await server.api('POST', '/v1/leaks/report', { token: k.key }, null);
    await server.kt.leaks.response.idle();
    const listed = (await server.api('GET', `/v1/leaks/findings?key=${k.id}`)).body.items as { id: string; status: string; acknowledged: unknown }[];
    expect(listed).toMatchObject([{ status: 'inactive', acknowledged: null }]);

    const refused = await server.api('POST', `/v1/keys/${k.id}/unsuspend`, {});
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('ERR_LEAK_UNACKNOWLEDGED');
    expect((await verify(k.key)).code).toBe('ERR_KEY_SUSPENDED'); // changed nothing
    const lifted = await server.api('POST', `/v1/keys/${k.id}/unsuspend`, { ackLeak: true });
    expect(lifted.body.status).toBe('active');
    const ack = (await server.api('GET', `/v1/events?type=leak.acknowledged&target=${k.id}`)).body.items as { actor: string; data: { findings: string[] } }[];
    expect(ack).toMatchObject([{ actor: expect.stringMatching(/^prn_/), data: { findings: [listed[0]!.id] } }]);
    expect((await server.api('GET', `/v1/leaks/findings/${listed[0]!.id}`)).body.acknowledged).toMatchObject({ by: expect.stringMatching(/^prn_/) });

    await server.api('POST', '/v1/leaks/report', { token: k.key }, null);
    await server.kt.leaks.response.idle();
    expect((await verify(k.key)).code).toBe('ERR_KEY_SUSPENDED');
    const detected = (await server.api('GET', `/v1/events?type=leak.detected&target=${k.id}`)).body.items as { data: { repeat?: boolean; status: string } }[];
    expect(detected.map((e) => [e.data.status, e.data.repeat ?? false])).toEqual([
      ['inactive', false],
      ['suspended', true],
    ]);
    // reopened: unsuspending needs a new acknowledgement
    expect((await server.api('POST', `/v1/keys/${k.id}/unsuspend`, {})).body.code).toBe('ERR_LEAK_UNACKNOWLEDGED');
  });

  it('shows a public reporter\'s URL to the owner only as defanged, labelled text, never as a link', async () => {
    await server.api('POST', '/v1/principals', { kind: 'service', name: 'phished', webhookUrl: `${hooks.url}/owner/phished` });
    const k = (await server.api('POST', '/v1/keys', { owner: 'phished', name: 'prod' })).body as { id: string; key: string };
    const lure = 'https://keyturn-support.example/restore?key=1 [click here](https://evil.example) <a href="https://evil.example">x</a>';
    await server.api('POST', '/v1/leaks/report', { token: k.key, url: lure }, null);
    await server.kt.leaks.response.idle();
    const bodies = hooks.received.map((r) => r.body);
    expect(bodies).toHaveLength(2);
    for (const body of bodies) {
      expect(body).not.toMatch(/https?:\/\//);
      expect(body).not.toContain('](');
      expect(body).not.toContain('<a');
      const payload = leakPayloadOf(body);
      expect(payload.where.url).toBeUndefined();
      expect(payload.where.untrustedUrl).toContain('hxxps://keyturn-support[.]example/restore');
      expect(payload.untrusted).toMatchObject({ fields: ['where.untrustedUrl'], note: expect.stringContaining('not a link') });
      expect(payload.text).toContain('unverified');
    }
    const [f] = (await server.api('GET', `/v1/leaks/findings?key=${k.id}`)).body.items as { id: string }[];
    const places = (await server.api('GET', `/v1/leaks/findings/${f!.id}`)).body.places as Record<string, unknown>[];
    expect(places[0]).toMatchObject({ via: 'report', untrustedUrl: expect.stringContaining('hxxps://') });
    expect(places[0]!.url).toBeUndefined();
    const event = (await server.api('GET', `/v1/events?type=leak.detected&target=${k.id}`)).body.items[0] as { data: { where: Record<string, unknown> } };
    expect(JSON.stringify(event.data.where)).not.toMatch(/https?:\/\//);
  });

  it('never suspends the admin key a scan authenticated with, nor the last working admin key without consent; both are reported at once', async () => {
    // the scan runs with the bootstrap admin key and finds that very key
    const own = await server.api('POST', '/v1/leaks/findings', [finding(server.adminKey)]);
    expect(own.body.items[0]).toMatchObject({ status: 'held', held: 'own_credential', action: 'none', new: true });
    expect((await server.api('GET', '/v1/keys')).status).toBe(200); // not locked out
    await server.kt.leaks.response.idle();
    const told = hooks.received.filter((r) => r.path === '/global').map((r) => JSON.parse(r.body) as Record<string, any>);
    expect(told).toMatchObject([{ finding: { status: 'held' }, credential: { type: 'api_key', held: 'own_credential' } }]);

    // reported publicly (no credential): it is the last working admin key, so it is held again
    await server.api('POST', '/v1/leaks/report', { token: server.adminKey }, null);
    await server.kt.leaks.response.idle();
    expect((await server.api('GET', '/v1/keys')).status).toBe(200);
    const admins = (await server.api('GET', '/v1/leaks/findings?status=held')).body.items as { held: string; credential: { id: string } }[];
    expect(admins.map((f) => f.held)).toEqual(['last_admin']);

    // a second admin key exists now: the next sighting suspends the leaked one
    const principal = (await server.api('GET', `/v1/leaks/findings?status=held`)).body.items[0].principal as string;
    const second = (await server.api('POST', '/v1/keys', { owner: principal, name: 'admin-2', scopes: ['admin'] })).body as { key: string };
    await server.api('POST', '/v1/leaks/report', { token: server.adminKey }, null);
    await server.kt.leaks.response.idle();
    expect((await verify(server.adminKey)).code).toBe('ERR_KEY_SUSPENDED');
    expect((await server.api('GET', '/v1/keys', undefined, second.key)).status).toBe(200);
  });
});
