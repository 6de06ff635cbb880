import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listEvents, type RequestMeta } from '../../src/audit/events.js';
import { manualContext } from '../../src/core/context.js';
import { secretDigest } from '../../src/core/secret.js';
import { KeyService } from '../../src/keys/service.js';
import { PrincipalService } from '../../src/principals/service.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import type { TestServer } from '../support/server.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';
import { Fake } from './support/corpus.js';
import { dumpDatabase, startLeakServer, startReceiver, type Receiver } from './support/server.js';

const fake = new Fake(4242);
const admin: RequestMeta = { actor: null, actorKind: null, sourceIp: '127.0.0.1', requestId: 'req_test' };

function finding(secretOrFingerprint: string, extra: Record<string, unknown> = {}) {
  const fingerprint = /^[0-9a-f]{64}$/.test(secretOrFingerprint) ? secretOrFingerprint : secretDigest(secretOrFingerprint);
  return { fingerprint, kind: 'keyturn', rule: 'keyturn-secret', file: 'app/.env', line: 3, column: 13, ...extra };
}

describeStore('KeyService suspend and unsuspend', (kind) => {
  let handle: StoreHandle;
  let keys: KeyService;

  beforeEach(async () => {
    handle = await freshStore(kind);
    await handle.store.migrate(MIGRATIONS);
    const ctx = manualContext();
    const principals = new PrincipalService(handle.store, ctx);
    keys = new KeyService({ store: handle.store, ctx, principals, prefix: 'kt_test' });
    await principals.create({ kind: 'service', name: 'billing' }, admin);
  });
  afterEach(async () => {
    keys.close();
    await handle.dispose();
  });

  it('suspends a cached key at once, once, and lifts it again; each change is one event', async () => {
    const { key, secret } = await keys.create({ owner: 'billing', name: 'k' }, admin);
    expect((await keys.verify(secret, admin)).valid).toBe(true); // cached
    expect((await keys.suspend(key.id, admin, 'leak')).status).toBe('suspended');
    expect(await keys.verify(secret, admin)).toEqual({ valid: false, reason: 'suspended' });
    expect((await keys.suspend(key.id, admin)).status).toBe('suspended'); // no-op
    expect(await listEvents(handle.store, { type: 'key.suspended' })).toMatchObject([{ target: key.id, reason: 'leak', data: { previous: 'active' } }]);
    expect((await keys.unsuspend(key.id, admin)).status).toBe('active');
    expect((await keys.verify(secret, admin)).valid).toBe(true);
    expect((await keys.unsuspend(key.id, admin)).status).toBe('active'); // no-op
    expect(await listEvents(handle.store, { type: 'key.unsuspended' })).toHaveLength(1);
  });

  it('refuses to suspend or unsuspend a revoked key (ERR_KEY_STATE) and changes nothing', async () => {
    const { key } = await keys.create({ owner: 'billing', name: 'k' }, admin);
    await keys.revoke(key.id, admin);
    await expect(keys.suspend(key.id, admin)).rejects.toMatchObject({ code: 'ERR_KEY_STATE' });
    await expect(keys.unsuspend(key.id, admin)).rejects.toMatchObject({ code: 'ERR_KEY_STATE' });
    await expect(keys.suspend('key_nope', admin)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    expect((await keys.get(key.id)).status).toBe('revoked');
    expect(await listEvents(handle.store, { type: 'key.suspended' })).toEqual([]);
  });
});

describeStore('leak response', (kind) => {
  let server: TestServer;
  let stop: () => Promise<void>;
  let hooks: Receiver;

  beforeAll(async () => {
    hooks = await startReceiver((req) => ({ status: req.path.startsWith('/fail') ? 500 : 204, hang: req.path.startsWith('/hang') }));
    ({ server, stop } = await startLeakServer(kind, { leakWebhookUrl: `${hooks.url}/global`, leakWebhookTimeout: 200, bodyLimit: 1_048_576 }));
  });
  afterAll(async () => {
    await stop();
    await hooks.close();
  });
  beforeEach(() => {
    hooks.received.length = 0;
  });

  async function newKey(owner: string, webhookPath?: string): Promise<{ id: string; secret: string }> {
    const p = await server.api('POST', '/v1/principals', { kind: 'service', name: owner, ...(webhookPath ? { webhookUrl: `${hooks.url}${webhookPath}` } : {}) });
    expect(p.status).toBe(201);
    const k = await server.api('POST', '/v1/keys', { owner, name: 'prod', scopes: ['read'] });
    expect(k.status).toBe(201);
    return { id: k.body.id, secret: k.body.key };
  }

  async function verify(secret: string) {
    return (await server.api('POST', '/v1/keys/verify', { key: secret }, null)).body as { valid: boolean; code?: string };
  }

  it('suspends a leaked live key, records where it was seen, and tells the owner by event and webhook', async () => {
    const { id, secret } = await newKey('billing', '/owner/billing');
    expect((await verify(secret)).valid).toBe(true); // now cached on the node
    const res = await server.api('POST', '/v1/leaks/findings', { source: '/srv/repo', findings: [finding(secret), finding(secret, { file: 'b.txt', line: 9 })] });
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual([
      expect.objectContaining({ fingerprint: secretDigest(secret), status: 'suspended', action: 'suspended', keyId: id, new: true, notifications: 2 }),
    ]);
    expect(res.body.summary).toMatchObject({ findings: 1, new: 1, suspended: 1, revoked: 0 });
    expect(await verify(secret)).toEqual({ valid: false, code: 'ERR_KEY_SUSPENDED' });
    expect((await server.api('GET', `/v1/keys/${id}`)).body.status).toBe('suspended');

    await server.kt.leaks.response.idle();
    const paths = hooks.received.map((r) => r.path).sort();
    expect(paths).toEqual(['/global', '/owner/billing']);
    const payload = JSON.parse(hooks.received[0]!.body) as Record<string, any>;
    expect(payload).toMatchObject({
      type: 'leak.detected',
      finding: { fingerprint: secretDigest(secret), kind: 'keyturn', status: 'suspended' },
      key: { id, action: 'suspended' },
      where: { via: 'scan', source: '/srv/repo' },
      successor: { id: expect.stringMatching(/^key_/), pickup: 'admin' },
    });
    expect(hooks.received[0]!.headers['content-type']).toBe('application/json');
    for (const r of hooks.received) expect(r.body).not.toContain(secret.slice(8));

    const events = (await server.api('GET', `/v1/events?target=${id}`)).body.items as { type: string; outcome: string; data: Record<string, unknown> }[];
    // Verification failures and usage records (written when a usage interval ends) come as they come.
    expect(events.map((e) => e.type).filter((t) => t !== 'key.verify_failed' && t !== 'key.used')).toEqual([
      'key.created',
      'key.suspended',
      'key.successor_issued',
      'leak.detected',
      'leak.notified',
      'leak.notified',
    ]);
    expect(events.filter((e) => e.type === 'leak.notified').every((e) => e.outcome === 'success')).toBe(true);
    expect(events.find((e) => e.type === 'leak.notified')!.data).toMatchObject({ origin: hooks.url, status: 204 });

    const list = (await server.api('GET', `/v1/leaks/findings?key=${id}`)).body.items as Record<string, unknown>[];
    expect(list).toEqual([expect.objectContaining({ keyId: id, status: 'suspended', sightings: 2, kind: 'keyturn', rule: 'keyturn-secret' })]);
    const one = (await server.api('GET', `/v1/leaks/findings/${list[0]!.id}`)).body as { places: Record<string, unknown>[] };
    expect(one.places.map((p) => `${p.file}:${p.line}`).sort()).toEqual(['app/.env:3', 'b.txt:9']);
    expect(one.places[0]).toMatchObject({ via: 'scan', source: '/srv/repo' });

    // the owner lifts the quarantine, acknowledging the leak: the key works again
    expect((await server.api('POST', `/v1/keys/${id}/unsuspend`, {})).body.code).toBe('ERR_LEAK_UNACKNOWLEDGED');
    expect((await server.api('POST', `/v1/keys/${id}/unsuspend`, { ackLeak: true })).body.status).toBe('active');
    expect((await verify(secret)).valid).toBe(true);
  });

  it('is idempotent: the same finding again suspends nothing, notifies no one and only adds the new place', async () => {
    const { id, secret } = await newKey('ledger', '/owner/ledger');
    const first = await server.api('POST', '/v1/leaks/findings', [finding(secret)]);
    expect(first.body.items[0]).toMatchObject({ new: true, action: 'suspended' });
    await server.kt.leaks.response.idle();
    const delivered = hooks.received.length;
    const again = await server.api('POST', '/v1/leaks/findings', [finding(secret), finding(secret, { file: 'other.env', line: 1 })]);
    expect(again.body.items).toEqual([expect.objectContaining({ new: false, action: 'none', status: 'suspended', notifications: 0 })]);
    await server.kt.leaks.response.idle();
    expect(hooks.received.length).toBe(delivered);
    const events = (await server.api('GET', `/v1/events?target=${id}`)).body.items as { type: string }[];
    expect(events.filter((e) => e.type === 'key.suspended')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'leak.detected')).toHaveLength(1);
    const list = (await server.api('GET', `/v1/leaks/findings?key=${id}`)).body.items as { sightings: number }[];
    expect(list).toHaveLength(1);
    expect(list[0]!.sightings).toBe(2);
    // an admin unsuspends (acknowledging the leak): the next report of the same leak acts again
    expect((await server.api('POST', `/v1/keys/${id}/unsuspend`, { ackLeak: true })).status).toBe(200);
    expect((await verify(secret)).valid).toBe(true);
    const third = await server.api('POST', '/v1/leaks/findings', [finding(secret)]);
    expect(third.body.items).toEqual([expect.objectContaining({ new: false, action: 'suspended', status: 'suspended', notifications: 2 })]);
    expect((await verify(secret)).code).toBe('ERR_KEY_SUSPENDED');
  });

  it('acts once when the same leak is reported concurrently', async () => {
    const { id, secret } = await newKey('race', '/owner/race');
    const answers = await Promise.all([1, 2, 3, 4].map((n) => server.api('POST', '/v1/leaks/findings', [finding(secret, { line: n })])));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(answers.filter((a) => a.body.items[0].new)).toHaveLength(1);
    await server.kt.leaks.response.idle();
    const events = (await server.api('GET', `/v1/events?target=${id}`)).body.items as { type: string }[];
    expect(events.filter((e) => e.type === 'key.suspended')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'leak.notified')).toHaveLength(2);
    expect(hooks.received.filter((r) => r.path === '/owner/race')).toHaveLength(1);
  });

  it('records third-party and foreign keyturn findings without acting on them', async () => {
    const github = fake.githubClassic();
    const foreign = fake.keyturn('kt_live');
    const before = (await server.api('GET', '/v1/events?type=key.suspended')).body.items.length as number;
    const res = await server.api('POST', '/v1/leaks/findings', [
      { fingerprint: secretDigest(github), kind: 'github', rule: 'github-classic-token', file: 'ci.yml', line: 3, column: 9 },
      finding(foreign),
    ]);
    expect(res.body.items).toEqual([
      expect.objectContaining({ status: 'third_party', action: 'none', keyId: null, new: true, notifications: 1 }),
      expect.objectContaining({ status: 'unknown', action: 'none', keyId: null, new: true, notifications: 1 }),
    ]);
    expect((await server.api('GET', '/v1/events?type=key.suspended')).body.items).toHaveLength(before);
    await server.kt.leaks.response.idle();
    // only the global webhook hears of them: there is no owner
    expect(hooks.received.map((r) => r.path)).toEqual(['/global', '/global']);
    const listed = (await server.api('GET', '/v1/leaks/findings?status=third_party')).body.items as { fingerprint: string }[];
    // A third-party fingerprint is stored keyed again under the deployment's key, never as sent.
    expect(listed.map((f) => f.fingerprint)).not.toContain(secretDigest(github));
    expect(listed.length).toBeGreaterThan(0);
  });

  it('records failed and timed-out webhook deliveries as failure events', async () => {
    const failing = await newKey('failing', '/fail');
    const hanging = await newKey('hanging', '/hang');
    await server.api('POST', '/v1/leaks/findings', [finding(failing.secret), finding(hanging.secret)]);
    await server.kt.leaks.response.idle();
    const notified = async (target: string) =>
      ((await server.api('GET', `/v1/events?type=leak.notified&target=${target}`)).body.items as { outcome: string; reason: string; data: { to: string } }[]).map(
        (e) => `${e.data.to}:${e.outcome}:${e.reason ?? ''}`,
      );
    expect((await notified(failing.id)).sort()).toEqual(['global:success:', 'owner:failure:HTTP 500']);
    expect((await notified(hanging.id)).sort()).toEqual(['global:success:', 'owner:failure:timeout']);
    // the keys were suspended whatever the webhooks did
    expect((await verify(failing.secret)).code).toBe('ERR_KEY_SUSPENDED');
  });

  it('refuses secrets, bad fingerprints and oversized batches, and changes nothing', async () => {
    const { secret } = await newKey('careful');
    const withMatch = await server.api('POST', '/v1/leaks/findings', [{ ...finding(secret), match: secret }]);
    expect(withMatch.status).toBe(400);
    expect(withMatch.body.code).toBe('ERR_VALIDATION');
    expect(withMatch.body.error_description).toContain('fingerprint only');
    const bad = await server.api('POST', '/v1/leaks/findings', [{ ...finding(secret), fingerprint: 'abc' }]);
    expect(bad.body.code).toBe('ERR_VALIDATION');
    const tooMany = await server.api('POST', '/v1/leaks/findings', Array.from({ length: 1001 }, () => finding(secret)));
    expect(tooMany.body.code).toBe('ERR_VALIDATION');
    expect((await verify(secret)).valid).toBe(true);
    expect((await server.api('POST', '/v1/leaks/findings', [finding(secret)], null)).status).toBe(401);
    expect((await server.api('GET', '/v1/leaks/findings', undefined, null)).status).toBe(401);
    expect((await verify(secret)).valid).toBe(true);
  });

  it('strips credentials from URLs it records', async () => {
    const { secret } = await newKey('urls');
    const res = await server.api('POST', '/v1/leaks/findings', { source: 'https://bot:hunter2hunter2@git.example/repo.git', findings: [finding(secret)] });
    const one = (await server.api('GET', `/v1/leaks/findings/${res.body.items[0].findingId}`)).body as { places: { source: string }[] };
    expect(one.places[0]!.source).toBe('https://git.example/repo.git');
  });

  it('stores no secret anywhere', async () => {
    const { secret } = await newKey('dump', '/owner/dump');
    await server.api('POST', '/v1/leaks/findings', [finding(secret)]);
    await server.kt.leaks.response.idle();
    const dump = await dumpDatabase(server);
    expect(dump).toContain(secretDigest(secret));
    expect(dump).not.toContain(secret.slice(8, 40));
  });
});

describeStore('leak response in revoke mode', (kind) => {
  let server: TestServer;
  let stop: () => Promise<void>;
  beforeAll(async () => {
    ({ server, stop } = await startLeakServer(kind, { leakResponse: 'revoke' }));
  });
  afterAll(async () => stop());

  it('revokes a leaked live key for good', async () => {
    await server.api('POST', '/v1/principals', { kind: 'service', name: 'svc' });
    const k = (await server.api('POST', '/v1/keys', { owner: 'svc', name: 'x' })).body as { id: string; key: string };
    const res = await server.api('POST', '/v1/leaks/findings', [finding(k.key)]);
    expect(res.body.items[0]).toMatchObject({ status: 'revoked', action: 'revoked', notifications: 0 });
    expect((await server.api('POST', '/v1/keys/verify', { key: k.key }, null)).body).toEqual({ valid: false, code: 'ERR_KEY_REVOKED' });
    expect((await server.api('POST', `/v1/keys/${k.id}/unsuspend`, {})).body.code).toBe('ERR_KEY_STATE');
    const events = (await server.api('GET', `/v1/events?target=${k.id}`)).body.items as { type: string; reason: string }[];
    expect(events.map((e) => e.type)).toEqual(['key.created', 'key.revoked', 'key.successor_issued', 'leak.detected', 'key.verify_failed']);
    expect(events[1]!.reason).toBe('leak detected');
  });

  it('records an already revoked key as inactive', async () => {
    await server.api('POST', '/v1/principals', { kind: 'service', name: 'old' });
    const k = (await server.api('POST', '/v1/keys', { owner: 'old', name: 'x' })).body as { id: string; key: string };
    await server.api('POST', `/v1/keys/${k.id}/revoke`, {});
    const res = await server.api('POST', '/v1/leaks/findings', [finding(k.key)]);
    expect(res.body.items[0]).toMatchObject({ status: 'inactive', action: 'none', keyId: k.id, new: true });
  });
});

describe('principals with a webhook', () => {
  it('accept only http(s) webhook URLs', async () => {
    const { server, stop } = await startLeakServer('sqlite');
    try {
      expect((await server.api('POST', '/v1/principals', { kind: 'service', name: 'a', webhookUrl: 'ftp://x' })).body.code).toBe('ERR_VALIDATION');
      const ok = await server.api('POST', '/v1/principals', { kind: 'service', name: 'b', webhookUrl: 'https://hooks.example/keyturn' });
      expect(ok.body.webhookUrl).toBe('https://hooks.example/keyturn');
    } finally {
      await stop();
    }
  });
});
