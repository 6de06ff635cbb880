import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { ManualContext } from '../../src/core/context.js';
import { secretDigest } from '../../src/core/secret.js';
import type { Store } from '../../src/store/port.js';
import { describeStore, type StoreHandle } from '../support/stores.js';
import { admin, closeFixture, rotationFixture, counting, eventsOf, rotationNode, type RotationNode } from './support.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface SecretColumns {
  secret_digest: string | null;
  previous_secret_digest: string | null;
  previous_secret_expires_at: number | string | null;
  previous_secret_deadline: string | null;
  previous_secret_flagged_at: number | string | null;
  secret_rotate_at: number | string | null;
  secret_deadline_at: number | string | null;
  secret_pickup: string | null;
  policy_version: number | string | null;
}

/** Scheduled client-secret rotation in a fixed number of statements per chunk, as for API keys (`chunks.test.ts`). */
describeStore('scheduled client-secret rotation in chunks', (kind) => {
  let handle: StoreHandle;
  let store: Store;
  let ctx: ManualContext;
  let node: RotationNode;
  const masterKey = randomBytes(32);

  beforeEach(async () => {
    ({ handle, store, ctx, node } = await rotationFixture(kind, masterKey));
    await node.principals.create({ kind: 'service', name: 'bank', policy: 'banking' }, admin);
  });
  afterEach(() => closeFixture({ handle, node }));

  const register = async (name: string, policy = 'banking') => {
    const { client, secret } = await node.clients.create({ name, owner: 'bank', policy }, admin);
    return { id: client.clientId, secret: secret! };
  };
  const registerMany = async (n: number, tag: string) => {
    const out: { id: string; secret: string }[] = [];
    for (let i = 0; i < n; i += 20) out.push(...(await Promise.all(Array.from({ length: Math.min(20, n - i) }, (_, j) => register(`${tag}${i + j}`)))));
    return out;
  };
  const columns = async (id: string) => (await store.get<SecretColumns>('SELECT * FROM oauth_clients WHERE id = ?', [id]))!;

  it('a chunk is the same number of statements for 4 clients as for 60', async () => {
    const counted = counting(store);
    const chunked = await rotationNode(counted.store, ctx, masterKey, false);
    try {
      await registerMany(4, 'a');
      ctx.advance(DAY);
      counted.perTransaction.length = 0;
      expect(await chunked.clients.rotateDue(1000)).toEqual({ rotated: 4, skipped: 0, more: false });
      const small = [...counted.perTransaction];

      await registerMany(60, 'b');
      ctx.advance(DAY); // the 60 are due now, so are the first four's new secrets
      counted.perTransaction.length = 0;
      expect(await chunked.clients.rotateDue(1000)).toEqual({ rotated: 64, skipped: 0, more: false });
      const large = [...counted.perTransaction];
      expect(small).toHaveLength(1);
      expect(large).toEqual(small);
      expect(small[0]).toBeLessThanOrEqual(5);
      expect(await eventsOf(store, 'client.secret_rotated')).toHaveLength(4 + 64);
    } finally {
      chunked.close();
    }
  });

  it('one chunk: each grace its own policy, an uncollected secret keeps the one the client knows, a secret past its hard maximum age leaves the schedule', async () => {
    await node.policies.create({ name: 'long-grace', from: 'banking', secretRotationGrace: 7200 }, admin);
    const plain = await register('plain');
    const longer = await register('longer', 'long-grace');
    const uncollected = await register('uncollected');
    const expired = await register('expired');
    // `uncollected` was rotated by the scheduler a day ago and its client never collected the new secret.
    await store.run('UPDATE oauth_clients SET secret_rotate_at = ? WHERE id = ?', [ctx.now().getTime() - 1, uncollected.id]);
    expect(await node.clients.rotateDue(10)).toMatchObject({ rotated: 1 });
    const before = await columns(uncollected.id);
    expect(before.secret_pickup).not.toBeNull();
    expect(before.previous_secret_digest).toBe(secretDigest(uncollected.secret));
    // Flags on previous secrets: the uncollected client's stays (its previous secret is the same one), the others' go.
    await store.run('UPDATE oauth_clients SET previous_secret_flagged_at = 5', []);
    ctx.advance(DAY);
    // `expired` reached a hard maximum age (its policy's `secretMaxAge`, moved earlier here) before its rotation came.
    await store.run("UPDATE oauth_clients SET secret_deadline_at = ?, secret_deadline = 'hard' WHERE id = ?", [ctx.now().getTime() - 1, expired.id]);
    const events = (await eventsOf(store, 'client.secret_rotated')).length;

    expect(await node.clients.rotateDue(10)).toEqual({ rotated: 3, skipped: 0, more: false });
    const now = ctx.now().getTime();
    const p = await columns(plain.id);
    expect(p.previous_secret_digest).toBe(secretDigest(plain.secret));
    expect(Number(p.previous_secret_expires_at)).toBe(now + HOUR);
    expect(p.previous_secret_flagged_at).toBeNull();
    expect(p.previous_secret_deadline).toBe('hard');
    expect(Number(p.secret_rotate_at)).toBe(now + DAY);
    expect(Number(p.policy_version)).toBe(1);
    expect(p.secret_pickup).not.toBeNull();
    expect(Number((await columns(longer.id)).previous_secret_expires_at)).toBe(now + 2 * HOUR);
    const u = await columns(uncollected.id);
    expect(u.previous_secret_digest).toBe(secretDigest(uncollected.secret));
    expect(Number(u.previous_secret_expires_at)).toBe(Number(before.previous_secret_expires_at));
    expect(Number(u.previous_secret_flagged_at)).toBe(5);
    expect(u.secret_digest).not.toBe(before.secret_digest);
    // Past its hard maximum age: not rotated, off the schedule (the next run does not look at it again).
    const e = await columns(expired.id);
    expect(e).toMatchObject({ secret_digest: secretDigest(expired.secret), secret_rotate_at: null });

    // Three events, consecutive, each naming its client; the sealed secrets are the clients' own.
    const rows = await store.all<{ seq: number | string; target: string; reason: string }>("SELECT seq, target, reason FROM events WHERE type = 'client.secret_rotated' ORDER BY seq");
    const mine = rows.slice(events);
    expect(mine.map((r) => r.target).sort()).toEqual([plain.id, longer.id, uncollected.id].sort());
    expect(mine.every((r) => r.reason === 'schedule')).toBe(true);
    expect(Number(mine[2]!.seq) - Number(mine[0]!.seq)).toBe(2);
    const picked = await node.clients.selfRotateSecret(plain.id, plain.secret, admin);
    expect(secretDigest(picked.secret)).toBe((await columns(plain.id)).secret_digest);
    expect(await node.clients.checkSecret(plain.id, picked.secret)).toBeDefined();
    expect(await node.clients.rotateDue(10)).toEqual({ rotated: 0, skipped: 0, more: false });
  });

  it('two nodes rotating the same 150 due clients at once rotate each exactly once', async () => {
    const clients = await registerMany(150, 'c');
    ctx.advance(DAY);
    const other = await rotationNode(await handle.another(), ctx, masterKey, false);
    try {
      const [a, b] = await Promise.all([node.clients.rotateDue(1000), other.clients.rotateDue(1000)]);
      expect(a.rotated + b.rotated).toBe(150);
      expect(a.rotated + a.skipped).toBe(150);
      expect(b.rotated + b.skipped).toBe(150);
      const rotated = await eventsOf(store, 'client.secret_rotated');
      expect(rotated.map((r) => r.target).sort()).toEqual(clients.map((c) => c.id).sort());
      // Each client's previous secret is the one it was registered with (not a secret one node issued and the other replaced).
      for (const c of clients) expect((await columns(c.id)).previous_secret_digest).toBe(secretDigest(c.secret));
      // And each collects a new secret that is its current one.
      for (const c of clients.slice(0, 5)) {
        const picked = await other.clients.selfRotateSecret(c.id, c.secret, admin);
        expect(secretDigest(picked.secret)).toBe((await columns(c.id)).secret_digest);
      }
    } finally {
      other.close();
    }
  });
});
