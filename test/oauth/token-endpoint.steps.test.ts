import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { listEvents, SYSTEM } from '../../src/audit/events.js';
import { loadConfig } from '../../src/config/load.js';
import { manualContext, type ManualContext } from '../../src/core/context.js';
import { KeyturnError } from '../../src/core/errors.js';
import { channelExporterDigest, channelThumbprint } from '../../src/core/channel.js';
import { resolvePolicy } from '../../src/core/policy.js';
import { ClientAuthenticator } from '../../src/oauth/client-auth.js';
import type { Client } from '../../src/oauth/clients.js';
import { decideClientCredentials } from '../../src/oauth/grants/client-credentials.js';
import { decideRefresh } from '../../src/oauth/grants/refresh-token.js';
import { decideTokenExchange, TOKEN_EXCHANGE, TOKEN_TYPE_API_KEY } from '../../src/oauth/grants/token-exchange.js';
import {
  authenticateClient,
  bind,
  decide,
  parseGrantType,
  persist,
  sign,
  type TokenEndpointDeps,
  type TokenRequest,
} from '../../src/oauth/token-endpoint.js';
import { openKeyturn, type Keyturn } from '../../src/runtime/open.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';
import { basic, claims } from './support.js';

/** Runs `fn` and returns what it threw (a step's refusal), failing when it did not throw. */
async function refusal(fn: () => unknown): Promise<KeyturnError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KeyturnError);
    return err as KeyturnError;
  }
  throw new Error('expected a KeyturnError');
}

describeStore('token endpoint steps', (kind) => {
  let handle: StoreHandle;
  let kt: Keyturn;
  let ctx: ManualContext;
  let dir: string;
  let deps: TokenEndpointDeps;
  let app: { id: string; secret: string };
  let client: Client;

  beforeEach(async () => {
    handle = await freshStore(kind);
    dir = mkdtempSync(join(tmpdir(), 'keyturn-steps-'));
    ctx = manualContext(new Date('2030-01-01T00:00:00Z'));
    kt = await openKeyturn(loadConfig({ flags: { dataDir: dir, db: handle.db } }), { ctx });
    const created = await kt.oauth.clients.create(
      {
        name: 'app',
        scopes: ['read', 'write'],
        grantTypes: ['client_credentials', 'refresh_token', TOKEN_EXCHANGE],
        audiences: ['https://api.example'],
        policyOverrides: { clientCredentialsRefresh: true },
      },
      SYSTEM,
    );
    app = { id: created.client.clientId, secret: created.secret! };
    client = (await kt.oauth.clients.find(app.id))!;
    // The endpoint's dependencies, as the composition root builds them.
    deps = {
      store: kt.store,
      ctx,
      issuer: kt.issuer,
      authenticator: new ClientAuthenticator(kt.oauth.clients, kt.store, ctx),
      accessTokens: kt.oauth.accessTokens,
      refreshTokens: kt.oauth.refreshTokens,
      principals: kt.principals,
      keys: kt.keys,
      lineage: kt.oauth.lineage,
    };
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await kt.close();
    await handle.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const request = (form: Record<string, string>, extra: Partial<TokenRequest> = {}): TokenRequest => ({
    form,
    authorization: basic(app.id, app.secret),
    endpoint: `${kt.issuer()}/oauth/token`,
    meta: SYSTEM,
    ...extra,
  });

  it('parse: grant_type is required, before anything else', async () => {
    expect(parseGrantType({ grant_type: 'client_credentials' })).toBe('client_credentials');
    expect(await refusal(() => parseGrantType({ scope: 'read' }))).toMatchObject({ code: 'ERR_VALIDATION' });
  });

  it('authenticate: the client by its secret, or invalid_client (audited)', async () => {
    expect((await authenticateClient(deps, request({ grant_type: 'client_credentials' }))).clientId).toBe(app.id);
    const wrong = request({ grant_type: 'client_credentials' }, { authorization: basic(app.id, 'ktcs_wrong') });
    expect(await refusal(() => authenticateClient(deps, wrong))).toMatchObject({ code: 'ERR_INVALID_CLIENT' });
    expect(await listEvents(kt.store, { type: 'client.auth_failed' })).toHaveLength(1);
  });

  it('decide client_credentials: synchronously, from the client and the form alone', () => {
    const decided = decide(deps, 'client_credentials', client, { grant_type: 'client_credentials', scope: 'read' });
    expect(decided).not.toBeInstanceOf(Promise);
    expect(decided).toMatchObject({
      grantType: 'client_credentials',
      issue: {
        grant: { clientId: app.id, principal: client.principal, scopes: ['read'], audience: 'https://api.example' },
        options: { ttl: client.policy.accessTokenTtl, format: 'jwt', alg: 'ES256' },
      },
      refreshFamily: client.policy,
    });
    expect(decideClientCredentials(client, { grant_type: 'client_credentials' }).issue.grant.scopes).toEqual(['read', 'write']);
    expect(() => decideClientCredentials(client, { scope: 'admin' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_SCOPE' }));
    expect(() => decideClientCredentials(client, { audience: 'https://other.example' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_TARGET' }));
    const noRefresh = { ...client, grantTypes: ['client_credentials'] } as Client;
    expect(decideClientCredentials(noRefresh, {}).refreshFamily).toBeNull();
    // RFC 6749 §4.4.3: only a policy that asks for it starts a family; no preset does.
    for (const preset of ['default', 'banking', 'public-read']) {
      const notAsked = { ...client, policy: resolvePolicy(preset) } as Client;
      expect(decideClientCredentials(notAsked, {}).refreshFamily, preset).toBeNull();
    }
    const other = { ...client, grantTypes: ['refresh_token'] } as Client;
    expect(() => decideClientCredentials(other, {})).toThrow(expect.objectContaining({ code: 'ERR_UNAUTHORIZED_CLIENT' }));
  });

  it('decide: an unsupported grant type is refused with a description safe for RFC 6749 §5.2', async () => {
    const err = await refusal(() => decide(deps, 'password"\\\u00e9', client, {}));
    expect(err.code).toBe('ERR_UNSUPPORTED_GRANT_TYPE');
    expect(err.message).toMatch(/^unsupported grant_type password\?\?\?$/);
  });

  it('bind: no proof under a policy without binding is a bearer token; a proof without DPoP enabled is refused', async () => {
    const decision = decideClientCredentials(client, {});
    const tls = { protocol: 'TLSv1.3', peerCertificate: () => new Uint8Array([1]), peerVerified: () => false, exportKeyingMaterial: () => new Uint8Array(32) };
    expect((await bind({}, request({}, { tls }), decision, SYSTEM)).cnf).toBeUndefined();
    expect((await bind({}, request({}), decision, SYSTEM)).cnf).toBeUndefined();
    expect((await refusal(() => bind({}, request({}, { dpop: 'eyJ.proof.sig', tls }), decision, SYSTEM))).code).toBe('ERR_INVALID_DPOP_PROOF');
    const mtls = decideClientCredentials({ ...client, policy: { ...client.policy, binding: 'mtls' } } as Client, {});
    expect((await refusal(() => bind({}, request({}), mtls, SYSTEM))).code).toBe('ERR_BINDING_REQUIRED');
    // mtls is satisfiable now: a certificate-bound client on a connection with its certificate.
    const certBound = decideClientCredentials({ ...client, certificateBoundAccessTokens: true, policy: { ...client.policy, binding: 'mtls' } } as Client, {});
    expect((await bind({}, request({}, { tls }), certBound, SYSTEM)).cnf).toEqual({ 'x5t#S256': expect.stringMatching(/^[\w-]{43}$/) });
    expect((await refusal(() => bind({}, request({}), certBound, SYSTEM))).code).toBe('ERR_VALIDATION');
    // tls-session is satisfiable too: the session digest (tls_exporter#S256, the member the policy names).
    const session = decideClientCredentials({ ...client, policy: { ...client.policy, binding: 'tls-session' } } as Client, {});
    const digest = channelExporterDigest(tls)!;
    expect((await bind({}, request({ tls_exporter: digest }, { tls }), session, SYSTEM)).cnf).toEqual({ 'tls_exporter#S256': digest });
    expect((await refusal(() => bind({}, request({}, { tls }), session, SYSTEM))).code).toBe('ERR_BINDING_REQUIRED');
  });

  it('bind: a subject token bound to a certificate or TLS session is exchanged on that connection only; another member is refused', async () => {
    const tls = { protocol: 'TLSv1.3', peerCertificate: () => new Uint8Array([1]), peerVerified: () => false, exportKeyingMaterial: () => new Uint8Array(32) };
    const otherTls = { ...tls, peerCertificate: () => new Uint8Array([2]), exportKeyingMaterial: () => new Uint8Array(32).fill(7) };
    const exchange = (cnf: Record<string, string>) => ({ ...decideClientCredentials(client, {}), grantType: TOKEN_EXCHANGE, subject: { cnf } }) as unknown as Parameters<typeof bind>[2];
    const subjects: Record<string, string>[] = [{ 'x5t#S256': channelThumbprint(tls)! }, { 'tls_exporter#S256': channelExporterDigest(tls)! }];
    for (const cnf of subjects) {
      expect((await bind({}, request({}, { tls }), exchange(cnf), SYSTEM)).cnf).toBeUndefined();
      expect((await refusal(() => bind({}, request({}, { tls: otherTls }), exchange(cnf), SYSTEM))).code).toBe('ERR_BINDING_REQUIRED');
      expect((await refusal(() => bind({}, request({}), exchange(cnf), SYSTEM))).code).toBe('ERR_BINDING_REQUIRED');
    }
    expect((await refusal(() => bind({}, request({}, { tls }), exchange({ 'tls-exp#S256': channelExporterDigest(tls)! }), SYSTEM))).code).toBe('ERR_BINDING_REQUIRED');
  });

  it('sign writes nothing; persist records the token and its event in one transaction', async () => {
    const decision = decideClientCredentials({ ...client, grantTypes: ['client_credentials'] } as Client, { scope: 'write' });
    const signed = await sign(kt.oauth.accessTokens, decision.issue, await bind({}, request({}), decision, SYSTEM));
    expect(claims(signed.token)).toMatchObject({ sub: client.principal, client_id: app.id, scope: 'write', aud: 'https://api.example' });
    expect(claims(signed.token).cnf).toBeUndefined();
    expect(await kt.oauth.accessTokens.inspect(signed.token)).toBeUndefined();
    expect(await listEvents(kt.store, { type: 'token.issued' })).toHaveLength(0);

    const response = await persist(deps, decision, signed, SYSTEM);
    expect(response).toEqual({ access_token: signed.token, token_type: 'Bearer', expires_in: client.policy.accessTokenTtl, scope: 'write' });
    expect(await kt.oauth.accessTokens.inspect(signed.token)).toMatchObject({ jti: signed.jti, grantId: null });
    expect(await listEvents(kt.store, { type: 'token.issued' })).toMatchObject([{ target: app.id, data: { jti: signed.jti, grant: null } }]);
  });

  it('sign carries what the binding step returns as cnf (RFC 7800)', async () => {
    const decision = decideClientCredentials(client, {});
    const signed = await sign(kt.oauth.accessTokens, decision.issue, { cnf: { jkt: 'thumbprint' } });
    expect(claims(signed.token).cnf).toEqual({ jkt: 'thumbprint' });
  });

  it('signs outside every store transaction, for every grant', async () => {
    let depth = 0;
    const transaction = kt.store.transaction.bind(kt.store);
    vi.spyOn(kt.store, 'transaction').mockImplementation((async (fn: Parameters<typeof transaction>[0]) => {
      depth++;
      try {
        return await transaction(fn);
      } finally {
        depth--;
      }
    }) as typeof kt.store.transaction);
    const signedInside: boolean[] = [];
    const prepare = kt.oauth.accessTokens.prepare.bind(kt.oauth.accessTokens);
    vi.spyOn(kt.oauth.accessTokens, 'prepare').mockImplementation(async (grant, options) => {
      signedInside.push(depth > 0);
      return prepare(grant, options);
    });
    const endpoint = kt.oauth.tokenEndpoint;
    const first = await endpoint.handle(request({ grant_type: 'client_credentials' }));
    const refreshed = await endpoint.handle(request({ grant_type: 'refresh_token', refresh_token: first.refresh_token! }));
    expect(refreshed.refresh_token).toBeDefined();
    const owner = await kt.principals.create({ kind: 'service', name: 'alice' }, SYSTEM);
    const { secret: apiKey } = await kt.keys.create({ owner: owner.id, name: 'ci', scopes: ['read'] }, SYSTEM);
    const exchanged = await endpoint.handle(
      request({ grant_type: TOKEN_EXCHANGE, subject_token: apiKey, subject_token_type: TOKEN_TYPE_API_KEY, audience: 'https://api.example' }),
    );
    expect(exchanged.issued_token_type).toBeDefined();
    expect(signedInside).toEqual([false, false, false]);
  });

  it('decide refresh_token: unknown, foreign and revoked tokens are refused before anything is signed', async () => {
    const first = await kt.oauth.tokenEndpoint.handle(request({ grant_type: 'client_credentials' }));
    const prepare = vi.spyOn(kt.oauth.accessTokens, 'prepare');
    expect(await refusal(() => decideRefresh(deps, client, { refresh_token: 'ktr_nope' }))).toMatchObject({ code: 'ERR_INVALID_GRANT', message: 'refresh token is invalid' });
    const { client: other } = await kt.oauth.clients.create({ name: 'other', grantTypes: ['client_credentials', 'refresh_token'] }, SYSTEM);
    const otherClient = (await kt.oauth.clients.find(other.clientId))!;
    expect(await refusal(() => decideRefresh(deps, otherClient, { refresh_token: first.refresh_token! }))).toMatchObject({
      message: 'refresh token was issued to another client',
    });
    const [grant] = await kt.oauth.refreshTokens.listGrants(app.id);
    await kt.oauth.refreshTokens.revokeGrant(grant!.id, { stored: 'test', audited: null }, SYSTEM);
    expect(await refusal(() => kt.oauth.tokenEndpoint.handle(request({ grant_type: 'refresh_token', refresh_token: first.refresh_token! })))).toMatchObject({
      code: 'ERR_INVALID_GRANT',
      message: 'refresh token was revoked',
    });
    expect(prepare).not.toHaveBeenCalled();
  });

  it('decide refresh_token: narrowed scopes for the grant principal, or a refusal applied after the rotation', async () => {
    const first = await kt.oauth.tokenEndpoint.handle(request({ grant_type: 'client_credentials' }));
    const narrowed = await decideRefresh(deps, client, { refresh_token: first.refresh_token!, scope: 'write' });
    expect(narrowed).toMatchObject({ refusal: null, issue: { grant: { principal: client.principal, scopes: ['write'], audience: 'https://api.example' } } });
    const wider = await decideRefresh(deps, client, { refresh_token: first.refresh_token!, scope: 'read admin' });
    expect(wider).toMatchObject({ refusal: 'scope_widened', issue: null });
    // Applied in the transaction: the rotation is undone, the token still works.
    expect(await refusal(() => kt.oauth.tokenEndpoint.handle(request({ grant_type: 'refresh_token', refresh_token: first.refresh_token!, scope: 'read admin' })))).toMatchObject({
      code: 'ERR_INVALID_SCOPE',
    });
    const ok = await kt.oauth.tokenEndpoint.handle(request({ grant_type: 'refresh_token', refresh_token: first.refresh_token! }));
    expect(ok.scope).toBe('read write');
  });

  it('a replayed refresh token trips reuse detection even when it asks for a wider scope', async () => {
    const first = await kt.oauth.tokenEndpoint.handle(request({ grant_type: 'client_credentials' }));
    await kt.oauth.tokenEndpoint.handle(request({ grant_type: 'refresh_token', refresh_token: first.refresh_token! }));
    ctx.advance((resolvePolicy('default').refreshReuseGraceSeconds + 1) * 1000);
    const replay = request({ grant_type: 'refresh_token', refresh_token: first.refresh_token!, scope: 'read admin' });
    expect(await refusal(() => kt.oauth.tokenEndpoint.handle(replay))).toMatchObject({ code: 'ERR_INVALID_GRANT', message: expect.stringMatching(/already used/) });
    const [grant] = await kt.oauth.refreshTokens.listGrants(app.id);
    expect(grant!.status).toBe('revoked');
    expect(await listEvents(kt.store, { type: 'detection.refresh_reuse' })).toHaveLength(1);
  });

  it('decide token exchange: the subject principal, down-scoped, the client as actor, no longer than the subject', async () => {
    const owner = await kt.principals.create({ kind: 'service', name: 'bob' }, SYSTEM);
    const { secret: apiKey, key } = await kt.keys.create({ owner: owner.id, name: 'ci', scopes: ['read', 'admin'], expiresIn: '60s' }, SYSTEM);
    const decision = await decideTokenExchange(deps, client, {
      subject_token: apiKey,
      subject_token_type: TOKEN_TYPE_API_KEY,
      resource: 'https://api.example',
    });
    expect(decision).toMatchObject({
      grantType: TOKEN_EXCHANGE,
      subject: { kind: 'api_key', id: key.id, principal: owner.id },
      issue: {
        grant: { principal: owner.id, scopes: ['read'], audience: 'https://api.example', act: { sub: client.principal, client_id: app.id } },
        options: { ttl: 60, format: 'jwt' },
      },
    });
  });

  it('a client whose stored policy is no preset is an error, never the default policy', async () => {
    await kt.store.run('UPDATE oauth_clients SET policy = ? WHERE id = ?', ['retired-preset', app.id]);
    expect(await refusal(() => kt.oauth.clients.get(app.id))).toMatchObject({ code: 'ERR_VALIDATION', message: expect.stringMatching(/unknown policy "retired-preset"/) });
  });
});
