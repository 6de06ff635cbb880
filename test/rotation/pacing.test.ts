import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { manualContext, type ManualContext } from '../../src/core/context.js';
import type { PacerClock } from '../../src/core/pacing.js';
import { KeyService } from '../../src/keys/index.js';
import { ClientService } from '../../src/oauth/clients.js';
import { PrincipalService } from '../../src/principals/index.js';
import { PolicyService, rotateAllDue } from '../../src/rotation/index.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import { KeyEncryption } from '../../src/signing/kek.js';
import type { Store } from '../../src/store/port.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';
import { admin } from './support.js';

const DAY = 86_400_000;

/**
 * The scheduler's pacing, seen through the services: a fake clock in which every transaction takes
 * 10 ms and each wait advances time by what was waited, and a fake busy-measure that reports the
 * work a chunk leaves behind (the audit checkpoint, deliveries) during the first wait after it.
 */
describeStore('scheduled rotation pacing counts the work a chunk triggers', (kind) => {
  let handle: StoreHandle;
  let ctx: ManualContext;
  let t: number;
  let busy: number;
  let waits: number[];
  let followOn: number;
  let afterChunk: boolean;
  let clock: PacerClock;
  let store: Store;
  let policies: PolicyService;
  let principals: PrincipalService;

  beforeEach(async () => {
    handle = await freshStore(kind);
    await handle.store.migrate(MIGRATIONS);
    ctx = manualContext(new Date('2030-01-01T00:00:00Z'));
    t = 0;
    busy = 0;
    waits = [];
    followOn = 0;
    afterChunk = false;
    clock = {
      now: () => t,
      busyMs: () => busy,
      sleep: async (ms) => {
        waits.push(ms);
        t += ms;
        if (afterChunk) busy += followOn;
        afterChunk = false;
      },
    };
    // Every transaction takes 10 ms on the fake clock.
    const real = handle.store;
    store = {
      ...real,
      dialect: real.dialect,
      all: (sql, params) => real.all(sql, params),
      get: (sql, params) => real.get(sql, params),
      run: (sql, params) => real.run(sql, params),
      subscribe: (channel, listener) => real.subscribe(channel, listener),
      migrate: (migrations) => real.migrate(migrations),
      close: () => real.close(),
      transaction: async (fn) => {
        const out = await real.transaction(fn);
        t += 10;
        afterChunk = true;
        return out;
      },
    };
    policies = new PolicyService({ store: real, ctx });
    await policies.load();
    principals = new PrincipalService(real, ctx, { policies });
    await principals.create({ kind: 'service', name: 'bank', policy: 'banking' }, admin);
  });
  afterEach(async () => {
    policies.close();
    await handle.dispose();
  });

  it('API keys: with no follow-on work each pause is 4× its chunk (share 0.2, as before); with 6 ms of it after each chunk, 30 ms longer', async () => {
    const sealer = new KeyEncryption(randomBytes(32), ctx);
    const keys = new KeyService({ store, ctx, principals, prefix: 'kt_test', policies, sealer, pacerClock: clock });
    const plain = new KeyService({ store: handle.store, ctx, principals, prefix: 'kt_test', policies });
    try {
      for (let i = 0; i < 150; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => plain.create({ owner: 'bank', name: `k${i + j}` }, admin)));
      ctx.advance(DAY);
      expect(await keys.rotateDue(1000)).toMatchObject({ rotated: 150 });
      expect(waits).toEqual([40, 40]); // two chunks (100 + 50), 10 ms each

      waits.length = 0;
      followOn = 6;
      ctx.advance(DAY); // the 150 successors are due now
      expect(await keys.rotateDue(1000)).toMatchObject({ rotated: 150 });
      // 10 + 6 ≤ 0.2 × (10 + pause): 40, then 6 / 0.2 = 30 more, per chunk.
      expect(waits).toEqual([40, 30, 40, 30]);
    } finally {
      keys.close();
      plain.close();
    }
  });

  it('client secrets are paced the same way', async () => {
    const sealer = new KeyEncryption(randomBytes(32), ctx);
    const clients = new ClientService({ store, ctx, principals, secretPrefix: 'ktcs', defaultAudience: () => 'https://issuer.test', policies, sealer, pacerClock: clock });
    try {
      for (let i = 0; i < 150; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => clients.create({ name: `c${i + j}`, owner: 'bank', policy: 'banking' }, admin)));
      ctx.advance(DAY);
      waits.length = 0;
      afterChunk = false;
      expect(await rotateAllDue(clients)).toMatchObject({ rotated: 150 });
      expect(waits).toEqual([40, 40]);

      waits.length = 0;
      followOn = 2;
      ctx.advance(DAY);
      expect(await rotateAllDue(clients)).toMatchObject({ rotated: 150 });
      expect(waits).toEqual([40, 10, 40, 10]);
    } finally {
      clients.close();
    }
  });
});
