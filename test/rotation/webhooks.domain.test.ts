import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { manualContext, type ManualContext } from '../../src/core/context.js';
import { Outbox } from '../../src/jobs/index.js';
import { KeyService } from '../../src/keys/index.js';
import { PrincipalService } from '../../src/principals/index.js';
import { PolicyService, rotateAllDue, WebhookService } from '../../src/rotation/index.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import { KeyEncryption } from '../../src/signing/kek.js';
import type { Store } from '../../src/store/port.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';
import { admin, countRows, eventsOf } from './support.js';

const DAY = 86_400_000;

/** One node as the runtime wires it: keys fan their events out to webhooks through one hook. */
async function webhookNode(store: Store, ctx: ManualContext, masterKey: Uint8Array, failFanOut = () => false) {
  const policies = new PolicyService({ store, ctx });
  await policies.load();
  await (store as unknown as { feedReady?: () => Promise<void> }).feedReady?.();
  const sealer = new KeyEncryption(masterKey, ctx);
  const principals = new PrincipalService(store, ctx, { policies });
  const outbox = new Outbox({ store, ctx, nodeId: 'test' });
  const webhooks = new WebhookService({ store, ctx, outbox, sealer, principals });
  const keys = new KeyService({
    store,
    ctx,
    principals,
    prefix: 'kt_test',
    policies,
    sealer,
    onEvent: async (tx, event) => {
      const n = await webhooks.fanOut(tx, { type: event.type, principal: event.key.principal, subject: event.key.id, data: { ...event.data } });
      if (failFanOut()) throw new Error('fan-out failed');
      return n;
    },
  });
  return { policies, principals, keys, webhooks, outbox, close: () => (keys.close(), policies.close()) };
}

describeStore('webhook fan-out and notices', (kind) => {
  let handle: StoreHandle;
  let ctx: ManualContext;
  const masterKey = randomBytes(32);
  let node: Awaited<ReturnType<typeof webhookNode>>;
  let failing = false;

  beforeEach(async () => {
    handle = await freshStore(kind);
    await handle.store.migrate(MIGRATIONS);
    ctx = manualContext(new Date('2030-01-01T00:00:00Z'));
    failing = false;
    node = await webhookNode(handle.store, ctx, masterKey, () => failing);
    await node.principals.create({ kind: 'service', name: 'bank', policy: 'banking' }, admin); // rotation every day, deadline 7 d
    await node.principals.create({ kind: 'service', name: 'other' }, admin);
    await node.webhooks.add({ url: 'https://hooks.example.com/bank', owner: 'bank' }, admin);
  });
  afterEach(async () => {
    node.close();
    await handle.dispose();
  });

  it('two nodes running the scheduler at once tell each key rotation_due and expiring once, then rotate it once', async () => {
    const created = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => node.keys.create({ owner: 'bank', name: `k${n}` }, admin)));
    await node.keys.create({ owner: 'other', name: 'not-told' }, admin);
    const other = await webhookNode(await handle.another(), ctx, masterKey);
    try {
      // Notice window 8 days: the due date (1 d) and the deadline (7 d) are both within it.
      const runs = await Promise.all([rotateAllDue(node.keys, { batch: 2, noticeWindowMs: 8 * DAY }), rotateAllDue(other.keys, { batch: 2, noticeWindowMs: 8 * DAY })]);
      expect(runs[0]!.noticed + runs[1]!.noticed).toBe(12);
      expect(runs[0]!.rotated + runs[1]!.rotated).toBe(0);
      const ids = created.map((c) => c.key.id).sort();
      expect((await eventsOf(handle.store, 'key.rotation_due')).map((e) => e.target).sort()).toEqual(ids);
      expect((await eventsOf(handle.store, 'key.expiring')).map((e) => e.target).sort()).toEqual(ids);
      const messages = await node.outbox.list({ limit: 1000 });
      expect(messages).toHaveLength(12);
      const types = messages.map((m) => (JSON.parse((m.data as { body: string }).body) as { type: string; data: { subject: string } }));
      expect(types.filter((t) => t.type === 'key.rotation_due').map((t) => t.data.subject).sort()).toEqual(ids);
      // Again, from either node: nothing new.
      expect(await rotateAllDue(other.keys, { noticeWindowMs: 8 * DAY })).toMatchObject({ noticed: 0 });
      ctx.advance(DAY);
      const [a, b] = await Promise.all([rotateAllDue(node.keys, { noticeWindowMs: 8 * DAY }), rotateAllDue(other.keys, { noticeWindowMs: 8 * DAY })]);
      expect(a.rotated + b.rotated).toBe(6);
      // The successors are new keys with their own due dates: the next pass tells each once; key.rotated once per key.
      expect((await eventsOf(handle.store, 'key.rotation_due')).length).toBe(6);
      await Promise.all([rotateAllDue(node.keys, { noticeWindowMs: 8 * DAY }), rotateAllDue(other.keys, { noticeWindowMs: 8 * DAY })]);
      expect((await eventsOf(handle.store, 'key.rotation_due')).length).toBe(12);
      const rotated = (await node.outbox.list({ limit: 1000 })).map((m) => JSON.parse((m.data as { body: string }).body) as { type: string; data: { subject: string } }).filter((t) => t.type === 'key.rotated');
      expect(rotated.map((t) => t.data.subject).sort()).toEqual(ids);
    } finally {
      other.close();
    }
  });

  it('the fan-out is part of the change: when it fails, the rotation is rolled back and no delivery is written', async () => {
    const { key } = await node.keys.create({ owner: 'bank', name: 'atomic' }, admin);
    const [keys, messages] = [await countRows(handle.store, 'api_keys'), await countRows(handle.store, 'outbox_messages')];
    failing = true;
    await expect(node.keys.rotate(key.id, { by: 'admin' }, admin)).rejects.toThrow('fan-out failed');
    await expect(node.keys.revoke(key.id, admin)).rejects.toThrow('fan-out failed');
    expect((await node.keys.get(key.id)).status).toBe('active');
    expect([await countRows(handle.store, 'api_keys'), await countRows(handle.store, 'outbox_messages')]).toEqual([keys, messages]);
    expect(await eventsOf(handle.store, 'key.rotated')).toEqual([]);
    failing = false;
    await node.keys.revoke(key.id, admin);
    expect(await countRows(handle.store, 'outbox_messages')).toBe(messages + 1);
  });

  it('an endpoint gets only the events it asked for, of its owner (or of everyone without one)', async () => {
    await node.webhooks.add({ url: 'https://ops.example.com/all', events: ['key.revoked'] }, admin);
    const bank = await node.keys.create({ owner: 'bank', name: 'b' }, admin);
    const other = await node.keys.create({ owner: 'other', name: 'o' }, admin);
    await node.keys.rotate(bank.key.id, { by: 'admin' }, admin);
    await node.keys.revoke(other.key.id, admin);
    const sent = (await node.outbox.list({ limit: 100 })).map((m) => [new URL((m.data as { url: string }).url).host, JSON.parse((m.data as { body: string }).body).type]);
    expect(sent.sort()).toEqual([
      ['hooks.example.com', 'key.rotated'],
      ['ops.example.com', 'key.revoked'],
    ]);
  });

  it("a principal's legacy webhookUrl is taken over once; removing it sticks", async () => {
    const p = await node.principals.create({ kind: 'service', name: 'legacy', webhookUrl: 'https://legacy.example.com/hook' }, admin);
    for (let i = 0; i < 2; i++) await handle.store.transaction((tx) => node.webhooks.adoptIn(tx, p.id, 'https://legacy.example.com/hook'));
    const [adopted, ...more] = await node.webhooks.list({ owner: p.id });
    expect(more).toEqual([]);
    expect(adopted).toMatchObject({ origin: 'principal', events: ['key.leaked'], url: 'https://legacy.example.com/hook', status: 'active' });
    expect((await eventsOf(handle.store, 'webhook.endpoint_created')).filter((e) => e.target === adopted!.id)).toMatchObject([{ data: { adopted: true, owner: p.id } }]);
    await node.webhooks.remove(adopted!.id, admin);
    await handle.store.transaction((tx) => node.webhooks.adoptIn(tx, p.id, 'https://legacy.example.com/hook'));
    expect(await node.webhooks.list({ owner: p.id })).toEqual([]);
  });
});
