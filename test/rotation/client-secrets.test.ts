import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { ManualContext } from '../../src/core/context.js';
import { rotateAllDue } from '../../src/rotation/index.js';
import type { Store } from '../../src/store/port.js';
import { describeStore, type StoreHandle } from '../support/stores.js';
import { admin, closeFixture, rotationFixture, counting, countRows, eventsOf, rotationNode, type RotationNode } from './support.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Scheduled rotation of OAuth client secrets, with the policy's hard or soft deadline. */
describeStore('client secret rotation on schedule', (kind) => {
  let handle: StoreHandle;
  let store: Store;
  let ctx: ManualContext;
  let node: RotationNode;
  const masterKey = randomBytes(32);

  beforeEach(async () => {
    ({ handle, store, ctx, node } = await rotationFixture(kind, masterKey));
  });
  afterEach(() => closeFixture({ handle, node }));

  const register = async (name: string, policy: string) => {
    const { client, secret } = await node.clients.create({ name, policy }, admin);
    return { id: client.clientId, secret: secret! };
  };
  const works = async (n: RotationNode, id: string, secret: string) => (await n.clients.checkSecret(id, secret)) !== undefined;

  it('rotates each due secret exactly once with two nodes at once; the client collects the sealed secret once; the old one works until its grace ends, then on no node and not after a restart', async () => {
    const due = await Promise.all([1, 2, 3, 4].map((n) => register(`pay${n}`, 'banking')));
    const plain = await register('plain', 'default');
    expect(await rotateAllDue(node.clients)).toEqual({ rotated: 0, skipped: 0, retired: 0, flagged: 0, noticed: 0 });
    ctx.advance(DAY);
    const other = await rotationNode(await handle.another(), ctx, masterKey, false);
    try {
      // Both nodes have the clients cached before the rotation.
      for (const c of due) expect(await works(other, c.id, c.secret)).toBe(true);
      const [a, b] = await Promise.all([rotateAllDue(node.clients, { batch: 1 }), rotateAllDue(other.clients, { batch: 1 })]);
      expect(a.rotated + b.rotated).toBe(4);
      const rotated = await eventsOf(store, 'client.secret_rotated');
      expect(rotated.map((e) => e.target).sort()).toEqual(due.map((c) => c.id).sort());
      expect(rotated.every((e) => e.reason === 'schedule' && e.data.previousValidUntil === '2030-01-02T01:00:00.000Z')).toBe(true);
      expect(await rotateAllDue(other.clients)).toMatchObject({ rotated: 0 });

      // The client presents its (now previous) secret and collects the new one, once; it was stored sealed only.
      const dump = JSON.stringify(await store.all('SELECT * FROM oauth_clients'));
      const picked = await other.clients.selfRotateSecret(due[0]!.id, due[0]!.secret, admin);
      expect(picked.secret).toMatch(/^ktcs_/);
      expect(dump).not.toContain(picked.secret.slice(5, 40));
      expect(await eventsOf(store, 'client.secret_picked_up')).toEqual([{ target: due[0]!.id, reason: null, data: {} }]);
      const events = await countRows(store, 'events');
      await expect(node.clients.selfRotateSecret(due[0]!.id, due[0]!.secret, admin)).rejects.toMatchObject({ code: 'ERR_CREDENTIAL_STATE', message: expect.stringContaining('was shown once') });
      await expect(node.clients.selfRotateSecret(due[0]!.id, 'ktcs_wrong', admin)).rejects.toMatchObject({ code: 'ERR_INVALID_CLIENT' });
      expect(await countRows(store, 'events')).toBe(events);

      // During the grace both secrets work on both nodes; after it only the new one, with no notification needed.
      for (const n of [node, other]) {
        expect(await works(n, due[0]!.id, due[0]!.secret)).toBe(true);
        expect(await works(n, due[0]!.id, picked.secret)).toBe(true);
      }
      ctx.advance(HOUR);
      for (const n of [node, other]) {
        expect(await works(n, due[0]!.id, due[0]!.secret)).toBe(false);
        expect(await works(n, due[0]!.id, picked.secret)).toBe(true);
        expect(await works(n, plain.id, plain.secret)).toBe(true);
      }
      const restarted = await rotationNode(await handle.another(), ctx, masterKey, false);
      try {
        expect(await works(restarted, due[0]!.id, due[0]!.secret)).toBe(false);
        expect(await works(restarted, due[0]!.id, picked.secret)).toBe(true);
      } finally {
        restarted.close();
      }
      // The scheduler retires the previous secrets; a new secret nobody collected is dropped with it.
      expect(await rotateAllDue(node.clients)).toMatchObject({ rotated: 0, retired: 4 });
      const retired = await eventsOf(store, 'client.secret_retired');
      expect(retired.find((e) => e.target === due[0]!.id)!.data).toEqual({ uncollected: false });
      expect(retired.filter((e) => e.data.uncollected === true)).toHaveLength(3);
      expect(await rotateAllDue(node.clients)).toMatchObject({ rotated: 0, retired: 0 });
      // The next rotation is due a day after this one.
      ctx.advance(DAY - HOUR);
      expect(await rotateAllDue(node.clients)).toMatchObject({ rotated: 4 });
    } finally {
      other.close();
    }
  });

  it('a process that was down catches up on start: each due secret rotated once, its grace from the rotation', async () => {
    const due = await Promise.all([1, 2, 3].map((n) => register(`c${n}`, 'banking')));
    ctx.advance(3 * DAY + HOUR);
    expect(await rotateAllDue(node.clients, { batch: 1 })).toMatchObject({ rotated: 3 });
    for (const c of due) expect(await works(node, c.id, c.secret)).toBe(true);
    ctx.advance(HOUR);
    expect(await rotateAllDue(node.clients)).toMatchObject({ rotated: 0, retired: 3 });
    expect((await eventsOf(store, 'client.secret_rotated')).length).toBe(3);
  });

  it('due secrets are rotated in transactions of many clients, not one each', async () => {
    const counted = counting(store);
    const chunked = await rotationNode(counted.store, ctx, masterKey, false);
    try {
      const due = await Promise.all([1, 2, 3, 4, 5].map((n) => register(`t${n}`, 'banking')));
      ctx.advance(DAY);
      counted.perTransaction.length = 0;
      expect(await rotateAllDue(chunked.clients)).toMatchObject({ rotated: 5, skipped: 0 });
      expect(counted.perTransaction).toHaveLength(1);
      expect((await eventsOf(store, 'client.secret_rotated')).map((e) => e.target).sort()).toEqual(due.map((c) => c.id).sort());
      // Each still works with the secret it knows, for the grace.
      for (const c of due) expect(await works(node, c.id, c.secret)).toBe(true);
      expect(await rotateAllDue(chunked.clients)).toMatchObject({ rotated: 0 });
    } finally {
      chunked.close();
    }
  });

  it('soft: the old secret keeps working past its grace, flagged and reported once; hard maximum age: the secret stops and is reported', async () => {
    await node.policies.create({ name: 'lenient', from: 'public-read', secretRotationInterval: 86_400, secretMaxAge: 864_000, secretRotationGrace: 3600 }, admin);
    await node.policies.create({ name: 'strict', from: 'banking', secretRotationInterval: null, secretMaxAge: 7200 }, admin);
    const soft = await register('soft', 'lenient');
    const hard = await register('hard', 'strict');
    ctx.advance(DAY);
    expect(await rotateAllDue(node.clients)).toMatchObject({ rotated: 1, flagged: 1 });
    expect(await works(node, hard.id, hard.secret)).toBe(false);
    ctx.advance(2 * HOUR);
    expect(await works(node, soft.id, soft.secret)).toBe(true);
    const other = await rotationNode(await handle.another(), ctx, masterKey, false);
    try {
      expect(await works(other, soft.id, soft.secret)).toBe(true);
    } finally {
      other.close();
    }
    expect(await rotateAllDue(node.clients)).toMatchObject({ rotated: 0, retired: 0, flagged: 1 });
    expect(await rotateAllDue(node.clients)).toMatchObject({ flagged: 0 });
    expect(await works(node, soft.id, soft.secret)).toBe(true);
    const missed = await eventsOf(store, 'client.secret_deadline_missed');
    expect(missed).toEqual([
      { target: hard.id, reason: 'max_age', data: { deadline: '2030-01-01T02:00:00.000Z', enforced: 'hard', policy: 'strict', policyVersion: 1 } },
      { target: soft.id, reason: 'grace', data: { deadline: '2030-01-02T01:00:00.000Z', enforced: 'soft', policy: 'lenient', policyVersion: 1 } },
    ]);
    // The holder of the soft client collects its new secret with the old one, even past the grace.
    const picked = await node.clients.selfRotateSecret(soft.id, soft.secret, admin);
    expect(await works(node, soft.id, picked.secret)).toBe(true);
  });

  it('a client rotates its own secret with its current one; bad input changes nothing', async () => {
    const c = await register('self', 'internal');
    const events = await countRows(store, 'events');
    await expect(node.clients.rotateSecret(c.id, admin, 2 * 86_400)).rejects.toMatchObject({ code: 'ERR_VALIDATION', message: 'grace: at most 86400 seconds under policy internal' });
    await expect(node.clients.create({ name: 'x', policy: 'nope' }, admin)).rejects.toMatchObject({ code: 'ERR_VALIDATION', message: expect.stringContaining('unknown policy "nope"') });
    await node.clients.setStatus(c.id, 'disabled', admin);
    await expect(node.clients.selfRotateSecret(c.id, c.secret, admin)).rejects.toMatchObject({ code: 'ERR_INVALID_CLIENT' });
    expect(await countRows(store, 'events')).toBe(events + 1);
    await node.clients.setStatus(c.id, 'active', admin);
    const rotated = await node.clients.selfRotateSecret(c.id, c.secret, admin);
    expect((await eventsOf(store, 'client.secret_rotated')).map((e) => e.reason)).toEqual(['self']);
    expect(await works(node, c.id, rotated.secret)).toBe(true);
    expect(await works(node, c.id, c.secret)).toBe(true);
    await expect(node.clients.selfRotateSecret(c.id, c.secret, admin)).rejects.toMatchObject({ code: 'ERR_CREDENTIAL_STATE' });
  });

  it('an administrator rotating a secret the scheduler rotated but nobody collected keeps the secret the client knows working for its grace', async () => {
    const c = await register('pending', 'banking');
    ctx.advance(DAY);
    expect(await rotateAllDue(node.clients)).toMatchObject({ rotated: 1 });
    ctx.advance(10 * 60_000);
    const byAdmin = await node.clients.rotateSecret(c.id, admin);
    expect(await works(node, c.id, c.secret)).toBe(true);
    expect(await works(node, c.id, byAdmin.secret)).toBe(true);
    ctx.advance(50 * 60_000); // the grace of the first rotation (1 h) ends
    expect(await works(node, c.id, c.secret)).toBe(false);
    expect(await works(node, c.id, byAdmin.secret)).toBe(true);
    // The uncollected secret is gone: its holder gets nothing for the old secret.
    await expect(node.clients.selfRotateSecret(c.id, c.secret, admin)).rejects.toMatchObject({ code: 'ERR_INVALID_CLIENT' });
  });
});
