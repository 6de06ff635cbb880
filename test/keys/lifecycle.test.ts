import { afterEach, beforeEach, expect, it } from 'vitest';
import { listEvents, type RequestMeta } from '../../src/audit/events.js';
import { manualContext } from '../../src/core/context.js';
import { API_KEY_LIFECYCLE, nextState } from '../../src/core/lifecycle.js';
import { KeyService, type KeyStatus } from '../../src/keys/service.js';
import { PrincipalService } from '../../src/principals/service.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import type { Store } from '../../src/store/port.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';

const admin: RequestMeta = { actor: null, actorKind: null, sourceIp: '127.0.0.1', requestId: 'req_test' };

/** The key operations the service offers, by lifecycle action. */
const OPERATIONS = {
  suspend: (keys: KeyService, id: string) => keys.suspend(id, admin),
  unsuspend: (keys: KeyService, id: string) => keys.unsuspend(id, admin),
  revoke: (keys: KeyService, id: string) => keys.revoke(id, admin),
} as const;

describeStore('KeyService follows API_KEY_LIFECYCLE over every (state, operation) pair', (kind) => {
  let handle: StoreHandle;
  let store: Store;
  let keys: KeyService;
  beforeEach(async () => {
    handle = await freshStore(kind);
    store = handle.store;
    await store.migrate(MIGRATIONS);
    const ctx = manualContext(new Date('2030-01-01T00:00:00Z'));
    const principals = new PrincipalService(store, ctx);
    keys = new KeyService({ store, ctx, principals, prefix: 'kt_test' });
    await principals.create({ kind: 'service', name: 'billing' }, admin);
  });
  afterEach(async () => {
    keys.close();
    await handle.dispose();
  });

  it('every state × operation: refused with ERR_KEY_STATE and nothing written, a no-op answer, or one change and one event', async () => {
    for (const state of API_KEY_LIFECYCLE.states) {
      for (const [action, operate] of Object.entries(OPERATIONS) as [keyof typeof OPERATIONS, (k: KeyService, id: string) => Promise<{ status: string }>][]) {
        const { key } = await keys.create({ owner: 'billing', name: `${state}-${action}` }, admin);
        await store.run('UPDATE api_keys SET status = ? WHERE id = ?', [state, key.id]);
        const before = (await listEvents(store, { target: key.id, limit: 1000 })).length;
        const expected = nextState(API_KEY_LIFECYCLE, state, action);
        const label = `${state} × ${action}`;
        if (expected === undefined) {
          await expect(operate(keys, key.id), label).rejects.toMatchObject({ code: 'ERR_KEY_STATE' });
        } else {
          expect((await operate(keys, key.id)).status, label).toBe(expected);
        }
        const row = await store.get<{ status: KeyStatus }>('SELECT status FROM api_keys WHERE id = ?', [key.id]);
        expect(row?.status, label).toBe(expected ?? state);
        const events = (await listEvents(store, { target: key.id, limit: 1000 })).length - before;
        expect(events, label).toBe(expected !== undefined && expected !== state ? 1 : 0);
      }
    }
  });

  it('verification honours exactly the live states', async () => {
    for (const state of API_KEY_LIFECYCLE.states) {
      const { key, secret } = await keys.create({ owner: 'billing', name: `verify-${state}` }, admin);
      await store.run('UPDATE api_keys SET status = ? WHERE id = ?', [state, key.id]);
      const result = await keys.check(secret);
      expect(result.valid, state).toBe(API_KEY_LIFECYCLE.live.includes(state));
    }
  });
});
