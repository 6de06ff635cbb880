import { afterEach, beforeEach, expect, it } from 'vitest';
import { listEvents, type RequestMeta } from '../../src/audit/events.js';
import { manualContext } from '../../src/core/context.js';
import { nextState, PRINCIPAL_LIFECYCLE } from '../../src/core/lifecycle.js';
import { PrincipalService } from '../../src/principals/service.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import type { Store } from '../../src/store/port.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';

const admin: RequestMeta = { actor: null, actorKind: null, sourceIp: '127.0.0.1', requestId: 'req_test' };

describeStore('PrincipalService follows PRINCIPAL_LIFECYCLE over every (state, operation) pair', (kind) => {
  let handle: StoreHandle;
  let store: Store;
  let principals: PrincipalService;
  beforeEach(async () => {
    handle = await freshStore(kind);
    store = handle.store;
    await store.migrate(MIGRATIONS);
    principals = new PrincipalService(store, manualContext(new Date('2030-01-01T00:00:00Z')));
  });
  afterEach(async () => {
    await handle.dispose();
  });

  it('enable and disable from every state: refused with ERR_CREDENTIAL_STATE, a no-op, or one change and one event', async () => {
    for (const state of PRINCIPAL_LIFECYCLE.states) {
      for (const action of ['enable', 'disable'] as const) {
        const p = await principals.create({ kind: 'user', name: `${state}-${action}` }, admin);
        await store.run('UPDATE principals SET status = ? WHERE id = ?', [state, p.id]);
        const before = (await listEvents(store, { target: p.id, limit: 1000 })).length;
        const expected = nextState(PRINCIPAL_LIFECYCLE, state, action);
        const label = `${state} × ${action}`;
        const operation = principals.setStatus(p.id, action === 'enable' ? 'active' : 'disabled', admin);
        if (expected === undefined) await expect(operation, label).rejects.toMatchObject({ code: 'ERR_CREDENTIAL_STATE' });
        else expect((await operation).status, label).toBe(expected);
        expect((await principals.get(p.id)).status, label).toBe(expected ?? state);
        const events = (await listEvents(store, { target: p.id, limit: 1000 })).length - before;
        expect(events, label).toBe(expected !== undefined && expected !== state ? 1 : 0);
      }
    }
  });
});
