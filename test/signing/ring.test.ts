import { randomBytes } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { listEvents } from '../../src/audit/events.js';
import { manualContext, type ManualContext } from '../../src/core/context.js';
import { lastExpiryOfKid } from '../../src/oauth/access-tokens.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import { KeyEncryption } from '../../src/signing/kek.js';
import { SigningKeyRing } from '../../src/signing/ring.js';
import type { Store } from '../../src/store/port.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';

describeStore('SigningKeyRing', (kind) => {
  let handle: StoreHandle;
  let store: Store;
  let ctx: ManualContext;
  let kek: Uint8Array;
  let ring: SigningKeyRing;
  const rings: SigningKeyRing[] = [];
  const makeRing = (s: Store, key = kek) => {
    const r = new SigningKeyRing({ store: s, ctx, sealer: new KeyEncryption(key, ctx), algs: ['ES256', 'EdDSA'], lastExpiry: lastExpiryOfKid });
    rings.push(r);
    return r;
  };

  beforeEach(async () => {
    handle = await freshStore(kind);
    store = handle.store;
    await store.migrate(MIGRATIONS);
    ctx = manualContext(new Date('2030-01-01T00:00:00Z'));
    kek = randomBytes(32);
    ring = makeRing(store);
    await ring.ensure();
  });
  afterEach(async () => {
    for (const r of rings.splice(0)) r.close();
    await handle.dispose();
  });

  it('keeps one active and one next key per algorithm, both published, private halves sealed', async () => {
    const keys = await ring.list();
    expect(keys.map((k) => `${k.alg}:${k.status}`).sort()).toEqual(['ES256:active', 'ES256:next', 'EdDSA:active', 'EdDSA:next']);
    const jwks = await ring.jwks();
    expect(jwks.keys).toHaveLength(4);
    for (const jwk of jwks.keys) {
      expect(jwk).not.toHaveProperty('d');
      expect(jwk.use).toBe('sig');
    }
    const rows = await store.all<{ private_sealed: string }>('SELECT private_sealed FROM signing_keys');
    for (const row of rows) {
      expect(row.private_sealed).toMatch(/^v1\./);
      expect(row.private_sealed).not.toContain('"d"');
    }
    // ensure() again changes nothing
    await ring.ensure();
    expect(await ring.list()).toHaveLength(4);
  });

  it('signs with the active key; its tokens verify against the JWKS', async () => {
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const key = await ring.signingKey(alg);
      const jwt = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg, kid: key.kid, typ: 'at+jwt' }).sign(key.privateKey);
      const { protectedHeader } = await jwtVerify(jwt, createLocalJWKSet(await ring.jwks()), { algorithms: [alg] });
      expect(protectedHeader.kid).toBe(key.kid);
    }
  });

  it('rotates: next was published before it signs; the retired key stays until its last token expires', async () => {
    const before = await ring.signingKey('ES256');
    const next = (await ring.list()).find((k) => k.alg === 'ES256' && k.status === 'next')!;
    expect((await ring.jwks()).keys.map((k) => k.kid)).toContain(next.kid);
    // a token signed by the active key that expires in 1 hour
    await store.run(
      "INSERT INTO oauth_access_tokens (jti, client_id, principal_id, format, scopes, audience, status, issued_at, expires_at, kid) VALUES ('atk_1', 'c', 'p', 'jwt', '[]', 'a', 'active', ?, ?, ?)",
      [ctx.now().getTime(), ctx.now().getTime() + 3_600_000, before.kid],
    );
    expect(await ring.rotate({ alg: 'ES256' })).toEqual([next.kid]);
    expect((await ring.signingKey('ES256')).kid).toBe(next.kid);
    const listed = await ring.list();
    const retired = listed.find((k) => k.kid === before.kid)!;
    expect(retired.status).toBe('retired');
    expect(Date.parse(retired.publishUntil!)).toBe(ctx.now().getTime() + 3_600_000 + 60_000);
    expect(listed.filter((k) => k.alg === 'ES256' && k.status === 'next')).toHaveLength(1);
    expect((await ring.jwks()).keys.map((k) => k.kid)).toContain(before.kid);
    ctx.advance(3_600_000 + 60_001);
    expect((await ring.jwks()).keys.map((k) => k.kid)).not.toContain(before.kid);
    const events = await listEvents(store, { type: 'signing_key.rotated' });
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toMatchObject({ alg: 'ES256', retired: before.kid });
  });

  it('rotates on schedule only when the active key is old enough, once across nodes', async () => {
    const day = 86_400_000;
    expect(await ring.rotate({ onlyIfOlderThan: 30 * day })).toEqual([]);
    ctx.advance(30 * day);
    // A cluster shares PostgreSQL; SQLite is served by one process (a second ring on it stands in).
    const other = kind === 'postgres' ? makeRing(await handle.another()) : makeRing(store);
    const [a, b] = await Promise.all([ring.rotate({ onlyIfOlderThan: 30 * day }), other.rotate({ onlyIfOlderThan: 30 * day })]);
    expect([...a, ...b]).toHaveLength(2); // one per algorithm, whoever won it
    expect((await ring.list()).filter((k) => k.status === 'active')).toHaveLength(2);
    expect(await listEvents(store, { type: 'signing_key.rotated' })).toHaveLength(2);
  });

  it('refuses to start with a different master key', async () => {
    const wrong = makeRing(store, randomBytes(32));
    await expect(wrong.ensure()).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringMatching(/master key does not match/) });
  });
});
