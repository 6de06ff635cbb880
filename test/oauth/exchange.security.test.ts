import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_EXCHANGE_DEPTH } from '../../src/oauth/index.js';
import { PG_UP, PG_URL } from '../support/stores.js';
import { claims, expectOAuthError, startOAuthServer, TOKEN_EXCHANGE, TT_ACCESS, TT_API_KEY, type OAuthServer, type RegisteredClient } from './support.js';

const ORDERS = 'https://orders.example.com';
const BILLING = 'https://billing.example.com';

/**
 * Attacks on token exchange (RFC 8693), SQLite and PostgreSQL: a token obtained by exchange must
 * never outlive the standing of what it was exchanged for — an API key suspended or revoked, a
 * token revoked, a client disabled, anywhere up the chain — at introspection and at a further
 * exchange; `act` claims nest (§4.1); a subject token must be of the type it is said to be (§2.2.2).
 * Each `it` reproduces a finding of issue #9 and failed before the fix.
 */
for (const kind of ['sqlite', 'postgres'] as const) {
  describe.runIf(kind === 'sqlite' || PG_UP)(`token exchange never outlives its source [${kind}]`, () => {
    let kt: OAuthServer;
    /** A client with tokens of its own (JWT), and a bank whose access tokens are opaque. */
    let app: RegisteredClient;
    let bank: RegisteredClient;
    /** Two exchanging clients (edge proxy, then a downstream service), and the resource server of both audiences. */
    let edge: RegisteredClient;
    let downstream: RegisteredClient;
    let rs: RegisteredClient;
    let n = 0;

    beforeAll(async () => {
      kt = await startOAuthServer(kind === 'postgres' ? { db: `${PG_URL}?schema=kt_xchg_${randomBytes(5).toString('hex')}` } : {});
      const common = { scopes: ['orders:read', 'orders:write'], audiences: [ORDERS, BILLING] };
      app = await kt.createClient({ name: 'app', grantTypes: ['client_credentials'], ...common });
      bank = await kt.createClient({ name: 'bank', grantTypes: ['client_credentials'], policy: 'banking', ...common });
      edge = await kt.createClient({ name: 'edge', grantTypes: [TOKEN_EXCHANGE], ...common });
      downstream = await kt.createClient({ name: 'downstream', grantTypes: [TOKEN_EXCHANGE], ...common });
      rs = await kt.createClient({ name: 'orders-api', scopes: [], grantTypes: ['client_credentials'], resourceServerFor: [ORDERS, BILLING] });
      expect((await kt.api('POST', '/v1/principals', { kind: 'user', name: 'dana' })).status).toBe(201);
    });
    afterAll(async () => kt.stop());

    const newKey = async (): Promise<{ id: string; key: string }> => {
      const res = await kt.api('POST', '/v1/keys', { owner: 'dana', name: `k${++n}`, scopes: ['orders:read'] });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return { id: res.body.id, key: res.body.key };
    };
    const issue = async (c: RegisteredClient): Promise<string> => {
      const res = await kt.form('/oauth/token', { grant_type: 'client_credentials', resource: ORDERS }, { basic: [c.id, c.secret] });
      expect(res.status, res.text).toBe(200);
      return res.body.access_token as string;
    };
    const exchangeRaw = (as: RegisteredClient, subject: string, type: string, audience = ORDERS) =>
      kt.form('/oauth/token', { grant_type: TOKEN_EXCHANGE, subject_token: subject, subject_token_type: type, audience }, { basic: [as.id, as.secret] });
    /** Exchanges with openid-client, as a real exchanging client does. */
    const exchange = async (as: RegisteredClient, subject: string, type: string, audience = ORDERS): Promise<string> => {
      const config = await client.discovery(new URL(kt.url), as.id, undefined, client.ClientSecretBasic(as.secret), { execute: [client.allowInsecureRequests] });
      const tokens = await client.genericGrantRequest(config, TOKEN_EXCHANGE, { subject_token: subject, subject_token_type: type, audience });
      return tokens.access_token;
    };
    /** Whether `token` introspects active, asked by its own client and by the audiences' resource server (both must agree). */
    const active = async (token: string, own: RegisteredClient): Promise<boolean> => {
      const byOwn = (await kt.introspect(token, own)).active;
      const byRs = (await kt.introspect(token, rs)).active;
      expect(byRs, 'the resource server and the own client agree').toBe(byOwn);
      return byOwn as boolean;
    };
    const post = async (path: string) => expect((await kt.api('POST', path, {})).status).toBe(200);

    it('an access token exchanged for an API key goes inactive while the key is suspended, and for good once it is revoked', async () => {
      const { id, key } = await newKey();
      const exchanged = await exchange(edge, key, TT_API_KEY);
      expect(await active(exchanged, edge)).toBe(true);
      await post(`/v1/keys/${id}/suspend`);
      expect(await active(exchanged, edge)).toBe(false);
      await post(`/v1/keys/${id}/unsuspend`);
      expect(await active(exchanged, edge)).toBe(true);
      await post(`/v1/keys/${id}/revoke`);
      expect(await active(exchanged, edge)).toBe(false);
      // …and the exchanged token cannot be exchanged on into a fresh one either.
      expectOAuthError(await exchangeRaw(downstream, exchanged, TT_ACCESS), 'invalid_request');
    });

    it("an access token exchanged for another client's token goes inactive when that client is disabled", async () => {
      const source = await issue(app);
      const exchanged = await exchange(edge, source, TT_ACCESS);
      expect(await active(exchanged, edge)).toBe(true);
      await post(`/v1/clients/${app.id}/disable`);
      try {
        expect(await active(source, rs)).toBe(false);
        expect(await active(exchanged, edge)).toBe(false);
        expectOAuthError(await exchangeRaw(downstream, exchanged, TT_ACCESS), 'invalid_request');
        // A disabled client's own token is no subject either.
        expectOAuthError(await exchangeRaw(edge, source, TT_ACCESS), 'invalid_request');
      } finally {
        await post(`/v1/clients/${app.id}/enable`);
      }
      expect(await active(exchanged, edge)).toBe(true);
    });

    it('revoking the source token (RFC 7009) revokes what was exchanged for it, opaque sources too', async () => {
      for (const source of [app, bank]) {
        const parent = await issue(source);
        const exchanged = await exchange(edge, parent, TT_ACCESS);
        expect(await active(exchanged, edge)).toBe(true);
        expect((await kt.form('/oauth/revoke', { token: parent }, { basic: [source.id, source.secret] })).status).toBe(200);
        expect(await active(exchanged, edge), source.view.name as string).toBe(false);
      }
    });

    it('a chain key → edge → downstream falls with any link: the key, the middle token, the middle client', async () => {
      const { id, key } = await newKey();
      const middle = await exchange(edge, key, TT_API_KEY);
      const last = await exchange(downstream, middle, TT_ACCESS, BILLING);
      expect(await active(last, downstream)).toBe(true);
      await post(`/v1/keys/${id}/suspend`);
      expect(await active(last, downstream)).toBe(false);
      expectOAuthError(await exchangeRaw(downstream, middle, TT_ACCESS), 'invalid_request');
      await post(`/v1/keys/${id}/unsuspend`);
      expect(await active(last, downstream)).toBe(true);
      await post(`/v1/clients/${edge.id}/disable`);
      expect(await active(last, downstream)).toBe(false);
      await post(`/v1/clients/${edge.id}/enable`);
      expect(await active(last, downstream)).toBe(true);
      // The principal everything acts for (the key's owner, the tokens' subject): disabling it stops the whole chain too.
      await post('/v1/principals/dana/disable');
      expect(await active(last, downstream)).toBe(false);
      await post('/v1/principals/dana/enable');
      expect(await active(last, downstream)).toBe(true);
    });

    it('exchanging an exchanged token nests the previous actor under act (RFC 8693 §4.1), in the JWT and at introspection', async () => {
      const { key } = await newKey();
      const middle = await exchange(edge, key, TT_API_KEY);
      expect(claims(middle).act).toEqual({ sub: edge.principal, client_id: edge.id });
      const last = await exchange(downstream, middle, TT_ACCESS);
      const nested = { sub: downstream.principal, client_id: downstream.id, act: { sub: edge.principal, client_id: edge.id } };
      expect(claims(last)).toMatchObject({ sub: expect.stringMatching(/^prn_/), act: nested });
      expect(await kt.introspect(last, rs)).toMatchObject({ active: true, act: nested });
    });

    it('a chain of exchanges is bounded', async () => {
      const { key } = await newKey();
      let token = await exchange(edge, key, TT_API_KEY);
      for (let depth = 2; depth <= MAX_EXCHANGE_DEPTH; depth++) token = await exchange(depth % 2 ? edge : downstream, token, TT_ACCESS);
      const res = await exchangeRaw(edge, token, TT_ACCESS);
      expectOAuthError(res, 'invalid_request');
      expect(res.body.error_description).toMatch(/exchanged too often/);
    });

    it('a subject token of another type than subject_token_type says is refused with invalid_request (RFC 8693 §2.2.2)', async () => {
      const { key } = await newKey();
      const asAccess = await exchangeRaw(edge, key, TT_ACCESS);
      expectOAuthError(asAccess, 'invalid_request');
      expect(asAccess.body.error_description).toMatch(/is an API key/);
      for (const token of [await issue(app), await issue(bank)]) {
        const asKey = await exchangeRaw(edge, token, TT_API_KEY);
        expectOAuthError(asKey, 'invalid_request');
        expect(asKey.body.error_description).toMatch(/is an access token/);
      }
    });
  });
}
