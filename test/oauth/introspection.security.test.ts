import { randomBytes } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_UP, PG_URL } from '../support/stores.js';
import { startOAuthServer, type OAuthServer, type RegisteredClient } from './support.js';

const ORDERS = 'https://orders.example.com';
const BILLING = 'https://billing.example.com';

/**
 * Issue #9, items 7 and 11, SQLite and PostgreSQL: any client could introspect any other client's
 * tokens and learn their subject, scopes and audience (RFC 7662 §4 says to limit it); and
 * `client_credentials` handed out refresh tokens to every client listing the refresh grant (RFC
 * 6749 §4.4.3 says it SHOULD NOT). Each `it` failed before the fix.
 */
for (const kind of ['sqlite', 'postgres'] as const) {
  describe.runIf(kind === 'sqlite' || PG_UP)(`introspection and refresh tokens limited [${kind}]`, () => {
    let kt: OAuthServer;
    let as: oauth.AuthorizationServer;
    const insecure = { [oauth.allowInsecureRequests]: true } as const;
    let victim: RegisteredClient;
    let snoop: RegisteredClient;
    let ordersApi: RegisteredClient;
    let billingApi: RegisteredClient;

    beforeAll(async () => {
      kt = await startOAuthServer(kind === 'postgres' ? { db: `${PG_URL}?schema=kt_intro_${randomBytes(5).toString('hex')}` } : {});
      const issuer = new URL(kt.url);
      as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
      victim = await kt.createClient({ name: 'victim', scopes: ['read'], grantTypes: ['client_credentials', 'refresh_token'], audiences: [ORDERS, BILLING], policy: 'banking', policyOverrides: { clientCredentialsRefresh: true } });
      snoop = await kt.createClient({ name: 'snoop', scopes: ['read'], grantTypes: ['client_credentials'] });
      ordersApi = await kt.createClient({ name: 'orders-api', scopes: [], grantTypes: ['client_credentials'], resourceServerFor: [ORDERS] });
      billingApi = await kt.createClient({ name: 'billing-api', scopes: [], grantTypes: ['client_credentials'], resourceServerFor: [BILLING] });
    });
    afterAll(async () => kt.stop());

    /** Introspects with oauth4webapi as `who`. */
    const introspectAs = async (who: RegisteredClient, token: string): Promise<oauth.IntrospectionResponse> => {
      const c: oauth.Client = { client_id: who.id };
      return oauth.processIntrospectionResponse(as, c, await oauth.introspectionRequest(as, c, oauth.ClientSecretBasic(who.secret), token, insecure));
    };

    it("another client learns nothing of a token (RFC 7662 §4); its own client and its audience's resource server do", async () => {
      for (const format of ['jwt', 'opaque'] as const) {
        const c = format === 'jwt' ? await kt.createClient({ name: `jwt-victim-${kind}`, scopes: ['read'], grantTypes: ['client_credentials'], audiences: [ORDERS] }) : victim;
        const res = await kt.form('/oauth/token', { grant_type: 'client_credentials', resource: ORDERS }, { basic: [c.id, c.secret] });
        const token = res.body.access_token as string;
        expect(await introspectAs(snoop, token), format).toEqual({ active: false });
        expect(await introspectAs(billingApi, token), `${format}: a resource server of another audience`).toEqual({ active: false });
        expect(await introspectAs(ordersApi, token)).toMatchObject({ active: true, client_id: c.id, sub: c.principal, aud: ORDERS, scope: 'read' });
        expect(await introspectAs(c, token)).toMatchObject({ active: true, client_id: c.id });
      }
    });

    it('registering a client as resource server for an audience (PATCH) is what lets it introspect; removing it takes that away', async () => {
      const res = await kt.form('/oauth/token', { grant_type: 'client_credentials', resource: BILLING }, { basic: [victim.id, victim.secret] });
      const token = res.body.access_token as string;
      expect(await introspectAs(snoop, token)).toEqual({ active: false });
      expect((await kt.api('PATCH', `/v1/clients/${snoop.id}`, { resourceServerFor: [BILLING] })).body).toMatchObject({ resourceServerFor: [BILLING] });
      expect(await introspectAs(snoop, token)).toMatchObject({ active: true, aud: BILLING });
      await kt.api('PATCH', `/v1/clients/${snoop.id}`, { resourceServerFor: [] });
      expect(await introspectAs(snoop, token)).toEqual({ active: false });
      const bad = await kt.api('PATCH', `/v1/clients/${snoop.id}`, { resourceServerFor: ['has space'] });
      expect(bad.status).toBe(400);
    });

    it('a refresh token is introspected by its own client only, resource servers included', async () => {
      const res = await kt.form('/oauth/token', { grant_type: 'client_credentials', resource: ORDERS }, { basic: [victim.id, victim.secret] });
      const rt = res.body.refresh_token as string;
      expect(rt).toMatch(/^ktr_/);
      expect(await introspectAs(ordersApi, rt)).toEqual({ active: false });
      expect(await introspectAs(victim, rt)).toMatchObject({ active: true, token_type: 'refresh_token' });
    });

    it('client_credentials issues no refresh token by default (RFC 6749 §4.4.3), even to a client with the refresh grant; only a policy that asks', async () => {
      for (const policy of ['default', 'banking', 'public-read']) {
        const c = await kt.createClient({ name: `cc-${policy}-${kind}`, scopes: ['read'], grantTypes: ['client_credentials', 'refresh_token'], policy });
        const config = await client.discovery(new URL(kt.url), c.id, undefined, client.ClientSecretBasic(c.secret), { execute: [client.allowInsecureRequests] });
        const tokens = await client.clientCredentialsGrant(config);
        expect(tokens.access_token, policy).toBeTypeOf('string');
        expect(tokens.refresh_token, policy).toBeUndefined();
        expect((await kt.api('GET', `/v1/clients/${c.id}/grants`)).body.items, policy).toEqual([]);
        // A later PATCH of something else keeps what the policy asks (the overrides were wiped by any PATCH before).
        await kt.api('PATCH', `/v1/clients/${c.id}`, { policyOverrides: { clientCredentialsRefresh: true } });
        await kt.api('PATCH', `/v1/clients/${c.id}`, { scopes: ['read'] });
        expect((await client.clientCredentialsGrant(config)).refresh_token, policy).toMatch(/^ktr_/);
      }
    });
  });
}
