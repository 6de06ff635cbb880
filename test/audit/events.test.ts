import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EVENT_CATALOG, type EventType } from '../../src/audit/catalog.js';
import { appendEvent, EVENT_TYPES, SYSTEM, type AuditEvent } from '../../src/audit/events.js';
import { manualContext, type Context } from '../../src/core/context.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import type { Store, Transaction } from '../../src/store/port.js';
import { startOAuthServer, TOKEN_EXCHANGE, TT_API_KEY, type OAuthServer } from '../oauth/support.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';

/**
 * Type-level checks: never called, only compiled (`npm test` typechecks test/). Each
 * `@ts-expect-error` fails the build if the line below it compiles, i.e. if the event
 * declarations stopped catching that mistake.
 */
export function appendEventIsTypeChecked(tx: Transaction, ctx: Context): void {
  const data = { principal: 'prn_1', name: 'ci', scopes: ['read'], expiresAt: null };
  void appendEvent(tx, ctx, { type: 'key.created', target: 'key_1', outcome: 'success', data }, SYSTEM);
  // Data-less types may leave `data` out, or give it empty.
  void appendEvent(tx, ctx, { type: 'client.auth_failed', target: null, outcome: 'failure', reason: 'bad secret' }, SYSTEM);
  void appendEvent(tx, ctx, { type: 'client.enabled', target: 'ktc_1', outcome: 'success', data: {} }, SYSTEM);
  // Optional fields may be left out.
  void appendEvent(tx, ctx, { type: 'key.verify_failed', target: null, outcome: 'failure', data: {} }, SYSTEM);
  // A union of types with the same data is fine.
  const enabled = Math.random() > 0.5;
  void appendEvent(tx, ctx, { type: enabled ? 'principal.enabled' : 'principal.disabled', target: 'prn_1', outcome: 'success', data: { previous: 'active' } }, SYSTEM);

  // @ts-expect-error an undeclared field
  void appendEvent(tx, ctx, { type: 'key.created', target: 'key_1', outcome: 'success', data: { ...data, secret: 'kt_live_x' } }, SYSTEM);
  // @ts-expect-error a missing required field
  void appendEvent(tx, ctx, { type: 'key.created', target: 'key_1', outcome: 'success', data: { principal: 'prn_1', name: 'ci', scopes: [] } }, SYSTEM);
  // @ts-expect-error data missing where the type has required fields
  void appendEvent(tx, ctx, { type: 'key.created', target: 'key_1', outcome: 'success' }, SYSTEM);
  // @ts-expect-error a field of the wrong type
  void appendEvent(tx, ctx, { type: 'key.created', target: 'key_1', outcome: 'success', data: { ...data, expiresAt: 42 } }, SYSTEM);
  // @ts-expect-error a value outside a declared enum
  void appendEvent(tx, ctx, { type: 'key.revoked', target: 'key_1', outcome: 'success', data: { previous: 'expired' } }, SYSTEM);
  // @ts-expect-error an outcome the type is not recorded with
  void appendEvent(tx, ctx, { type: 'key.verify_failed', target: null, outcome: 'success', data: {} }, SYSTEM);
  // @ts-expect-error an undeclared event type
  void appendEvent(tx, ctx, { type: 'key.exploded', target: null, outcome: 'success' }, SYSTEM);
  // @ts-expect-error data of another type
  void appendEvent(tx, ctx, { type: 'client.deleted', target: 'ktc_1', outcome: 'success', data: { previous: 'active' } }, SYSTEM);
}

describe('the event catalog', () => {
  it('declares every event type once, in EVENT_TYPES order, each with a strict data schema', () => {
    expect(EVENT_TYPES).toEqual(Object.keys(EVENT_CATALOG));
    expect(new Set(EVENT_TYPES).size).toBe(EVENT_TYPES.length);
    for (const type of EVENT_TYPES) {
      const spec = EVENT_CATALOG[type];
      expect(spec.description, type).toMatch(/\.$/);
      expect(spec.outcomes.length, type).toBeGreaterThan(0);
      // Strict: a field nobody declared is refused.
      expect(spec.data.safeParse({ undeclared: 1 }).success, type).toBe(false);
    }
  });
});

describeStore('appendEvent', (kind) => {
  let handle: StoreHandle;
  let store: Store;
  beforeEach(async () => {
    handle = await freshStore(kind);
    store = handle.store;
    await store.migrate(MIGRATIONS);
  });
  afterEach(async () => {
    await handle.dispose();
  });

  it('stores data exactly as given: same fields, same order, same JSON', async () => {
    const ctx = manualContext(new Date('2030-01-01T00:00:00Z'));
    const data = { principal: 'prn_1', name: 'ci', scopes: ['write', 'read'], expiresAt: null };
    await store.transaction((tx) => appendEvent(tx, ctx, { type: 'key.created', target: 'key_1', outcome: 'success', data }, SYSTEM));
    await store.transaction((tx) => appendEvent(tx, ctx, { type: 'client.auth_failed', target: null, outcome: 'failure', reason: 'no' }, SYSTEM));
    const stored = await store.all<{ type: string; data: string }>('SELECT type, data FROM events ORDER BY seq');
    expect(stored).toEqual([
      { type: 'key.created', data: JSON.stringify(data) },
      { type: 'client.auth_failed', data: '{}' },
    ]);
  });
});

/**
 * Every event a real server records in a run through its API parses with its type's declared
 * schema (strictly) and has a declared outcome: the declarations describe what is stored.
 */
describe('recorded events match their declarations', () => {
  let kt: OAuthServer;
  let dir: string;
  beforeAll(async () => {
    kt = await startOAuthServer();
    dir = mkdtempSync(join(tmpdir(), 'keyturn-events-'));
    writeFileSync(join(dir, 'clean.txt'), 'nothing to see\n');
  });
  afterAll(async () => {
    await kt.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a run through keys, principals, clients, tokens, signing keys and leaks', async () => {
    const ok = (res: { status: number; body?: unknown }, status = 200) => expect(res.status, JSON.stringify(res.body)).toBe(status);
    ok(await kt.api('POST', '/v1/principals', { kind: 'user', name: 'alice' }), 201);
    const key = (await kt.api('POST', '/v1/keys', { owner: 'alice', name: 'k1', scopes: ['read'], expiresIn: '1h' })).body as { id: string; key: string };
    ok(await kt.api('POST', `/v1/keys/${key.id}/suspend`, {}));
    ok(await kt.api('POST', `/v1/keys/${key.id}/unsuspend`, {}));
    ok(await kt.api('POST', `/v1/keys/${key.id}/revoke`, { reason: 'done' }));
    ok(await kt.api('POST', '/v1/keys/verify', { key: key.key }, null));
    ok(await kt.api('POST', '/v1/keys/verify', { key: 'not-a-key' }, null));
    ok(await kt.api('GET', '/v1/keys', undefined, key.key), 401);
    ok(await kt.api('POST', '/v1/principals/alice/disable', {}));
    ok(await kt.api('POST', '/v1/principals/alice/enable', {}));
    ok(await kt.api('POST', '/v1/audit/sinks', { kind: 'file', name: 'catalog', file: 'catalog.jsonl', from: 'now' }), 201);
    ok(await kt.api('PATCH', '/v1/audit/sinks/catalog', { batchSize: 10 }));
    ok(await kt.api('DELETE', '/v1/audit/sinks/catalog'));

    const client = await kt.createClient({
      name: 'app',
      scopes: ['read'],
      grantTypes: ['client_credentials', 'refresh_token', TOKEN_EXCHANGE],
      policyOverrides: { clientCredentialsRefresh: true },
    });
    ok(await kt.api('PATCH', `/v1/clients/${client.id}`, { scopes: ['read'] }));
    ok(await kt.api('POST', `/v1/clients/${client.id}/disable`, {}));
    ok(await kt.api('POST', `/v1/clients/${client.id}/enable`, {}));
    const rotation = await kt.api('POST', `/v1/clients/${client.id}/rotate-secret`, { graceSeconds: 0 });
    ok(rotation);
    const rotated = rotation.body as { client_secret: string };
    const as = [client.id, rotated.client_secret] as const;
    const issued = await kt.form('/oauth/token', { grant_type: 'client_credentials', scope: 'read' }, { basic: as });
    ok(issued);
    const refreshed = await kt.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: issued.body.refresh_token }, { basic: as });
    ok(refreshed);
    ok(await kt.form('/oauth/token', { grant_type: 'client_credentials' }, { basic: [client.id, 'wrong'] }), 401);
    ok(await kt.form('/oauth/token', { grant_type: 'password' }, { basic: as }), 400);
    // A DPoP proof that is not one (binding.dpop_failed).
    ok(await kt.form('/oauth/token', { grant_type: 'client_credentials' }, { basic: as, headers: { dpop: 'not.a.proof' } }), 400);
    const subject = (await kt.api('POST', '/v1/keys', { owner: 'alice', name: 'k2', scopes: ['read'] })).body as { key: string };
    ok(await kt.form('/oauth/token', { grant_type: TOKEN_EXCHANGE, subject_token: subject.key, subject_token_type: TT_API_KEY, audience: client.view.audiences ? (client.view.audiences as string[])[0]! : '' }, { basic: as }));
    ok(await kt.form('/oauth/introspect', { token: 'kta_unknown' }, { basic: as }));
    ok(await kt.form('/oauth/revoke', { token: refreshed.body.access_token }, { basic: as }));
    ok(await kt.form('/oauth/revoke', { token: refreshed.body.refresh_token }, { basic: as }));
    kt.ctx.advance(60_000); // past the reuse grace: presenting the first refresh token again is reuse
    const second = await kt.form('/oauth/token', { grant_type: 'client_credentials', scope: 'read' }, { basic: as });
    const third = await kt.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: second.body.refresh_token }, { basic: as });
    ok(third);
    kt.ctx.advance(60_000);
    ok(await kt.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: second.body.refresh_token }, { basic: as }), 400);
    // Uses of client secrets and refresh families, written as `credential.used` when the interval closes.
    await kt.kt.audit.usage!.flush();
    const grants = (await kt.api('GET', `/v1/clients/${client.id}/grants`)).body as { items: { id: string; status: string }[] };
    const live = grants.items.find((g) => g.status === 'active');
    if (live) ok(await kt.api('POST', `/v1/grants/${live.id}/revoke`, {}));
    ok(await kt.api('POST', '/v1/signing-keys/rotate', {}));

    const leaked = (await kt.api('POST', '/v1/keys', { owner: 'alice', name: 'k3' })).body as { id: string; key: string };
    const { secretDigest } = await import('../../src/core/secret.js');
    ok(await kt.api('POST', '/v1/leaks/findings', [{ fingerprint: secretDigest(leaked.key), kind: 'keyturn', rule: 'keyturn-secret', file: 'app/.env', line: 3, column: 13 }]));
    ok(await kt.api('POST', `/v1/keys/${leaked.id}/unsuspend`, { ackLeak: true })); // leak.acknowledged
    kt.ctx.advance(1_000);
    const leakedSecret = await kt.api('POST', `/v1/clients/${client.id}/rotate-secret`, { graceSeconds: 0 });
    // a leaked current client secret in suspend mode disables the client; its previous secret (in grace) is revoked
    const graced = await kt.api('POST', `/v1/clients/${client.id}/rotate-secret`, { graceSeconds: 600 });
    ok(graced);
    ok(await kt.api('POST', '/v1/leaks/findings', [{ fingerprint: secretDigest((leakedSecret.body as { client_secret: string }).client_secret), kind: 'keyturn', rule: 'keyturn-secret', file: 'b', line: 1, column: 1 }]));
    const watch = (await kt.api('POST', '/v1/leaks/watches', { source: dir, every: '1h' })).body as { id: string };
    ok(await kt.api('POST', `/v1/leaks/watches/${watch.id}/run`, {}));
    ok(await kt.api('DELETE', `/v1/leaks/watches/${watch.id}`), 204);
    ok(await kt.api('DELETE', `/v1/clients/${client.id}`), 204);
    // `keyturn admin recover`, beside the running server.
    const { recoverAdmin } = await import('../../src/runtime/recover.js');
    await recoverAdmin(kt.kt.config, { file: join(dir, 'recovered.key') });

    // Rotation: policies, a principal's policy, rotations by an admin, the schedule and the holder.
    ok(await kt.api('POST', '/v1/policies', { name: 'short', from: 'banking' }), 201);
    ok(await kt.api('PATCH', '/v1/policies/short', { keyRotationGrace: 1800 }));
    ok(await kt.api('PUT', '/v1/principals/alice/policy', { policy: 'short' }));
    const byAdmin = (await kt.api('POST', '/v1/keys', { owner: 'alice', name: 'r1' })).body as { id: string };
    ok(await kt.api('POST', `/v1/keys/${byAdmin.id}/rotate`, { graceSeconds: 60 }));
    const scheduled = (await kt.api('POST', '/v1/keys', { owner: 'alice', name: 'r2' })).body as { key: string };
    ok(await kt.api('PATCH', '/v1/policies/short', { deadline: 'soft' }));
    const soft = (await kt.api('POST', '/v1/keys', { owner: 'alice', name: 'r3' })).body as { id: string };
    const hardClient = (await kt.api('POST', '/v1/clients', { name: 'sched-hard', policy: 'banking' })).body as { client_id: string; client_secret: string };
    ok(await kt.api('POST', '/v1/clients', { name: 'sched-soft', policy: 'short' }), 201);
    kt.ctx.advance(86_400_000 + 1000);
    await kt.kt.jobs.runner.runNow('rotation.schedule'); // rotates r2 and r3 (due), retires r1's predecessor; rotates both clients' secrets
    ok(await kt.api('POST', '/v1/keys/self/rotate', {}, scheduled.key)); // picks r2's successor up
    const pickup = await fetch(`${kt.url}/v1/clients/self/rotate-secret`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${hardClient.client_id}:${hardClient.client_secret}`).toString('base64')}` },
    });
    expect(pickup.status).toBe(200); // client.secret_picked_up
    kt.ctx.advance(7 * 86_400_000);
    await kt.kt.jobs.runner.runNow('rotation.schedule'); // r3's successor passes its soft deadline; the hard client's previous secret retires, the soft one's is reported
    expect(soft.id).toMatch(/^key_/);

    // Webhook endpoints: added (secret once), its secret rotated, removed.
    const hook = (await kt.api('POST', '/v1/webhooks', { url: 'http://127.0.0.1:9/hook', owner: 'alice', events: ['key.rotated'] })).body as { id: string };
    ok(await kt.api('POST', `/v1/webhooks/${hook.id}/rotate-secret`, {}));
    ok(await kt.api('DELETE', `/v1/webhooks/${hook.id}`));
    // Leak successor and offboarding: bob (a person with an admin key) creates a key and a client, then leaves.
    const leakSuccessor = (await kt.api('GET', `/v1/events?type=key.successor_issued&target=${leaked.id}`)).body.items[0].data.successor as string;
    ok(await kt.api('POST', `/v1/keys/${leakSuccessor}/reveal-successor`, {}));
    ok(await kt.api('POST', '/v1/principals', { kind: 'user', name: 'bob' }), 201);
    ok(await kt.api('POST', '/v1/principals', { kind: 'service', name: 'platform' }), 201);
    const bobAdmin = (await kt.api('POST', '/v1/keys', { owner: 'bob', name: 'admin', scopes: ['admin'] })).body as { key: string };
    ok(await kt.api('POST', '/v1/keys', { owner: 'platform', name: 'seen-by-bob' }, bobAdmin.key), 201);
    const bobApp = (await kt.api('POST', '/v1/clients', { name: 'bob-app', owner: 'bob' }, bobAdmin.key)).body as { client_id: string };
    ok(await kt.api('POST', '/v1/principals/bob/offboard', { transferTo: 'platform' }));
    ok(await kt.api('POST', `/v1/clients/${bobApp.client_id}/reveal-secret`, {}));

    const events: AuditEvent[] = [];
    for (let after = 0; ; ) {
      const page = (await kt.api('GET', `/v1/events?after=${after}&limit=1000`)).body as { items: AuditEvent[]; next: number | null };
      events.push(...page.items);
      if (page.next === null) break;
      after = page.next;
    }
    for (const e of events) {
      const spec = EVENT_CATALOG[e.type];
      expect(spec, e.type).toBeDefined();
      expect(spec.outcomes, `${e.type} outcome`).toContain(e.outcome);
      const parsed = spec.data.safeParse(e.data);
      expect(parsed.success, `${e.type}: ${JSON.stringify(e.data)} ${parsed.error?.message ?? ''}`).toBe(true);
    }
    // Types this run does not reach (they are still type-checked at their call sites).
    // `audit.failures_summarized` is written when a failure window closes (test/audit/flood.security.test.ts).
    // `webhook.delivery_failed` and `webhook.delivery_replayed` need a receiver that fails and recovers (test/rotation/webhooks.e2e.test.ts checks them against the catalog).
    // The TLS binding events need real TLS connections and a proxy: test/binding/tls.e2e.test.ts records and reads them.
    // `audit.sink_down` / `audit.sink_recovered` need a sink that fails (test/audit/sinks.test.ts);
    // `key.used` is written when a usage interval ends and `detection.finding` by the detection
    // engine, each on its own schedule (test/audit/usage.test.ts, test/audit/detections.test.ts).
    const notReached: EventType[] = [
      'server.bootstrapped',
      'leak.notified',
      'leak.report_rejected',
      'audit.failures_summarized',
      'webhook.delivery_failed',
      'webhook.delivery_replayed',
      // Need a receiver that goes down and comes back (test/rotation/webhook-health.test.ts, test/rotation/webhooks.e2e.test.ts check them against the catalog).
      'webhook.endpoint_down',
      'webhook.endpoint_recovered',
      'binding.tls_failed',
      'binding.client_cert_header_ignored',
      'audit.sink_down',
      'audit.sink_recovered',
      'key.used',
      'detection.finding',
      // Told only ahead of a rotation or an end still to come, on the scheduler's clock: test/rotation/webhooks.e2e.test.ts.
      'key.rotation_due',
      'key.expiring',
      // The same for client secrets: test/rotation/client-notices.test.ts.
      'client.secret_rotation_due',
      'client.secret_expiring',
    ];
    const seen = new Set(events.map((e) => e.type));
    expect(EVENT_TYPES.filter((t) => !seen.has(t) && !notReached.includes(t))).toEqual([]);
  });
});
