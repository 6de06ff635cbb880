import { afterEach, beforeEach, expect, it } from 'vitest';
import type { RequestMeta } from '../../src/audit/events.js';
import { manualContext } from '../../src/core/context.js';
import { KeyService } from '../../src/keys/service.js';
import { PrincipalService } from '../../src/principals/service.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import type { Store } from '../../src/store/port.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';

const admin: RequestMeta = { actor: null, actorKind: null, sourceIp: '127.0.0.1', requestId: 'req_test' };

describeStore('key names and page cursors', (kind) => {
  let handle: StoreHandle;
  let store: Store;
  let principals: PrincipalService;
  let keys: KeyService;

  beforeEach(async () => {
    handle = await freshStore(kind);
    store = handle.store;
  });
  afterEach(async () => {
    keys?.close();
    await handle.dispose();
  });

  async function open(): Promise<void> {
    await store.migrate(MIGRATIONS);
    const ctx = manualContext(new Date('2030-01-01T00:00:00Z'));
    principals = new PrincipalService(store, ctx);
    keys = new KeyService({ store, ctx, principals, prefix: 'kt_test' });
  }

  it("a name is unique among an owner's active and suspended keys; revoking frees it", async () => {
    await open();
    await principals.create({ kind: 'service', name: 'billing' }, admin);
    await principals.create({ kind: 'service', name: 'other' }, admin);
    const first = await keys.create({ owner: 'billing', name: 'ci', scopes: ['read'] }, admin);
    const again = await keys.create({ owner: 'billing', name: 'ci', scopes: ['read'] }, admin).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: 'ERR_CONFLICT', message: expect.stringContaining(first.key.id) });
    expect(await keys.create({ owner: 'other', name: 'ci', scopes: ['read'] }, admin)).toMatchObject({ key: { name: 'ci' } });
    await keys.suspend(first.key.id, admin);
    await expect(keys.create({ owner: 'billing', name: 'ci', scopes: ['read'] }, admin)).rejects.toMatchObject({ code: 'ERR_CONFLICT' });
    await keys.revoke(first.key.id, admin);
    const second = await keys.create({ owner: 'billing', name: 'ci', scopes: ['read'] }, admin);
    expect(second.key.id).not.toBe(first.key.id);
    expect((await keys.list({ owner: 'billing' })).filter((k) => k.name === 'ci')).toHaveLength(2);
  });

  it('the index keeps names unique even past the service check (two writers at once)', async () => {
    await open();
    await principals.create({ kind: 'service', name: 'billing' }, admin);
    const { key } = await keys.create({ owner: 'billing', name: 'ci', scopes: ['read'] }, admin);
    const row = await store.get<Record<string, unknown>>('SELECT * FROM api_keys WHERE id = ?', [key.id]);
    const copy = { ...row, id: `${key.id.slice(0, -1)}Z`, digest: 'f'.repeat(64) };
    const columns = Object.keys(copy);
    await expect(store.run(`INSERT INTO api_keys (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`, Object.values(copy) as never)).rejects.toThrow();
  });

  it('the migration renames older live duplicates that a store already holds, keeping the newest name', async () => {
    const before = MIGRATIONS.filter((m) => m.id < '0040');
    await store.migrate(before);
    const t = Date.parse('2030-01-01T00:00:00Z');
    await store.run("INSERT INTO principals (id, kind, name, status, created_at) VALUES ('prn_a', 'service', 'billing', 'active', ?)", [t]);
    const insert = (id: string, status: string) =>
      store.run(
        `INSERT INTO api_keys (id, principal_id, name, prefix, digest, start, last4, scopes, status, created_at, expires_at, revoked_at)
         VALUES (?, 'prn_a', 'demo', 'kt_test', ?, 'kt_test_abcd', 'wxyz', '[]', ?, ?, NULL, NULL)`,
        [id, id.repeat(4), status, t],
      );
    await insert('key_1', 'active');
    await insert('key_2', 'revoked');
    await insert('key_3', 'active');
    await store.migrate(MIGRATIONS);
    const names = await store.all<{ id: string; name: string }>('SELECT id, name FROM api_keys ORDER BY id');
    expect(names).toEqual([
      { id: 'key_1', name: 'demo (key_1)' },
      { id: 'key_2', name: 'demo' },
      { id: 'key_3', name: 'demo' },
    ]);
  });

  it('a page cursor that is not an id of the listed kind is an error, not the whole list', async () => {
    await open();
    await expect(keys.list({ after: 'bogus' })).rejects.toMatchObject({ code: 'ERR_VALIDATION', message: 'after: not a key_ id (key_ and 22 letters and digits)' });
    await expect(keys.list({ after: 'prn_0000000000000000000000' })).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    await expect(principals.list({ after: 'key_0000000000000000000000' })).rejects.toMatchObject({ code: 'ERR_VALIDATION', message: 'after: not a prn_ id (prn_ and 22 letters and digits)' });
    expect(await keys.list({ after: 'key_0000000000000000000000' })).toEqual([]);
  });
});
