import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { manualContext, type ManualContext } from '../../src/core/context.js';
import { POLICY_PRESETS } from '../../src/core/policy.js';
import type { Store } from '../../src/store/port.js';
import { admin, countRows, eventsOf, rotationNode, type RotationNode } from '../rotation/support.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';

const DAY = 86_400;

describeStore('stored lifetime policies', (kind) => {
  let handle: StoreHandle;
  let store: Store;
  let ctx: ManualContext;
  let node: RotationNode;

  beforeEach(async () => {
    handle = await freshStore(kind);
    store = handle.store;
    ctx = manualContext(new Date('2030-01-01T00:00:00Z'));
    node = await rotationNode(store, ctx);
  });
  afterEach(async () => {
    node.close();
    await handle.dispose();
  });

  it('seeds the four presets at version 1, once, whatever the number of nodes starting', async () => {
    const again = await rotationNode(await handle.another(), ctx, undefined, false);
    const list = await again.policies.list();
    again.close();
    expect(list.map((p) => [p.name, p.version])).toEqual([
      ['default', 1],
      ['banking', 1],
      ['public-read', 1],
      ['internal', 1],
    ]);
    for (const p of list) expect(p.policy).toEqual(POLICY_PRESETS[p.name]);
    expect(await countRows(store, 'rotation_policies')).toBe(4);
  });

  it('creates a policy from another, records policy.created, and refuses bad input without writing anything', async () => {
    const created = await node.policies.create({ name: 'payments', from: 'banking', keyRotationGrace: 1800 }, admin);
    expect(created).toMatchObject({ name: 'payments', version: 1, policy: { ...POLICY_PRESETS.banking, name: 'payments', keyRotationGrace: 1800 } });
    expect(await eventsOf(store, 'policy.created')).toEqual([{ target: 'payments', reason: null, data: { version: 1, from: 'banking' } }]);
    const rows = await countRows(store, 'rotation_policies');
    const events = await countRows(store, 'events');
    await expect(node.policies.create({ name: 'payments' }, admin)).rejects.toMatchObject({ code: 'ERR_CONFLICT' });
    await expect(node.policies.create({ name: 'x', from: 'nope' }, admin)).rejects.toMatchObject({ code: 'ERR_VALIDATION', message: expect.stringMatching(/unknown policy "nope" \(known: default, banking, public-read, internal, payments\)/) });
    await expect(node.policies.create({ name: 'Bad Name' }, admin)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    await expect(node.policies.create({ name: 'x', keyRotationInterval: 10 * DAY, keyMaxAge: 5 * DAY }, admin)).rejects.toMatchObject({
      code: 'ERR_VALIDATION',
      message: expect.stringMatching(/keyRotationInterval .* must be shorter than keyMaxAge/),
    });
    await expect(node.policies.create({ name: 'x', binding: 'token-binding' }, admin)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    await expect(node.policies.create({ name: 'x', keyRotationGrace: -1 }, admin)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    expect(await countRows(store, 'rotation_policies')).toBe(rows);
    expect(await countRows(store, 'events')).toBe(events);
  });

  it('records each change as a new version; a weakening change records policy.weakened naming what it weakens', async () => {
    const stricter = await node.policies.update('internal', { keyRotationGrace: 3600, accessTokenTtl: 300 }, admin);
    expect(stricter.version).toBe(2);
    const weaker = await node.policies.update('internal', { keyMaxAge: null, deadline: 'soft', accessTokenTtl: 300 }, admin);
    expect(weaker.version).toBe(3);
    expect(await eventsOf(store, 'policy.updated')).toEqual([{ target: 'internal', reason: null, data: { version: 2, changed: ['accessTokenTtl', 'keyRotationGrace'] } }]);
    expect(await eventsOf(store, 'policy.weakened')).toEqual([
      { target: 'internal', reason: null, data: { version: 3, changed: ['keyMaxAge', 'deadline'], weakened: ['keyMaxAge', 'deadline'] } },
    ]);
    // The same values again change nothing: no version, no event.
    expect((await node.policies.update('internal', { deadline: 'soft' }, admin)).version).toBe(3);
    expect(await countRows(store, 'rotation_policies')).toBe(6);
    // Versions are kept: the first is still readable as it was.
    expect(node.policies.at('internal', 1)?.policy).toEqual(POLICY_PRESETS.internal);
    expect(node.policies.current('internal').policy).toMatchObject({ keyMaxAge: null, deadline: 'soft', keyRotationGrace: 3600 });
    await expect(node.policies.update('nope', { accessTokenTtl: 60 }, admin)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    await expect(node.policies.update('internal', { keyRotationGrace: 31 * DAY }, admin)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    expect(await countRows(store, 'rotation_policies')).toBe(6);
  });

  it('another node learns a new version through the change feed (or on first use)', async () => {
    const other = await rotationNode(await handle.another(), ctx, undefined, false);
    try {
      await node.policies.create({ name: 'fresh' }, admin);
      await other.policies.ensure('fresh');
      expect(other.policies.current('fresh').version).toBe(1);
      if (kind === 'postgres') await (other.policies as unknown as { ensure(n: string): Promise<void> }).ensure('fresh');
      await node.policies.update('fresh', { keyRotationGrace: 60 }, admin);
      if (kind === 'postgres') {
        // Each PostgreSQL node hears the other's change on its LISTEN connection.
        await vi.waitFor(() => expect(other.policies.current('fresh').version).toBe(2), { timeout: 10_000 });
      } else {
        // A version this node has not heard of is read from the store when first asked for.
        await other.policies.ensure('fresh', 2);
        expect(other.policies.at('fresh', 2)?.policy.keyRotationGrace).toBe(60);
      }
    } finally {
      other.close();
    }
  });

  it("a key follows its own policy, else its principal's, else the default; it keeps the version it was issued under", async () => {
    await node.principals.create({ kind: 'service', name: 'plain' }, admin);
    await node.principals.create({ kind: 'service', name: 'bank', policy: 'banking' }, admin);
    await expect(node.principals.create({ kind: 'service', name: 'x', policy: 'nope' }, admin)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    expect(await node.principals.find('x')).toBeUndefined();
    const plain = (await node.keys.create({ owner: 'plain', name: 'a' }, admin)).key;
    const bank = (await node.keys.create({ owner: 'bank', name: 'b' }, admin)).key;
    const own = (await node.keys.create({ owner: 'bank', name: 'c', policy: 'internal' }, admin)).key;
    await expect(node.keys.create({ owner: 'bank', name: 'd', policy: 'nope' }, admin)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    expect(plain).toMatchObject({ policy: null, policyName: 'default', policyVersion: 1, rotateAt: null, deadlineAt: null });
    expect(bank).toMatchObject({ policy: null, policyName: 'banking', policyVersion: 1, rotateAt: '2030-01-02T00:00:00.000Z', deadlineAt: '2030-01-08T00:00:00.000Z', deadline: 'hard' });
    expect(own).toMatchObject({ policy: 'internal', policyName: 'internal', policyVersion: 1, rotateAt: '2030-01-31T00:00:00.000Z' });

    await node.policies.update('banking', { keyRotationGrace: 600 }, admin);
    const later = (await node.keys.create({ owner: 'bank', name: 'e' }, admin)).key;
    expect(later.policyVersion).toBe(2);
    expect((await node.keys.get(bank.id)).policyVersion).toBe(1);
    const shown = await node.policies.show('banking');
    expect(shown.versions.map((v) => [v.version, v.governs.apiKeys])).toEqual([
      [1, 1],
      [2, 1],
    ]);

    await node.principals.setPolicy('plain', 'internal', admin);
    expect(await eventsOf(store, 'principal.policy_set')).toEqual([{ target: (await node.principals.get('plain')).id, reason: null, data: { policy: 'internal', previous: null } }]);
    expect((await node.keys.create({ owner: 'plain', name: 'f' }, admin)).key.policyName).toBe('internal');
    await expect(node.principals.setPolicy('plain', 'nope', admin)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    expect((await node.principals.get('plain')).policy).toBe('internal');
  });

  it("a client's secret keeps its policy version until it rotates; show counts client secrets per version", async () => {
    const { client } = await node.clients.create({ name: 'reporting', policy: 'banking' }, admin);
    expect(client.policyVersion).toBe(1);
    await node.policies.update('banking', { accessTokenTtl: 120 }, admin);
    expect((await node.clients.get(client.clientId)).policy.accessTokenTtl).toBe(POLICY_PRESETS.banking!.accessTokenTtl);
    expect((await node.policies.show('banking')).versions.map((v) => v.governs.clientSecrets)).toEqual([1, 0]);
    const rotated = await node.clients.rotateSecret(client.clientId, admin);
    expect(rotated.client).toMatchObject({ policyVersion: 2, policy: { accessTokenTtl: 120 } });
    expect((await node.policies.show('banking')).versions.map((v) => v.governs.clientSecrets)).toEqual([0, 1]);
  });
});
