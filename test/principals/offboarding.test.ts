import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RequestMeta } from '../../src/audit/events.js';
import { manualContext } from '../../src/core/context.js';
import { openKeyturn } from '../../src/runtime/open.js';
import type { TestServer } from '../support/server.js';
import { describeStore } from '../support/stores.js';
import { startLeakServer } from '../leaks/support/server.js';

/**
 * Offboarding (issue #11 item 6) against a listening server on both stores: the dry run's plan is
 * exactly what the real run then does; what the person held stops, their clients are handed over,
 * what they saw is rotated (old and new both work through the grace, the new one collected by an
 * administrator only); bad input changes nothing; two nodes running the same offboarding do each
 * step once.
 */

type Step = { seq: number; action: string; target: string; outcome: string | null; detail: Record<string, string | null> | null };
type Report = { id: string | null; status: string; dryRun: boolean; steps: Step[]; counts: Record<string, number>; done: number; skipped: number };

async function token(server: TestServer, form: Record<string, string>, client: { id: string; secret: string }) {
  const res = await fetch(`${server.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}` },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describeStore('offboarding', (kind) => {
  const ctx = manualContext(new Date());
  let server: TestServer;
  let stop: () => Promise<void>;
  let n = 0;

  beforeAll(async () => {
    ({ server, stop } = await startLeakServer(kind, {}, ctx));
  });
  afterAll(async () => stop());

  const ok = <T = any>(res: { status: number; body: T }, status = 200): T => {
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    return res.body;
  };
  const verify = async (key: string) => (await server.api('POST', '/v1/keys/verify', { key }, null)).body as { valid: boolean; code?: string };
  const eventCount = async () => Number((await server.kt.store.get<{ n: number }>('SELECT COUNT(*) AS n FROM events'))!.n);

  /** A person with an admin key who saw credentials of others, holds keys, a client and tokens. */
  async function person() {
    const i = ++n;
    const names = { bob: `bob${i}`, platform: `platform${i}`, billing: `billing${i}` };
    ok(await server.api('POST', '/v1/principals', { kind: 'user', name: names.bob }), 201);
    ok(await server.api('POST', '/v1/principals', { kind: 'service', name: names.platform }), 201);
    ok(await server.api('POST', '/v1/principals', { kind: 'service', name: names.billing }), 201);
    const bobAdmin = ok(await server.api('POST', '/v1/keys', { owner: names.bob, name: 'admin', scopes: ['admin'] }), 201) as { id: string; key: string };
    const bobCli = ok(await server.api('POST', '/v1/keys', { owner: names.bob, name: 'cli' }), 201) as { id: string; key: string };
    // Seen by bob: created with his key.
    const seen = ok(await server.api('POST', '/v1/keys', { owner: names.billing, name: 'api' }, bobAdmin.key), 201) as { id: string; key: string };
    // Not seen by bob: created by the bootstrap admin (a workload).
    const unseen = ok(await server.api('POST', '/v1/keys', { owner: names.billing, name: 'other' }), 201) as { id: string; key: string };
    const clientBody = { scopes: ['read'], grantTypes: ['client_credentials', 'refresh_token'], policyOverrides: { refreshTokens: true, clientCredentialsRefresh: true } };
    const bobApp = ok(await server.api('POST', '/v1/clients', { name: `bob-app${i}`, owner: names.bob, ...clientBody }), 201) as { client_id: string; client_secret: string };
    const billingApp = ok(await server.api('POST', '/v1/clients', { name: `billing-app${i}`, owner: names.billing, ...clientBody }, bobAdmin.key), 201) as { client_id: string; client_secret: string };
    const tokens = ok(await token(server, { grant_type: 'client_credentials', scope: 'read' }, { id: bobApp.client_id, secret: bobApp.client_secret })) as { access_token: string; refresh_token: string };
    return { names, bobAdmin, bobCli, seen, unseen, bobApp: { id: bobApp.client_id, secret: bobApp.client_secret }, billingApp: { id: billingApp.client_id, secret: billingApp.client_secret }, tokens };
  }

  it('the dry run changes nothing and its plan is exactly what the real run does; what they held stops, what they saw is rotated', async () => {
    const p = await person();
    const before = await eventCount();
    const dry = ok(await server.api('POST', `/v1/principals/${p.names.bob}/offboard`, { dryRun: true, transferTo: p.names.platform })) as Report;
    expect(dry).toMatchObject({ id: null, dryRun: true, status: 'planned' });
    expect(dry.counts).toEqual({ revoke_key: 2, revoke_grant: 1, transfer_client: 1, rotate_key: 1, rotate_client_secret: 1 });
    // Nothing changed: no event, the person and their keys still work.
    expect(await eventCount()).toBe(before);
    expect((await verify(p.bobCli.key)).valid).toBe(true);
    expect(ok(await server.api('GET', `/v1/principals/${p.names.bob}`)).status).toBe('active');

    const real = ok(await server.api('POST', `/v1/principals/${p.names.bob}/offboard`, { transferTo: p.names.platform })) as Report;
    expect(real).toMatchObject({ dryRun: false, status: 'done', skipped: 0 });
    expect(real.steps.map((s) => [s.seq, s.action, s.target])).toEqual(dry.steps.map((s) => [s.seq, s.action, s.target]));
    expect(real.steps.every((s) => s.outcome === 'done')).toBe(true);
    expect(real.done).toBe(dry.steps.length);
    // GET answers the same record.
    expect(ok(await server.api('GET', `/v1/principals/${p.names.bob}/offboarding`))).toEqual(real);
    expect(ok(await server.api('GET', `/v1/principals/${p.names.bob}`)).status).toBe('offboarded');

    // What bob held: revoked.
    expect(await verify(p.bobCli.key)).toEqual({ valid: false, code: 'ERR_KEY_REVOKED' });
    expect((await verify(p.bobAdmin.key)).valid).toBe(false);
    expect((await token(server, { grant_type: 'refresh_token', refresh_token: p.tokens.refresh_token }, p.bobApp)).status).not.toBe(200);
    const at = await server.kt.store.get<{ status: string }>("SELECT status FROM oauth_access_tokens WHERE grant_id IS NOT NULL AND client_id = ?", [p.bobApp.id]);
    expect(at?.status).toBe('revoked');
    // His client: handed over to platform; its secret (the bootstrap admin created it, he never saw it) keeps working.
    expect(ok(await server.api('GET', `/v1/clients/${p.bobApp.id}`)).principal).toBe((ok(await server.api('GET', `/v1/principals/${p.names.platform}`)) as { id: string }).id);

    // What bob saw: rotated with the policy's grace. Both keys work through it.
    const rotated = real.steps.find((s) => s.action === 'rotate_key')!;
    expect(rotated.target).toBe(p.seen.id);
    const successorId = rotated.detail!.successor!;
    const old = ok(await server.api('GET', `/v1/keys/${p.seen.id}`)) as { status: string; graceEndsAt: string };
    expect(old.status).toBe('rotating');
    expect(Date.parse(old.graceEndsAt) - ctx.now().getTime()).toBe(86_400_000); // the default policy's key rotation grace (one day)
    expect((await verify(p.seen.key)).valid).toBe(true);
    // The holder cannot collect it with the old key: bob may have copied that key.
    const self = await server.api('POST', '/v1/keys/self/rotate', {}, p.seen.key);
    expect(self.body.code).toBe('ERR_KEY_STATE');
    expect(self.body.error_description).toContain(successorId);
    // An administrator collects it, once.
    const revealed = ok(await server.api('POST', `/v1/keys/${successorId}/reveal-successor`, {})) as { id: string; key: string };
    expect(revealed.id).toBe(successorId);
    expect((await verify(revealed.key)).valid).toBe(true);
    expect((await server.api('POST', `/v1/keys/${successorId}/reveal-successor`, {})).body.code).toBe('ERR_KEY_STATE');
    // Not seen by bob: untouched.
    expect(ok(await server.api('GET', `/v1/keys/${p.unseen.id}`)).status).toBe('active');

    // The client secret he saw (he created billing's client; his own was created by the bootstrap admin).
    const secretSteps = real.steps.filter((s) => s.action === 'rotate_client_secret').map((s) => s.target);
    expect(secretSteps).toEqual([p.billingApp.id]);
    expect((await token(server, { grant_type: 'client_credentials', scope: 'read' }, p.billingApp)).status).toBe(200); // old secret: in its grace
    const newSecret = (ok(await server.api('POST', `/v1/clients/${p.billingApp.id}/reveal-secret`, {})) as { clientSecret: string }).clientSecret;
    expect(newSecret).not.toBe(p.billingApp.secret);
    expect((await token(server, { grant_type: 'client_credentials', scope: 'read' }, { id: p.billingApp.id, secret: newSecret })).status).toBe(200);
    expect((await server.api('POST', `/v1/clients/${p.billingApp.id}/reveal-secret`, {})).body.code).toBe('ERR_CREDENTIAL_STATE');

    // Recorded: one start, one end, one event per step (reason offboarding).
    const events = async (type: string, target?: string) =>
      ((await server.api('GET', `/v1/events?type=${type}${target ? `&target=${target}` : ''}&limit=1000`)).body.items as { target: string; reason: string | null }[]);
    const bobId = real.steps.length > 0 ? (ok(await server.api('GET', `/v1/principals/${p.names.bob}`)) as { id: string }).id : '';
    expect(await events('principal.offboarding_started', bobId)).toHaveLength(1);
    expect(await events('principal.offboarded', bobId)).toHaveLength(1);
    expect((await events('key.rotated', p.seen.id)).map((e) => e.reason)).toEqual(['offboarding']);
    expect((await events('key.revoked', p.bobCli.id)).map((e) => e.reason)).toEqual(['offboarding']);
    expect((await events('client.transferred', p.bobApp.id)).map((e) => e.reason)).toEqual(['offboarding']);

    // Offboarding twice: a clear error, nothing changes.
    const count = await eventCount();
    const again = await server.api('POST', `/v1/principals/${p.names.bob}/offboard`, {});
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('ERR_CREDENTIAL_STATE');
    expect(again.body.error_description).toBe('an offboarded principal cannot be offboarded');
    expect((await server.api('POST', `/v1/principals/${p.names.bob}/offboard`, { dryRun: true })).body.code).toBe('ERR_CREDENTIAL_STATE');
    expect((await server.api('POST', `/v1/principals/${p.names.bob}/enable`, {})).body.code).toBe('ERR_CREDENTIAL_STATE');
    expect(await eventCount()).toBe(count);
  });

  it('without --transfer-to, the clients they own are disabled (and their secrets not rotated: nobody uses them)', async () => {
    const p = await person();
    const report = ok(await server.api('POST', `/v1/principals/${p.names.bob}/offboard`, {})) as Report;
    expect(report.counts).toEqual({ revoke_key: 2, revoke_grant: 1, disable_client: 1, rotate_key: 1, rotate_client_secret: 1 });
    expect(ok(await server.api('GET', `/v1/clients/${p.bobApp.id}`)).status).toBe('disabled');
    expect((await token(server, { grant_type: 'client_credentials', scope: 'read' }, p.bobApp)).status).toBe(401);
  });

  for (const handover of [true, false]) {
    it(`every refresh-token family of a client they own is revoked, whoever it was issued for, ${handover ? 'before the handover' : 'when the client is disabled'}; the dry run lists each; a client whose secret they only saw keeps its families`, async () => {
      const p = await person();
      const store = server.kt.store;
      const second = ok(await token(server, { grant_type: 'client_credentials', scope: 'read' }, p.bobApp)) as { refresh_token: string };
      // A family bob's client holds for another principal (no grant type mints one today; written as an older owner's would be).
      const foreign = ok(await token(server, { grant_type: 'client_credentials', scope: 'read' }, p.bobApp)) as { refresh_token: string };
      const platformId = (ok(await server.api('GET', `/v1/principals/${p.names.platform}`)) as { id: string }).id;
      const families = await store.all<{ id: string }>("SELECT id FROM oauth_grants WHERE client_id = ? AND status = 'active' ORDER BY id", [p.bobApp.id]);
      expect(families).toHaveLength(3);
      await store.run('UPDATE oauth_grants SET principal_id = ? WHERE id = ?', [platformId, families[2]!.id]);
      // billing's client, whose secret bob created: its family (billing's) is not his to lose.
      const billingFamily = ok(await token(server, { grant_type: 'client_credentials', scope: 'read' }, p.billingApp)) as { refresh_token: string };

      const input = handover ? { transferTo: p.names.platform } : {};
      const dry = ok(await server.api('POST', `/v1/principals/${p.names.bob}/offboard`, { ...input, dryRun: true })) as Report;
      expect(dry.steps.filter((s) => s.action === 'revoke_grant').map((s) => s.target)).toEqual(families.map((f) => f.id));
      const real = ok(await server.api('POST', `/v1/principals/${p.names.bob}/offboard`, input)) as Report;
      expect(real.steps.map((s) => [s.seq, s.action, s.target])).toEqual(dry.steps.map((s) => [s.seq, s.action, s.target]));
      expect(real.steps.every((s) => s.outcome === 'done')).toBe(true);

      // No family of bob's client still works, each revoked once with its event, before the client changed hands (or was disabled).
      expect(await store.all("SELECT id FROM oauth_grants WHERE client_id = ? AND status = 'active'", [p.bobApp.id])).toEqual([]);
      const revoked = await store.all<{ target: string; reason: string; seq: number | string }>("SELECT target, reason, seq FROM events WHERE type = 'grant.revoked' AND target IN (?, ?, ?) ORDER BY seq", families.map((f) => f.id));
      expect(revoked.map((e) => [e.target, e.reason]).sort()).toEqual(families.map((f) => [f.id, 'offboarding']).sort());
      const moved = await store.get<{ seq: number | string }>('SELECT seq FROM events WHERE type = ? AND target = ?', [handover ? 'client.transferred' : 'client.disabled', p.bobApp.id]);
      expect(revoked.every((e) => Number(e.seq) < Number(moved!.seq))).toBe(true);

      // The client's new owner gets no session bob could have copied (invalid_grant). A disabled client enabled again
      // still authenticates for nobody (its principal is offboarded: 401), and its families stay revoked in the store.
      if (!handover) ok(await server.api('POST', `/v1/clients/${p.bobApp.id}/enable`, {}));
      for (const refresh of [p.tokens.refresh_token, second.refresh_token, foreign.refresh_token]) {
        const refused = await token(server, { grant_type: 'refresh_token', refresh_token: refresh }, p.bobApp);
        expect(refused.status).toBe(handover ? 400 : 401);
        expect(refused.body.error).toBe(handover ? 'invalid_grant' : 'invalid_client');
      }
      // billing's family works on, with billing's new secret (the old one, bob's copy, is rotated with its grace).
      const newSecret = (ok(await server.api('POST', `/v1/clients/${p.billingApp.id}/reveal-secret`, {})) as { clientSecret: string }).clientSecret;
      expect((await token(server, { grant_type: 'refresh_token', refresh_token: billingFamily.refresh_token }, { id: p.billingApp.id, secret: newSecret })).status).toBe(200);
    });
  }

  it('bad input: a clear error with a stable code, and nothing changes', async () => {
    const p = await person();
    ok(await server.api('POST', '/v1/principals', { kind: 'user', name: `gone${n}` }), 201);
    ok(await server.api('POST', `/v1/principals/gone${n}/offboard`, {}));
    ok(await server.api('POST', '/v1/principals', { kind: 'service', name: `off${n}` }), 201);
    ok(await server.api('POST', `/v1/principals/off${n}/disable`, {}));
    const offboardings = async () => Number((await server.kt.store.get<{ n: number }>('SELECT COUNT(*) AS n FROM offboardings'))!.n);
    const before = { events: await eventCount(), offboardings: await offboardings() };
    const cases: [string, unknown, number, string][] = [
      ['nobody-here', {}, 404, 'ERR_NOT_FOUND'],
      [p.names.bob, { transferTo: 'nobody-here' }, 404, 'ERR_NOT_FOUND'],
      [p.names.bob, { transferTo: `gone${n}` }, 409, 'ERR_PRINCIPAL_INACTIVE'],
      [p.names.bob, { transferTo: `off${n}` }, 409, 'ERR_PRINCIPAL_INACTIVE'],
      [p.names.bob, { transferTo: p.names.bob }, 400, 'ERR_VALIDATION'],
      [p.names.bob, { dryRun: 'yes' }, 400, 'ERR_VALIDATION'],
      [p.names.bob, { force: true }, 400, 'ERR_VALIDATION'],
    ];
    for (const [who, body, status, code] of cases) {
      for (const dryRun of [false, true]) {
        const b = dryRun && typeof body === 'object' && body !== null && !('dryRun' in body) ? { ...body, dryRun: true } : body;
        const res = await server.api('POST', `/v1/principals/${who}/offboard`, b);
        expect(res.body.code, `${who} ${JSON.stringify(b)}`).toBe(code);
        expect(res.status, `${who} ${JSON.stringify(b)}`).toBe(status);
      }
    }
    // Only an administrator offboards or collects sealed secrets; no credential at all is 401.
    for (const [method, path] of [
      ['POST', `/v1/principals/${p.names.bob}/offboard`],
      ['GET', `/v1/principals/${p.names.bob}/offboarding`],
      ['POST', `/v1/keys/${p.seen.id}/reveal-successor`],
      ['POST', `/v1/clients/${p.billingApp.id}/reveal-secret`],
    ] as const) {
      expect((await server.api(method, path, method === 'POST' ? {} : undefined, p.bobCli.key)).status, path).toBe(403);
      expect((await server.api(method, path, method === 'POST' ? {} : undefined, null)).status, path).toBe(401);
    }
    expect({ events: await eventCount(), offboardings: await offboardings() }).toEqual(before);
    expect(ok(await server.api('GET', `/v1/principals/${p.names.bob}`)).status).toBe('active');
    expect((await verify(p.bobCli.key)).valid).toBe(true);
    expect((await server.api('GET', `/v1/principals/${p.names.bob}/offboarding`)).body.code).toBe('ERR_NOT_FOUND');
  });

  it('two nodes running the same offboarding at once do every step exactly once', async () => {
    const p = await person();
    const bob = ok(await server.api('GET', `/v1/principals/${p.names.bob}`)) as { id: string };
    const meta: RequestMeta = { actor: bob.id, actorKind: 'user', sourceIp: null, requestId: null };
    // 300 more keys of billing that bob created: three batches of work for two nodes.
    const billing = await server.kt.principals.get(p.names.billing);
    await server.kt.store.transaction(async (tx) => {
      for (let i = 0; i < 300; i++) await server.kt.keys.createIn(tx, { owner: billing.id, name: `seen-${i}`, scopes: [] }, meta);
    });
    const other = await openKeyturn(server.kt.config, { ctx });
    try {
      const started = await server.kt.offboarding.offboard(p.names.bob, {}, meta, { run: false });
      expect(started.status).toBe('running');
      const [a, b] = await Promise.all([server.kt.offboarding.run(started.id!), other.offboarding.run(started.id!)]);
      expect(a.status).toBe('done');
      expect(b.status).toBe('done');
      expect(a.steps.every((s) => s.outcome === 'done')).toBe(true);
      const rotatedTargets = a.steps.filter((s) => s.action === 'rotate_key').map((s) => s.target);
      expect(rotatedTargets).toHaveLength(301);
      const successors = await server.kt.store.all<{ predecessor_id: string; n: number }>(
        `SELECT predecessor_id, COUNT(*) AS n FROM api_keys WHERE predecessor_id IN (${rotatedTargets.map(() => '?').join(', ')}) GROUP BY predecessor_id`,
        rotatedTargets,
      );
      expect(successors).toHaveLength(301);
      expect(successors.every((s) => Number(s.n) === 1)).toBe(true);
      const rotatedEvents = await server.kt.store.get<{ n: number }>(
        `SELECT COUNT(*) AS n FROM events WHERE type = 'key.rotated' AND reason = 'offboarding' AND target IN (${rotatedTargets.map(() => '?').join(', ')})`,
        rotatedTargets,
      );
      expect(Number(rotatedEvents!.n)).toBe(301);
      expect(Number((await server.kt.store.get<{ n: number }>("SELECT COUNT(*) AS n FROM events WHERE type = 'principal.offboarded' AND target = ?", [bob.id]))!.n)).toBe(1);
    } finally {
      await other.close();
    }
  });
});
