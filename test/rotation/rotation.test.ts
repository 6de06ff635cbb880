import { afterEach, beforeEach, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { ManualContext } from '../../src/core/context.js';
import { rotateAllDue } from '../../src/rotation/index.js';
import type { Store } from '../../src/store/port.js';
import { describeStore, type StoreHandle } from '../support/stores.js';
import { admin, closeFixture, rotationFixture, countRows, eventsOf, rotationNode, type RotationNode } from './support.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describeStore('API key rotation', (kind) => {
  let handle: StoreHandle;
  let store: Store;
  let ctx: ManualContext;
  let node: RotationNode;
  const masterKey = randomBytes(32);

  beforeEach(async () => {
    ({ handle, store, ctx, node } = await rotationFixture(kind, masterKey));
    await node.principals.create({ kind: 'service', name: 'billing' }, admin);
    await node.principals.create({ kind: 'service', name: 'bank', policy: 'banking' }, admin);
  });
  afterEach(() => closeFixture({ handle, node }));

  it('issues the successor at once; the predecessor verifies until its grace ends, then never again, on every node and after a restart', async () => {
    const { key, secret } = await node.keys.create({ owner: 'billing', name: 'ci', scopes: ['read', 'write'], metadata: { team: 'x' } }, admin);
    const other = await rotationNode(await handle.another(), ctx, masterKey, false);
    try {
      expect((await other.keys.check(secret)).valid).toBe(true); // cached on the other node
      const rotation = await node.keys.rotate(key.id, { graceSeconds: 3600, by: 'admin' }, admin);
      expect(rotation.key).toMatchObject({ name: 'ci', principal: key.principal, scopes: ['read', 'write'], metadata: { team: 'x' }, predecessor: key.id, status: 'active', policyName: 'default' });
      expect(rotation.predecessor).toMatchObject({ id: key.id, status: 'rotating', graceEndsAt: '2030-01-01T01:00:00.000Z' });
      expect(await eventsOf(store, 'key.rotated')).toEqual([
        { target: key.id, reason: 'admin', data: { successor: rotation.key.id, graceEndsAt: '2030-01-01T01:00:00.000Z', policy: 'default', policyVersion: 1 } },
      ]);
      // Both work during the grace; the answer tells the old one is rotating and when it stops.
      const old = await node.keys.check(secret);
      expect(old).toMatchObject({ valid: true, key: { rotation: { status: 'rotating', sunset: '2030-01-01T01:00:00.000Z' } } });
      expect((await node.keys.check(rotation.secret)).valid).toBe(true);
      ctx.advance(HOUR - 1);
      expect((await other.keys.check(secret)).valid).toBe(true);
      ctx.advance(1);
      // The grace end itself ends it: no job has run, the status is still `rotating`.
      expect(await node.keys.check(secret)).toEqual({ valid: false, reason: 'revoked' });
      expect(await other.keys.check(secret)).toEqual({ valid: false, reason: 'revoked' });
      expect(node.keys.peek(secret)).toBeUndefined();
      const restarted = await rotationNode(await handle.another(), ctx, masterKey, false);
      expect(await restarted.keys.check(secret)).toEqual({ valid: false, reason: 'revoked' });
      restarted.close();
      expect((await node.keys.check(rotation.secret)).valid).toBe(true);
      // The scheduler then records the retirement, once.
      expect(await node.keys.settleDeadlines(100)).toMatchObject({ retired: 1 });
      expect(await node.keys.settleDeadlines(100)).toMatchObject({ retired: 0 });
      expect((await node.keys.get(key.id)).status).toBe('retired');
      expect(await eventsOf(store, 'key.retired')).toEqual([{ target: key.id, reason: null, data: { successor: rotation.key.id } }]);
    } finally {
      other.close();
    }
  });

  it('refuses bad rotations and changes nothing: a grace longer than the policy allows, a revoked key, a key already rotating', async () => {
    const { key } = await node.keys.create({ owner: 'bank', name: 'pay' }, admin);
    const revoked = (await node.keys.create({ owner: 'billing', name: 'gone' }, admin)).key;
    await node.keys.revoke(revoked.id, admin);
    const keys = await countRows(store, 'api_keys');
    const events = await countRows(store, 'events');
    await expect(node.keys.rotate(key.id, { graceSeconds: 7200, by: 'admin' }, admin)).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      message: 'grace: at most 3600 seconds under policy banking (version 1)',
    });
    await expect(node.keys.rotate(revoked.id, { by: 'admin' }, admin)).rejects.toMatchObject({ code: 'ERR_KEY_STATE', message: 'a revoked key cannot be rotated' });
    await expect(node.keys.rotate('key_nope', { by: 'admin' }, admin)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    expect(await countRows(store, 'api_keys')).toBe(keys);
    expect(await countRows(store, 'events')).toBe(events);
    expect((await node.keys.get(key.id)).status).toBe('active');
    const first = await node.keys.rotate(key.id, { by: 'admin' }, admin);
    await expect(node.keys.rotate(key.id, { by: 'admin' }, admin)).rejects.toMatchObject({ code: 'ERR_KEY_STATE', message: expect.stringContaining(first.key.id) });
    expect(await countRows(store, 'api_keys')).toBe(keys + 1);
  });

  it('the holder rotates its own key once; a retry names the successor; a dead key cannot', async () => {
    const { key, secret } = await node.keys.create({ owner: 'billing', name: 'svc' }, admin);
    const rotation = await node.keys.selfRotate(secret, admin);
    expect(rotation.key.predecessor).toBe(key.id);
    expect((await eventsOf(store, 'key.rotated'))[0]).toMatchObject({ reason: 'self' });
    const keys = await countRows(store, 'api_keys');
    await expect(node.keys.selfRotate(secret, admin)).rejects.toMatchObject({
      code: 'ERR_KEY_STATE',
      message: `the key was already rotated; its successor is ${rotation.key.id} (its secret was shown once)`,
    });
    expect(await countRows(store, 'api_keys')).toBe(keys);
    ctx.advance(DAY);
    await expect(node.keys.selfRotate(secret, admin)).rejects.toMatchObject({ code: 'ERR_INVALID_TOKEN' });
    await node.keys.settleDeadlines(10);
    await expect(node.keys.selfRotate(secret, admin)).rejects.toMatchObject({ code: 'ERR_INVALID_TOKEN' });
    expect(await countRows(store, 'api_keys')).toBe(keys);
  });

  it('rotates what is due on schedule exactly once, even with two nodes at once; the holder collects the sealed successor once', async () => {
    const due = await Promise.all([1, 2, 3, 4, 5].map((n) => node.keys.create({ owner: 'bank', name: `k${n}` }, admin)));
    const plain = await node.keys.create({ owner: 'billing', name: 'never' }, admin);
    expect(due[0]!.key.rotateAt).toBe('2030-01-02T00:00:00.000Z');
    // Nothing is due yet.
    expect(await rotateAllDue(node.keys)).toEqual({ rotated: 0, skipped: 0, retired: 0, flagged: 0, noticed: 0 });
    ctx.advance(DAY);
    const other = await rotationNode(await handle.another(), ctx, masterKey, false);
    try {
      const [a, b] = await Promise.all([rotateAllDue(node.keys, { batch: 2 }), rotateAllDue(other.keys, { batch: 2 })]);
      expect(a.rotated + b.rotated).toBe(5);
      const rotated = await eventsOf(store, 'key.rotated');
      expect(rotated.map((e) => e.target).sort()).toEqual(due.map((d) => d.key.id).sort());
      expect(rotated.every((e) => e.reason === 'schedule')).toBe(true);
      expect(await countRows(store, 'api_keys')).toBe(6 + 5);
      expect((await node.keys.get(plain.key.id)).status).toBe('active');
      // The successor's secret is stored sealed, never in clear.
      const dump = JSON.stringify(await store.all('SELECT * FROM api_keys'));
      const picked = await other.keys.selfRotate(due[0]!.secret, admin);
      expect(dump).not.toContain(picked.secret.slice(8, 40));
      expect(picked.key).toMatchObject({ predecessor: due[0]!.key.id, name: 'k1' });
      expect((await node.keys.check(picked.secret)).valid).toBe(true);
      expect(await eventsOf(store, 'key.successor_picked_up')).toEqual([{ target: picked.key.id, reason: null, data: { predecessor: due[0]!.key.id } }]);
      await expect(node.keys.selfRotate(due[0]!.secret, admin)).rejects.toMatchObject({ code: 'ERR_KEY_STATE', message: expect.stringContaining(picked.key.id) });
      // A second pass finds nothing more to do.
      expect(await rotateAllDue(other.keys)).toMatchObject({ rotated: 0 });
    } finally {
      other.close();
    }
  });

  it('a process that was down catches up on start: everything due is rotated once, nothing skipped', async () => {
    const keys = await Promise.all([1, 2, 3].map((n) => node.keys.create({ owner: 'bank', name: `c${n}` }, admin)));
    ctx.advance(3 * DAY + HOUR); // due since two days; their hard deadline (7 d) not reached
    const run = await rotateAllDue(node.keys, { batch: 1 });
    expect(run.rotated).toBe(3);
    // Their grace (1 h) starts at the rotation, not at the missed due time.
    for (const k of keys) expect((await node.keys.get(k.key.id)).status).toBe('rotating');
    ctx.advance(HOUR);
    expect(await rotateAllDue(node.keys)).toMatchObject({ rotated: 0, retired: 3 });
  });

  it('a soft deadline keeps the key working, flagged and reported once; a hard one stops it', async () => {
    await node.policies.create({ name: 'lenient', from: 'public-read', keyRotationInterval: null, keyMaxAge: 86_400 }, admin);
    const soft = await node.keys.create({ owner: 'billing', name: 's', policy: 'lenient' }, admin);
    const hard = await node.keys.create({ owner: 'bank', name: 'h' }, admin);
    await node.keys.rotate(hard.key.id, { by: 'admin', graceSeconds: 60 }, admin); // takes it off the schedule
    ctx.advance(DAY);
    expect(await node.keys.check(soft.secret)).toMatchObject({ valid: true, key: { rotation: { softDeadline: '2030-01-02T00:00:00.000Z', sunset: null } } });
    expect(await node.keys.check(hard.secret)).toEqual({ valid: false, reason: 'revoked' });
    const run = await node.keys.settleDeadlines(10);
    expect(run.flagged).toBe(1);
    expect(await eventsOf(store, 'key.deadline_missed')).toEqual([
      { target: soft.key.id, reason: 'max_age', data: { deadline: '2030-01-02T00:00:00.000Z', enforced: 'soft', policy: 'lenient', policyVersion: 1 } },
    ]);
    expect((await node.keys.settleDeadlines(10)).flagged).toBe(0);
  });
});
