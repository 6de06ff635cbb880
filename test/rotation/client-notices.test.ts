import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { EVENT_CATALOG } from '../../src/audit/catalog.js';
import { manualContext, type ManualContext } from '../../src/core/context.js';
import { Outbox } from '../../src/jobs/index.js';
import { ClientService } from '../../src/oauth/index.js';
import { PrincipalService } from '../../src/principals/index.js';
import { PolicyService, rotateAllDue, WebhookService } from '../../src/rotation/index.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import { KeyEncryption } from '../../src/signing/kek.js';
import type { Store } from '../../src/store/port.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';
import { admin, eventsOf } from './support.js';

const DAY = 86_400_000;

/** One node as the runtime wires it: client notices fan out to the owners' webhooks through one hook. */
async function noticeNode(store: Store, ctx: ManualContext, masterKey: Uint8Array) {
  const policies = new PolicyService({ store, ctx });
  await policies.load();
  await (store as unknown as { feedReady?: () => Promise<void> }).feedReady?.();
  const sealer = new KeyEncryption(masterKey, ctx);
  const principals = new PrincipalService(store, ctx, { policies });
  const outbox = new Outbox({ store, ctx, nodeId: 'test' });
  const webhooks = new WebhookService({ store, ctx, outbox, sealer, principals });
  const clients = new ClientService({
    store,
    ctx,
    principals,
    secretPrefix: 'ktcs',
    defaultAudience: () => 'https://issuer.test',
    policies,
    sealer,
    onEvent: (tx, event) => webhooks.fanOut(tx, { type: event.type, principal: event.client.principal, subject: event.client.id, data: { client: event.client, ...event.data } }),
  });
  return { principals, webhooks, clients, outbox, close: () => (clients.close(), policies.close()) };
}

type Body = { type: string; data: { subject: string; principal: string; client: { id: string; name: string }; dueAt?: string; at?: string; enforced?: string; passed?: boolean } };

describeStore('client secret notices to owners (client.secret_rotation_due, client.secret_expiring)', (kind) => {
  let handle: StoreHandle;
  let ctx: ManualContext;
  const masterKey = randomBytes(32);
  let node: Awaited<ReturnType<typeof noticeNode>>;
  let bankId: string;

  beforeEach(async () => {
    handle = await freshStore(kind);
    await handle.store.migrate(MIGRATIONS);
    ctx = manualContext(new Date('2030-01-01T00:00:00Z'));
    node = await noticeNode(handle.store, ctx, masterKey);
    bankId = (await node.principals.create({ kind: 'service', name: 'bank' }, admin)).id;
    await node.principals.create({ kind: 'service', name: 'other' }, admin);
    await node.webhooks.add({ url: 'https://hooks.example.com/bank', owner: 'bank' }, admin);
  });
  afterEach(async () => {
    node.close();
    await handle.dispose();
  });

  const sent = async (): Promise<Body[]> => (await node.outbox.list({ limit: 1000 })).map((m) => JSON.parse((m.data as { body: string }).body) as Body);

  it('two nodes at once tell each client once per deadline; a secret due now is rotated, not told; its new dates are told once', async () => {
    // banking: rotation every day, maximum age 7 days, hard.
    const clients = await Promise.all([1, 2, 3, 4].map(async (n) => (await node.clients.create({ name: `pay${n}`, owner: 'bank', policy: 'banking' }, admin)).client.clientId));
    const otherOwner = (await node.clients.create({ name: 'theirs', owner: 'other', policy: 'banking' }, admin)).client.clientId;
    const noSecret = (await node.clients.create({ name: 'jwt', owner: 'bank', policy: 'banking', authMethod: 'private_key_jwt', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }] } }, admin)).client.clientId;
    const disabled = (await node.clients.create({ name: 'off', owner: 'bank', policy: 'banking' }, admin)).client.clientId;
    await node.clients.setStatus(disabled, 'disabled', admin);
    const other = await noticeNode(await handle.another(), ctx, masterKey);
    try {
      const runs = await Promise.all([rotateAllDue(node.clients, { batch: 2, noticeWindowMs: 8 * DAY }), rotateAllDue(other.clients, { batch: 2, noticeWindowMs: 8 * DAY })]);
      // 5 active clients with a secret (4 of bank, 1 of other), two notices each: told once whichever node won.
      expect(runs[0]!.noticed + runs[1]!.noticed).toBe(10);
      expect(runs[0]!.rotated + runs[1]!.rotated).toBe(0);
      const told = [...clients, otherOwner].sort();
      const due = await eventsOf(handle.store, 'client.secret_rotation_due');
      expect(due.map((e) => e.target).sort()).toEqual(told);
      expect(due.find((e) => e.target === clients[0])!.data).toEqual({ dueAt: '2030-01-02T00:00:00.000Z', endpoints: 1 });
      expect(due.find((e) => e.target === otherOwner)!.data).toEqual({ dueAt: '2030-01-02T00:00:00.000Z', endpoints: 0 });
      const expiring = await eventsOf(handle.store, 'client.secret_expiring');
      expect(expiring.map((e) => e.target).sort()).toEqual(told);
      expect(expiring.find((e) => e.target === clients[0])).toMatchObject({ reason: 'max_age', data: { at: '2030-01-08T00:00:00.000Z', enforced: 'hard', endpoints: 1 } });
      for (const e of [...due, ...expiring]) expect(EVENT_CATALOG[e.data.at ? 'client.secret_expiring' : 'client.secret_rotation_due'].data.safeParse(e.data).success).toBe(true);
      expect(due.concat(expiring).some((e) => e.target === noSecret || e.target === disabled)).toBe(false);

      // Only bank's endpoint asked: 8 deliveries, signed later by the outbox; the body names the client, never its secret.
      const bodies = await sent();
      expect(bodies).toHaveLength(8);
      expect(bodies.filter((b) => b.type === 'client.secret_rotation_due').map((b) => b.data.subject).sort()).toEqual([...clients].sort());
      const first = bodies.find((b) => b.type === 'client.secret_expiring' && b.data.subject === clients[0])!;
      expect(first.data).toEqual({ subject: clients[0], principal: bankId, client: { id: clients[0], name: 'pay1', principal: bankId, policy: 'banking' }, at: '2030-01-08T00:00:00.000Z', enforced: 'hard', passed: false, policy: 'banking' });

      // Again, from either node: nothing new.
      expect(await rotateAllDue(other.clients, { noticeWindowMs: 8 * DAY })).toMatchObject({ noticed: 0, rotated: 0 });

      // A day later the secrets are due: this run rotates them and tells nothing about them (their successors have their own dates).
      ctx.advance(DAY);
      const [a, b] = await Promise.all([rotateAllDue(node.clients, { noticeWindowMs: 8 * DAY }), rotateAllDue(other.clients, { noticeWindowMs: 8 * DAY })]);
      expect(a.rotated + b.rotated).toBe(5);
      expect(a.noticed + b.noticed).toBe(0);
      // The next run tells each new secret's due date and deadline once.
      const next = await Promise.all([rotateAllDue(node.clients, { noticeWindowMs: 8 * DAY }), rotateAllDue(other.clients, { noticeWindowMs: 8 * DAY })]);
      expect(next[0]!.noticed + next[1]!.noticed).toBe(10);
      const dueAgain = (await eventsOf(handle.store, 'client.secret_rotation_due')).filter((e) => e.target === clients[0]);
      expect(dueAgain.map((e) => e.data.dueAt)).toEqual(['2030-01-02T00:00:00.000Z', '2030-01-03T00:00:00.000Z']);
      expect(await rotateAllDue(node.clients, { noticeWindowMs: 8 * DAY })).toMatchObject({ noticed: 0 });
    } finally {
      other.close();
    }
  });

  it('a soft deadline is told as soft; nothing is told outside the window; a deadline already passed is told once, as passed', async () => {
    // public-read: rotation every 365 days, maximum age 730 days, soft.
    const id = (await node.clients.create({ name: 'public', owner: 'bank', policy: 'public-read' }, admin)).client.clientId;
    expect(await rotateAllDue(node.clients, { noticeWindowMs: 7 * DAY })).toMatchObject({ noticed: 0 });
    expect(await rotateAllDue(node.clients, { noticeWindowMs: 366 * DAY })).toMatchObject({ noticed: 1 });
    expect((await eventsOf(handle.store, 'client.secret_expiring')).length).toBe(0);
    expect(await rotateAllDue(node.clients, { noticeWindowMs: 731 * DAY })).toMatchObject({ noticed: 1 });
    expect(await eventsOf(handle.store, 'client.secret_expiring')).toEqual([{ target: id, reason: 'max_age', data: { at: '2032-01-01T00:00:00.000Z', enforced: 'soft', endpoints: 1 } }]);
    expect((await sent()).find((b) => b.type === 'client.secret_expiring')!.data).toMatchObject({ enforced: 'soft', passed: false });

    // A client with a maximum age and no scheduled rotation: its passed deadline is told (once), as passed.
    const late = (await node.clients.create({ name: 'late', owner: 'bank', policy: 'banking' }, admin)).client.clientId;
    await handle.store.run('UPDATE oauth_clients SET secret_rotate_at = NULL WHERE id = ?', [late]); // off the schedule (an administrator's choice, say)
    ctx.advance(8 * DAY);
    await rotateAllDue(node.clients, { noticeWindowMs: DAY });
    await rotateAllDue(node.clients, { noticeWindowMs: DAY });
    const told = (await sent()).filter((b) => b.type === 'client.secret_expiring' && b.data.subject === late);
    expect(told).toHaveLength(1);
    expect(told[0]!.data).toMatchObject({ at: '2030-01-08T00:00:00.000Z', enforced: 'hard', passed: true });
  });
});
