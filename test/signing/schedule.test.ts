import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { listEvents } from '../../src/audit/events.js';
import { manualContext, type ManualContext } from '../../src/core/context.js';
import { JobRunner } from '../../src/jobs/index.js';
import { lastExpiryOfKid } from '../../src/oauth/access-tokens.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import { KeyEncryption } from '../../src/signing/kek.js';
import { SigningKeyRing } from '../../src/signing/ring.js';
import { SIGNING_ROTATION_JOB, signingRotationJob } from '../../src/signing/schedule.js';
import type { Store } from '../../src/store/port.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';

const DAY = 86_400_000;

describeStore('scheduled signing key rotation (job runner)', (kind) => {
  let handle: StoreHandle;
  let ctx: ManualContext;
  const kek = randomBytes(32);
  const rings: SigningKeyRing[] = [];
  const runners: JobRunner[] = [];

  async function node(store: Store, nodeId: string) {
    const ring = new SigningKeyRing({ store, ctx, sealer: new KeyEncryption(kek, ctx), algs: ['ES256', 'EdDSA'], lastExpiry: lastExpiryOfKid });
    rings.push(ring);
    await ring.ensure();
    const runner = new JobRunner({ store, ctx, nodeId });
    runners.push(runner);
    await runner.register(signingRotationJob(ring, 30 * DAY));
    return { ring, runner };
  }

  beforeEach(async () => {
    handle = await freshStore(kind);
    await handle.store.migrate(MIGRATIONS);
    ctx = manualContext(new Date('2032-03-01T00:00:00Z'));
  });
  afterEach(async () => {
    for (const r of runners.splice(0)) await r.stop();
    for (const r of rings.splice(0)) r.close();
    await handle.dispose();
  });

  it('looks every tenth of the interval (at most hourly) and rotates each algorithm once its active key is due, once across nodes', async () => {
    const a = await node(handle.store, 'node-a');
    const b = await node(await handle.another(), 'node-b');
    expect((await a.runner.get(SIGNING_ROTATION_JOB)).everyMs).toBe(3_600_000);
    expect(signingRotationJob(a.ring, 20_000).everyMs).toBe(2_000);
    expect(signingRotationJob(a.ring, 2_000).everyMs).toBe(1_000);
    const before = (await a.ring.list()).filter((k) => k.status === 'active').map((k) => k.kid);

    expect((await a.runner.tick()).length + (await b.runner.tick()).length).toBe(1); // looked, nothing due
    expect(await listEvents(handle.store, { type: 'signing_key.rotated' })).toEqual([]);

    ctx.advance(30 * DAY);
    const [ra, rb] = kind === 'postgres' ? await Promise.all([a.runner.tick(), b.runner.tick()]) : [await a.runner.tick(), await b.runner.tick()];
    expect([...ra, ...rb].map((o) => o.ok)).toEqual([true]);
    expect(await listEvents(handle.store, { type: 'signing_key.rotated' })).toHaveLength(2);
    const after = (await a.ring.list()).filter((k) => k.status === 'active').map((k) => k.kid);
    expect(after.some((kid) => before.includes(kid))).toBe(false);

    // the next look, an hour later, finds the new keys young
    ctx.advance(3_600_000);
    await a.runner.tick();
    expect(await listEvents(handle.store, { type: 'signing_key.rotated' })).toHaveLength(2);
  });
});
