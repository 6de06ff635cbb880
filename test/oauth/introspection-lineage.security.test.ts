import { randomBytes } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/runtime/open.js';
import { describeStore, freshStore, PG_UP, PG_URL } from '../support/stores.js';
import { startOAuthServer, TOKEN_EXCHANGE, TT_ACCESS, TT_API_KEY, type OAuthServer, type RegisteredClient } from './support.js';

const ORDERS = 'https://orders.example.com';

/**
 * Issue #9 follow-ups, SQLite and PostgreSQL:
 * - introspection got 20-42% slower once it walked the token-exchange lineage for every token:
 *   a token never produced by exchange must cost no lineage read, while an exchanged one (even one
 *   without `act`: a client exchanging its own principal's token) still falls with its source;
 * - an introspection refused under RFC 7662 §4 (the caller is neither the token's client nor a
 *   resource server of its audience) was recorded as an unknown token (`inactive`), so nobody could
 *   tell snooping from a stale token: it now has its own reason, `not_permitted`, and the same
 *   aggregation as every failure (one event, then one summary; not a row per request).
 * Each `it` failed before the fix.
 */
for (const kind of ['sqlite', 'postgres'] as const) {
  describe.runIf(kind === 'sqlite' || PG_UP)(`introspection: lineage only for exchanged tokens, refusals audited [${kind}]`, () => {
    let kt: OAuthServer;
    let app: RegisteredClient;
    let edge: RegisteredClient;
    let rs: RegisteredClient;
    let snoop: RegisteredClient;
    /** SQL the store was asked (get) while `recording`. */
    const reads: string[] = [];
    let recording = false;

    beforeAll(async () => {
      kt = await startOAuthServer(kind === 'postgres' ? { db: `${PG_URL}?schema=kt_lin_${randomBytes(5).toString('hex')}` } : {});
      const common = { scopes: ['orders:read'], audiences: [ORDERS] };
      app = await kt.createClient({ name: 'app', grantTypes: ['client_credentials', TOKEN_EXCHANGE], ...common });
      edge = await kt.createClient({ name: 'edge', grantTypes: [TOKEN_EXCHANGE], ...common });
      rs = await kt.createClient({ name: 'orders-api', scopes: [], grantTypes: ['client_credentials'], resourceServerFor: [ORDERS] });
      snoop = await kt.createClient({ name: 'snoop', scopes: ['orders:read'], grantTypes: ['client_credentials'] });
      expect((await kt.api('POST', '/v1/principals', { kind: 'user', name: 'erin' })).status).toBe(201);
      const store = kt.kt.store;
      const get = store.get.bind(store);
      store.get = ((sql: string, params?: readonly unknown[]) => {
        if (recording) reads.push(sql);
        return get(sql, params as never);
      }) as typeof store.get;
    });
    afterAll(async () => kt.stop());

    const issue = async (c: RegisteredClient): Promise<string> => {
      const res = await kt.form('/oauth/token', { grant_type: 'client_credentials', resource: ORDERS }, { basic: [c.id, c.secret] });
      expect(res.status, res.text).toBe(200);
      return res.body.access_token as string;
    };
    const exchange = async (as: RegisteredClient, subject: string, type: string): Promise<string> => {
      const config = await client.discovery(new URL(kt.url), as.id, undefined, client.ClientSecretBasic(as.secret), { execute: [client.allowInsecureRequests] });
      return (await client.genericGrantRequest(config, TOKEN_EXCHANGE, { subject_token: subject, subject_token_type: type, audience: ORDERS })).access_token;
    };
    /** Introspects as `who` and returns the answer with the lineage reads it cost. */
    const introspectCounting = async (token: string, who: RegisteredClient): Promise<{ active: unknown; lineageReads: number }> => {
      reads.length = 0;
      recording = true;
      try {
        const body = await kt.introspect(token, who);
        return { active: body.active, lineageReads: reads.filter((sql) => /oauth_token_lineage/.test(sql)).length };
      } finally {
        recording = false;
      }
    };

    it('a token issued directly (client_credentials) is introspected without reading the lineage', async () => {
      const token = await issue(app);
      expect(await introspectCounting(token, rs)).toEqual({ active: true, lineageReads: 0 });
      expect(await introspectCounting(token, app)).toEqual({ active: true, lineageReads: 0 });
    });

    it('an exchanged token still reads its lineage and falls with its source, act or no act', async () => {
      // `app` exchanges a token of its own principal: no actor, so no `act` claim to go by.
      const parent = await issue(app);
      const own = await exchange(app, parent, TT_ACCESS);
      expect(JSON.parse(Buffer.from(own.split('.')[1]!, 'base64url').toString()).act).toBeUndefined();
      const viaKey = await newKeyExchanged();
      for (const t of [own, viaKey.token]) expect(await introspectCounting(t, rs)).toMatchObject({ active: true, lineageReads: 1 });
      expect((await kt.form('/oauth/revoke', { token: parent }, { basic: [app.id, app.secret] })).status).toBe(200);
      expect(await introspectCounting(own, rs)).toMatchObject({ active: false });
      expect((await kt.api('POST', `/v1/keys/${viaKey.keyId}/revoke`, {})).status).toBe(200);
      expect(await introspectCounting(viaKey.token, rs)).toMatchObject({ active: false });
    });

    it('an exchanged token whose lineage is missing is not trusted (fails closed)', async () => {
      const { token } = await newKeyExchanged();
      const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string;
      expect((await kt.introspect(token, rs)).active).toBe(true);
      await kt.kt.store.run('DELETE FROM oauth_token_lineage WHERE jti = ?', [jti]);
      expect((await kt.introspect(token, rs)).active).toBe(false);
    });

    let n = 0;
    async function newKeyExchanged(): Promise<{ keyId: string; token: string }> {
      const res = await kt.api('POST', '/v1/keys', { owner: 'erin', name: `k${++n}`, scopes: ['orders:read'] });
      expect(res.status).toBe(201);
      return { keyId: res.body.id as string, token: await exchange(edge, res.body.key as string, TT_API_KEY) };
    }

    it('a refused introspection (RFC 7662 §4) is audited as not_permitted, apart from unknown tokens, and aggregated', async () => {
      const insecure = { [oauth.allowInsecureRequests]: true } as const;
      const issuer = new URL(kt.url);
      const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
      const c: oauth.Client = { client_id: snoop.id };
      const introspect = async (token: string) =>
        oauth.processIntrospectionResponse(as, c, await oauth.introspectionRequest(as, c, oauth.ClientSecretBasic(snoop.secret), token, insecure));
      const events = async (reason: string) =>
        ((await kt.api('GET', `/v1/events?type=token.introspection_failed&target=${snoop.id}`)).body.items as Array<{ reason: string; data: Record<string, unknown> }>).filter(
          (e) => e.reason === reason,
        );

      const victims = [await issue(app), await issue(app), await issue(app)];
      for (let i = 0; i < 30; i++) expect(await introspect(victims[i % 3]!)).toEqual({ active: false });
      const refused = await events('not_permitted');
      expect(refused).toHaveLength(1);
      expect(refused[0]!.data).toEqual({ hint: null, tokenClient: app.id });
      // An unknown token is still `inactive`, a group of its own.
      expect(await introspect('kta_nothing_here')).toEqual({ active: false });
      expect(await events('inactive')).toHaveLength(1);
      expect(await events('not_permitted')).toHaveLength(1);
      // The rest of the burst is one summary with its count, not 29 rows.
      await kt.kt.failures.flush(true);
      const summaries = (await kt.api('GET', `/v1/events?type=audit.failures_summarized&target=${snoop.id}`)).body.items as Array<{ reason: string; data: { of: string; count: number } }>;
      expect(summaries.filter((s) => s.reason === 'not_permitted')).toEqual([expect.objectContaining({ data: expect.objectContaining({ of: 'token.introspection_failed', count: 29 }) })]);
      // Its own client and the resource server still learn everything: the refusal changed nothing.
      expect((await kt.introspect(victims[0]!, rs)).active).toBe(true);
    });
  });
}

/**
 * Tokens exchanged before migration 0120 have no mark on their row: the migration marks them from
 * the lineage, so upgrading never lets an exchanged token skip its chain check.
 */
describeStore('migration 0120 marks tokens exchanged before it', (kind) => {
  it('marks exactly the tokens that have a lineage row', async () => {
    const handle = await freshStore(kind);
    try {
      await handle.store.migrate(MIGRATIONS.filter((m) => m.id < '0120'));
      const row = (jti: string) =>
        handle.store.run(
          "INSERT INTO oauth_access_tokens (jti, client_id, principal_id, format, scopes, audience, status, issued_at, expires_at) VALUES (?, 'ktc_x', 'prn_x', 'jwt', '[]', 'a', 'active', 0, 9999999999999)",
          [jti],
        );
      await row('atk_direct');
      await row('atk_exchanged');
      await handle.store.run("INSERT INTO oauth_token_lineage (jti, parent_kind, parent_id, depth, expires_at) VALUES ('atk_exchanged', 'api_key', 'key_x', 1, 9999999999999)");
      expect(await handle.store.migrate(MIGRATIONS)).toContain('0120_oauth_access_tokens_exchanged');
      const marks = await handle.store.all<{ jti: string; exchanged: number }>('SELECT jti, exchanged FROM oauth_access_tokens ORDER BY jti');
      expect(marks.map((m) => [m.jti, Number(m.exchanged)])).toEqual([
        ['atk_direct', 0],
        ['atk_exchanged', 1],
      ]);
    } finally {
      await handle.dispose();
    }
  });
});
