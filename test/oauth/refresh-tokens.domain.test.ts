import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { listEvents, SYSTEM } from '../../src/audit/events.js';
import { loadConfig } from '../../src/config/load.js';
import { manualContext, type ManualContext } from '../../src/core/context.js';
import { resolvePolicy, type Policy } from '../../src/core/policy.js';
import type { RefreshUse } from '../../src/oauth/refresh-tokens.js';
import { openKeyturn, type Keyturn } from '../../src/runtime/open.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';

describeStore('refresh token rotation rules', (kind) => {
  let handle: StoreHandle;
  let kt: Keyturn;
  let ctx: ManualContext;
  let dir: string;
  let clientId: string;
  const policy: Policy = resolvePolicy('default', { refreshReuseGraceSeconds: 10, refreshReuseGraceCount: 1 });

  beforeEach(async () => {
    handle = await freshStore(kind);
    dir = mkdtempSync(join(tmpdir(), 'keyturn-rt-'));
    ctx = manualContext(new Date('2030-01-01T00:00:00Z'));
    // The adapter under test was opened by freshStore; keyturn opens its own on the same database.
    kt = await openKeyturn(loadConfig({ flags: { dataDir: dir, db: handle.db } }), { ctx });
    const { client } = await kt.oauth.clients.create({ name: 'app', scopes: ['read'], grantTypes: ['client_credentials', 'refresh_token'] }, SYSTEM);
    clientId = client.clientId;
  });
  afterEach(async () => {
    await kt.close();
    await handle.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = () =>
    kt.store.transaction((tx) => kt.oauth.refreshTokens.start(tx, { clientId, principal: 'prn_x', scopes: ['read'], audience: 'aud' }, policy));
  const use = (token: string, p: Policy = policy, client = clientId): Promise<RefreshUse> =>
    kt.store.transaction((tx) => kt.oauth.refreshTokens.use(tx, token, client, p, SYSTEM));
  const ok = async (token: string, p?: Policy) => {
    const r = await use(token, p);
    if (!r.ok) throw new Error(`expected ok, got ${r.reason}`);
    return r;
  };

  it('rotates on every use and counts generations', async () => {
    const { refreshToken: t1 } = await start();
    const r2 = await ok(t1);
    expect(r2.grant.generation).toBe(2);
    expect(r2.refreshToken).not.toBe(t1);
    const r3 = await ok(r2.refreshToken);
    expect(r3.grant.generation).toBe(3);
    expect(r3.graceReuse).toBe(false);
  });

  it('lets the immediately previous token be used again within the grace seconds and count only', async () => {
    const { refreshToken: t1 } = await start();
    await ok(t1);
    ctx.advance(10_000);
    const again = await ok(t1);
    expect(again.graceReuse).toBe(true);
    expect(again.grant.generation).toBe(2);
    // the count (1) is spent: the next reuse is detected
    expect(await use(t1)).toEqual({ ok: false, reason: 'reuse' });
  });

  it('treats the previous token after the grace as reuse and revokes the whole family', async () => {
    const { refreshToken: t1, grant } = await start();
    const r2 = await ok(t1);
    ctx.advance(10_001);
    expect(await use(t1)).toEqual({ ok: false, reason: 'reuse' });
    expect(await use(r2.refreshToken)).toEqual({ ok: false, reason: 'revoked' });
    expect((await kt.oauth.refreshTokens.getGrant(grant.id)).status).toBe('revoked');
    const detections = await listEvents(kt.store, { type: 'detection.refresh_reuse' });
    expect(detections).toHaveLength(1);
    expect(detections[0]).toMatchObject({ target: grant.id, data: { presentedGeneration: 1, currentGeneration: 2 } });
  });

  it('always treats an older generation as reuse, even inside the grace', async () => {
    const { refreshToken: t1 } = await start();
    const r2 = await ok(t1);
    await ok(r2.refreshToken);
    expect(await use(t1)).toEqual({ ok: false, reason: 'reuse' });
  });

  it('retires unused siblings when the family moves on, keeping them as "previous"', async () => {
    const { refreshToken: t1 } = await start();
    const r2 = await ok(t1);
    const sibling = await ok(t1); // grace reuse: a second generation-2 token
    await ok(r2.refreshToken); // generation 3; the sibling becomes the previous generation
    const viaSibling = await ok(sibling.refreshToken); // within grace: allowed once
    expect(viaSibling.graceReuse).toBe(true);
    ctx.advance(10_001);
    expect(await use(sibling.refreshToken)).toEqual({ ok: false, reason: 'reuse' });
  });

  it('rejects unknown, foreign-client and expired tokens without touching the family', async () => {
    const { refreshToken: t1, grant } = await start();
    expect(await use('ktr_nope')).toEqual({ ok: false, reason: 'unknown' });
    expect(await use(t1, policy, 'ktc_other')).toEqual({ ok: false, reason: 'wrong_client' });
    ctx.advance(policy.refreshTokenTtl * 1000);
    expect(await use(t1)).toEqual({ ok: false, reason: 'expired' });
    expect((await kt.oauth.refreshTokens.getGrant(grant.id)).status).toBe('active');
  });

  it('serialises concurrent uses of one token: with a grace both succeed, without one is reuse', async () => {
    const { refreshToken: t1 } = await start();
    const both = await Promise.all([use(t1), use(t1)]);
    expect(both.filter((r) => r.ok)).toHaveLength(2);
    expect(both.filter((r) => r.ok && r.graceReuse)).toHaveLength(1);

    const strict = resolvePolicy('banking');
    const { refreshToken: s1, grant } = await kt.store.transaction((tx) =>
      kt.oauth.refreshTokens.start(tx, { clientId, principal: 'prn_x', scopes: ['read'], audience: 'aud' }, strict),
    );
    const race = await Promise.all([use(s1, strict), use(s1, strict)]);
    expect(race.filter((r) => r.ok)).toHaveLength(1);
    expect(race.filter((r) => !r.ok && r.reason === 'reuse')).toHaveLength(1);
    expect((await kt.oauth.refreshTokens.getGrant(grant.id)).status).toBe('revoked');
  });
});
