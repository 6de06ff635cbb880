import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { listEvents, type RequestMeta } from '../../src/audit/events.js';
import { manualContext, type ManualContext } from '../../src/core/context.js';
import { secretChecksum, secretDigest, tryParseSecret } from '../../src/core/secret.js';
import { KeyService } from '../../src/keys/service.js';
import { PrincipalService } from '../../src/principals/service.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import type { Store } from '../../src/store/port.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';

const admin: RequestMeta = { actor: null, actorKind: null, sourceIp: '127.0.0.1', requestId: 'req_test' };

describeStore('KeyService', (kind) => {
  let handle: StoreHandle;
  let store: Store;
  let ctx: ManualContext;
  let principals: PrincipalService;
  let keys: KeyService;

  beforeEach(async () => {
    handle = await freshStore(kind);
    store = handle.store;
    await store.migrate(MIGRATIONS);
    ctx = manualContext(new Date('2030-01-01T00:00:00Z'));
    principals = new PrincipalService(store, ctx);
    keys = new KeyService({ store, ctx, principals, prefix: 'kt_test' });
    await principals.create({ kind: 'service', name: 'billing' }, admin);
  });
  afterEach(async () => {
    keys.close();
    await handle.dispose();
  });

  it('creates a key whose secret is returned once and stored only as a digest', async () => {
    const { key, secret } = await keys.create({ owner: 'billing', name: 'ci', scopes: ['read', 'read', 'write'] }, admin);
    expect(secret).toMatch(/^kt_test_[0-9A-Za-z]{49}$/);
    expect(key.scopes).toEqual(['read', 'write']);
    expect(key.start).toBe(secret.slice(0, 12));
    expect(key.last4).toBe(secret.slice(-4));
    expect(JSON.stringify(key)).not.toContain(secret.slice(12, 40));
    const row = await store.get<Record<string, unknown>>('SELECT * FROM api_keys WHERE id = ?', [key.id]);
    expect(row!.digest).toBe(secretDigest(secret));
    // Nothing in the database holds the body of the secret.
    for (const table of ['api_keys', 'events', 'principals', 'exposures']) {
      const dump = JSON.stringify(await store.all(`SELECT * FROM ${table}`));
      expect(dump).not.toContain(secret.slice(12, 40));
    }
  });

  it('verifies, honours expiry exactly, and records why a verification failed', async () => {
    const { key, secret } = await keys.create({ owner: 'billing', name: 'short', scopes: ['read'], expiresIn: '1h' }, admin);
    const ok = await keys.verify(secret, admin);
    expect(ok).toMatchObject({ valid: true, key: { id: key.id, scopes: ['read'], principalName: 'billing' } });
    ctx.advance(3_600_000 - 1);
    expect((await keys.verify(secret, admin)).valid).toBe(true);
    ctx.advance(1);
    expect(await keys.verify(secret, admin)).toEqual({ valid: false, reason: 'expired' });
    expect((await keys.get(key.id)).status).toBe('expired');
    const events = await listEvents(store, { type: 'key.verify_failed' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ target: key.id, outcome: 'failure', reason: 'expired', sourceIp: '127.0.0.1', requestId: 'req_test' });
  });

  it('tells malformed, unknown and revoked keys apart, each with one event', async () => {
    const { key, secret } = await keys.create({ owner: 'billing', name: 'k' }, admin);
    expect(await keys.verify('kt_test_nope', admin)).toEqual({ valid: false, reason: 'malformed' });
    const unknown = secret.slice(0, 8) + 'A'.repeat(43);
    const wellFormed = unknown + secretChecksum(unknown);
    expect(tryParseSecret(wellFormed)).toBeDefined();
    expect(await keys.verify(wellFormed, admin)).toEqual({ valid: false, reason: 'unknown' });
    await keys.revoke(key.id, admin, 'test');
    expect(await keys.verify(secret, admin)).toEqual({ valid: false, reason: 'revoked' });
    const failures = await listEvents(store, { type: 'key.verify_failed' });
    expect(failures.map((e) => e.reason)).toEqual(['malformed', 'unknown', 'revoked']);
    expect(JSON.stringify(failures)).not.toContain(secret.slice(8));
  });

  it('drops a cached key the moment it is revoked', async () => {
    const { key, secret } = await keys.create({ owner: 'billing', name: 'k' }, admin);
    expect((await keys.verify(secret, admin)).valid).toBe(true); // now cached
    const revoked = await keys.revoke(key.id, admin);
    expect(revoked.status).toBe('revoked');
    expect(await keys.verify(secret, admin)).toEqual({ valid: false, reason: 'revoked' });
    // revoking twice is harmless and writes no second event
    await keys.revoke(key.id, admin);
    expect(await listEvents(store, { type: 'key.revoked' })).toHaveLength(1);
  });

  it('does not cache an answer whose read started before a revocation (the generation guard)', async () => {
    const { key, secret } = await keys.create({ owner: 'billing', name: 'race' }, admin);
    let entered!: () => void;
    const inRead = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // The real store, with the verification read held open until the revocation has committed.
    const slow = new Proxy(store, {
      get(target, prop) {
        if (prop === 'get') {
          return async (sql: string, params?: readonly (string | number | null)[]) => {
            const row = await target.get(sql, params);
            if (sql.startsWith('SELECT * FROM api_keys WHERE digest')) {
              entered();
              await gate;
            }
            return row;
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const racing = new KeyService({ store: slow, ctx, principals, prefix: 'kt_test' });
    try {
      const pending = racing.verify(secret, admin);
      await inRead; // the read saw the key active
      await racing.revoke(key.id, admin); // committed, and its change heard, while the read is in flight
      release();
      expect((await pending).valid).toBe(true); // the answer of a read that began before the revocation
      expect(racing.peek(secret)).toBeUndefined(); // … was not cached
      expect(await racing.verify(secret, admin)).toEqual({ valid: false, reason: 'revoked' });
    } finally {
      racing.close();
    }
  });

  it('honours a revocation made on another node', async () => {
    const other = await handle.another();
    const otherKeys = new KeyService({ store: other, ctx, principals: new PrincipalService(other, ctx), prefix: 'kt_test' });
    const { key, secret } = await keys.create({ owner: 'billing', name: 'k' }, admin);
    expect((await otherKeys.verify(secret, admin)).valid).toBe(true); // cached on node 2
    if ('feedReady' in other) await (other as unknown as { feedReady(): Promise<void> }).feedReady();
    await keys.revoke(key.id, admin);
    if (kind === 'postgres') {
      await vi.waitFor(async () => expect((await otherKeys.check(secret)).valid).toBe(false), { timeout: 5000, interval: 20 });
    } else {
      // SQLite serves one process; a second process is only bounded by the cache age.
      ctx.advance(300_001);
      expect((await otherKeys.check(secret)).valid).toBe(false);
    }
    otherKeys.close();
  });

  it('rejects bad input and changes nothing', async () => {
    const before = await store.all('SELECT * FROM api_keys');
    const eventsBefore = await listEvents(store);
    const bad: unknown[] = [
      {},
      { owner: 'billing' },
      { owner: 'billing', name: '' },
      { owner: 'billing', name: 'k', scopes: ['has space'] },
      { owner: 'billing', name: 'k', scopes: 'read' },
      { owner: 'billing', name: 'k', expiresIn: 'soon' },
      { owner: 'billing', name: 'k', expiresAt: '2029-01-01T00:00:00Z' },
      { owner: 'billing', name: 'k', extra: true },
      { owner: 'nobody', name: 'k' },
      null,
    ];
    for (const input of bad) {
      await expect(keys.create(input, admin)).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_(VALIDATION|NOT_FOUND)$/) });
    }
    expect(await store.all('SELECT * FROM api_keys')).toEqual(before);
    expect(await listEvents(store)).toEqual(eventsBefore);
  });

  it('records an exposure when a person creates a key, not when a workload does', async () => {
    const alice = await principals.create({ kind: 'user', name: 'alice', email: 'alice@example.com' }, admin);
    const asAlice: RequestMeta = { ...admin, actor: alice.id, actorKind: 'user' };
    const { key } = await keys.create({ owner: 'billing', name: 'by-alice' }, asAlice);
    await keys.create({ owner: 'billing', name: 'by-service' }, { ...admin, actor: 'prn_svc', actorKind: 'service' });
    const exposures = await store.all<{ principal_id: string; credential_id: string; kind: string }>(
      'SELECT principal_id, credential_id, kind FROM exposures',
    );
    expect(exposures).toEqual([{ principal_id: alice.id, credential_id: key.id, kind: 'created' }]);
  });

  it('pages through keys and filters by owner', async () => {
    await principals.create({ kind: 'service', name: 'other' }, admin);
    for (let i = 0; i < 5; i++) await keys.create({ owner: 'billing', name: `k${i}` }, admin);
    await keys.create({ owner: 'other', name: 'x' }, admin);
    const first = await keys.list({ owner: 'billing', limit: 3 });
    const second = await keys.list({ owner: 'billing', limit: 3, after: first.at(-1)!.id });
    expect(first).toHaveLength(3);
    expect(second).toHaveLength(2);
    expect(new Set([...first, ...second].map((k) => k.name))).toEqual(new Set(['k0', 'k1', 'k2', 'k3', 'k4']));
    await expect(keys.list({ owner: 'ghost' })).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  });
});
