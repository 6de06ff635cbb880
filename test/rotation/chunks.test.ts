import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { manualContext, type ManualContext } from '../../src/core/context.js';
import { Outbox } from '../../src/jobs/index.js';
import { KeyService, type KeyLifecycleEvent } from '../../src/keys/index.js';
import { PrincipalService } from '../../src/principals/index.js';
import { PolicyService, rotateAllDue, WebhookService, type WebhookEvent } from '../../src/rotation/index.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import { KeyEncryption } from '../../src/signing/kek.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';
import { admin, counting, countRows, eventsOf } from './support.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const toWebhook = (event: KeyLifecycleEvent): WebhookEvent => ({ type: event.type, principal: event.key.principal, subject: event.key.id, data: { ...event.data } });

describeStore('scheduled rotation in chunks', (kind) => {
  let handle: StoreHandle;
  let ctx: ManualContext;
  let policies: PolicyService;
  let principals: PrincipalService;
  let webhooks: WebhookService;
  let keys: KeyService;
  let count: ReturnType<typeof counting>;

  beforeEach(async () => {
    handle = await freshStore(kind);
    await handle.store.migrate(MIGRATIONS);
    await (handle.store as unknown as { feedReady?: () => Promise<void> }).feedReady?.();
    ctx = manualContext(new Date('2030-01-01T00:00:00Z'));
    count = counting(handle.store);
    const store = count.store;
    policies = new PolicyService({ store, ctx });
    await policies.load();
    const sealer = new KeyEncryption(randomBytes(32), ctx);
    principals = new PrincipalService(store, ctx, { policies });
    webhooks = new WebhookService({ store, ctx, outbox: new Outbox({ store, ctx, nodeId: 'test' }), sealer, principals });
    // Wired as the runtime wires them: one hook per event, one for a chunk's events at once.
    keys = new KeyService({
      store,
      ctx,
      principals,
      prefix: 'kt_test',
      policies,
      sealer,
      rotationShare: 1,
      onEvent: (tx, event) => webhooks.fanOut(tx, toWebhook(event)),
      onEvents: (tx, events) => webhooks.fanOutMany(tx, events.map(toWebhook)),
    });
    await principals.create({ kind: 'service', name: 'bank', policy: 'banking' }, admin);
    await principals.create({ kind: 'service', name: 'bank2', policy: 'banking' }, admin);
    await webhooks.add({ url: 'https://hooks.example.com/bank', owner: 'bank' }, admin);
    await webhooks.add({ url: 'https://hooks.example.com/all' }, admin);
  });
  afterEach(async () => {
    keys.close();
    policies.close();
    await handle.dispose();
  });

  it('a chunk is the same number of statements for 4 keys as for 60, its webhooks included', async () => {
    const createFor = (n: number, tag: string) =>
      Promise.all(Array.from({ length: n }, (_, i) => keys.create({ owner: i % 2 === 0 ? 'bank' : 'bank2', name: `${tag}${i}` }, admin)));
    await createFor(4, 'a');
    ctx.advance(DAY);
    count.perTransaction.length = 0;
    expect(await rotateAllDue(keys)).toMatchObject({ rotated: 4, skipped: 0 });
    const small = [...count.perTransaction];

    await createFor(60, 'b');
    ctx.advance(DAY); // the 60 are due now, so are the first four's successors; the first four are past their grace
    count.perTransaction.length = 0;
    const run = await rotateAllDue(keys);
    expect(run).toMatchObject({ rotated: 64, skipped: 0, retired: 4 });
    // The chunk's transaction comes first; the retirements after it are one transaction each.
    const large = count.perTransaction.slice(0, 1);
    expect(small).toHaveLength(1);
    expect(large).toEqual(small);
    expect(small[0]).toBeLessThanOrEqual(8);
    // Every successor has its event, and each owner's endpoints their deliveries: bank's keys go to
    // its own endpoint and the one for everybody, bank2's to the latter only.
    expect(await eventsOf(handle.store, 'key.rotated')).toHaveLength(4 + 64);
    expect(await countRows(handle.store, 'outbox_messages')).toBe(2 * 2 + 2 + (32 * 2 + 32));
  });

  it('one chunk rotates what it may, takes expired keys off the schedule, passes over a disabled owner, each grace its own policy', async () => {
    await policies.create({ name: 'long-grace', from: 'banking', keyRotationGrace: 2 * 3600 }, admin);
    await principals.create({ kind: 'service', name: 'gone', policy: 'banking' }, admin);
    const plain = await keys.create({ owner: 'bank', name: 'plain' }, admin);
    const longer = await keys.create({ owner: 'bank', name: 'longer', policy: 'long-grace' }, admin);
    const expiring = await keys.create({ owner: 'bank', name: 'expiring', expiresIn: '23h' }, admin);
    const orphan = await keys.create({ owner: 'gone', name: 'orphan' }, admin);
    await handle.store.run("UPDATE principals SET status = 'disabled' WHERE name = 'gone'");
    ctx.advance(DAY);
    const before = await countRows(handle.store, 'events');
    expect(await rotateAllDue(keys)).toMatchObject({ rotated: 2, skipped: 1 });
    const now = ctx.now().getTime();
    expect((await keys.get(plain.key.id)).graceEndsAt).toBe(new Date(now + HOUR).toISOString());
    expect((await keys.get(longer.key.id)).graceEndsAt).toBe(new Date(now + 2 * HOUR).toISOString());
    // Expired: not rotated, no longer scheduled (the next run does not look at it again).
    expect(await keys.get(expiring.key.id)).toMatchObject({ status: 'expired', rotateAt: null });
    // Its owner disabled: left as it was, still due.
    expect(await keys.get(orphan.key.id)).toMatchObject({ status: 'active', rotateAt: orphan.key.rotateAt });
    // Two events, one per rotation, consecutive in the log, each naming its own successor.
    const rows = await handle.store.all<{ seq: number | string; target: string; data: string }>("SELECT seq, target, data FROM events WHERE type = 'key.rotated' ORDER BY seq");
    expect(rows.map((r) => r.target).sort()).toEqual([plain.key.id, longer.key.id].sort());
    expect(Number(rows[1]!.seq) - Number(rows[0]!.seq)).toBe(1);
    expect(await countRows(handle.store, 'events')).toBe(before + 2);
    for (const row of rows) {
      const successor = (JSON.parse(row.data) as { successor: string }).successor;
      expect(await keys.get(successor)).toMatchObject({ predecessor: row.target, status: 'active', name: row.target === plain.key.id ? 'plain' : 'longer' });
    }
    expect(await rotateAllDue(keys)).toMatchObject({ rotated: 0, skipped: 1 });
  });
});
