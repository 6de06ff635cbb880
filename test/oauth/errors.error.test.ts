import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOAuthError, OAUTH_ERRORS, startOAuthServer, TOKEN_EXCHANGE, TT_API_KEY, type OAuthServer, type RegisteredClient } from './support.js';

/**
 * RFC 6749 §5.2 errors table: every error code the token endpoint answers is produced by a
 * concrete request, with the right status, body members, character set and headers.
 */
describe('token endpoint errors (RFC 6749 §5.2, RFC 8707 §2, RFC 8693 §2.2.2)', () => {
  let kt: OAuthServer;
  let app: RegisteredClient;
  let ccOnly: RegisteredClient;
  let exchanger: RegisteredClient;

  beforeAll(async () => {
    kt = await startOAuthServer();
    app = await kt.createClient({ name: 'app', scopes: ['read'], grantTypes: ['client_credentials', 'refresh_token'], audiences: ['https://api.example.com'] });
    ccOnly = await kt.createClient({ name: 'cc-only', scopes: ['read'], grantTypes: ['client_credentials'] });
    exchanger = await kt.createClient({ name: 'xchg', scopes: ['read'], grantTypes: [TOKEN_EXCHANGE] });
  });
  afterAll(async () => kt.stop());

  const token = (form: Record<string, string> | string, c: RegisteredClient | null = app) => kt.form('/oauth/token', form, c ? { basic: [c.id, c.secret] } : {});

  const table: { error: (typeof OAUTH_ERRORS)[number]; why: string; request: () => ReturnType<typeof token> }[] = [
    { error: 'invalid_request', why: 'no grant_type', request: () => token({ scope: 'read' }) },
    { error: 'invalid_request', why: 'refresh without refresh_token', request: () => token({ grant_type: 'refresh_token' }) },
    { error: 'invalid_request', why: 'token exchange without subject_token_type', request: () => token({ grant_type: TOKEN_EXCHANGE, subject_token: 'x', audience: 'a' }, exchanger) },
    { error: 'invalid_client', why: 'wrong secret', request: () => kt.form('/oauth/token', { grant_type: 'client_credentials' }, { basic: [app.id, 'kt_wrong'] }) },
    { error: 'invalid_client', why: 'no client authentication', request: () => token({ grant_type: 'client_credentials' }, null) },
    { error: 'invalid_client', why: 'unknown client (post)', request: () => token({ grant_type: 'client_credentials', client_id: 'ktc_unknown', client_secret: 's' }, null) },
    { error: 'invalid_grant', why: 'unknown refresh token', request: () => token({ grant_type: 'refresh_token', refresh_token: 'ktr_unknown' }) },
    { error: 'unauthorized_client', why: 'refresh grant not allowed for the client', request: () => token({ grant_type: 'refresh_token', refresh_token: 'ktr_x' }, ccOnly) },
    { error: 'unauthorized_client', why: 'client_credentials not allowed for the client', request: () => token({ grant_type: 'client_credentials' }, exchanger) },
    { error: 'unsupported_grant_type', why: 'password grant', request: () => token({ grant_type: 'password', username: 'u', password: 'p' }) },
    { error: 'unsupported_grant_type', why: 'authorization_code grant', request: () => token({ grant_type: 'authorization_code', code: 'c' }) },
    { error: 'invalid_scope', why: 'scope outside the client', request: () => token({ grant_type: 'client_credentials', scope: 'read admin' }) },
    { error: 'invalid_scope', why: 'malformed scope token', request: () => token({ grant_type: 'client_credentials', scope: 'read "quoted"' }) },
    { error: 'invalid_target', why: 'resource outside the client', request: () => token({ grant_type: 'client_credentials', resource: 'https://evil.example.com' }) },
    { error: 'invalid_target', why: 'resource with a fragment', request: () => token({ grant_type: 'client_credentials', resource: 'https://api.example.com#x' }) },
    { error: 'invalid_target', why: 'token exchange without audience', request: () => token({ grant_type: TOKEN_EXCHANGE, subject_token: 'x', subject_token_type: TT_API_KEY }, exchanger) },
  ];

  for (const row of table) {
    it(`${row.error}: ${row.why}`, async () => {
      expectOAuthError(await row.request(), row.error);
    });
  }

  it('covers every error code of the table', () => {
    const produced = new Set(table.map((r) => r.error));
    for (const e of ['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope', 'invalid_target'] as const) {
      expect(produced.has(e), e).toBe(true);
    }
  });

  it('unsupported_token_type for a subject token type keyturn does not take (RFC 8693 §2.2.2 allows invalid_request too)', async () => {
    const res = await token({ grant_type: TOKEN_EXCHANGE, subject_token: 'x', subject_token_type: 'urn:ietf:params:oauth:token-type:saml2', audience: 'a' }, exchanger);
    expect(['unsupported_token_type', 'invalid_request']).toContain(res.body.error);
    expectOAuthError(res, res.body.error);
  });

  it('error_description never reflects characters outside the RFC 6749 §5.2 set (attacker-chosen grant_type)', async () => {
    for (const grantType of ['pass"word', 'evil\\grant', 'grant\u00e9\u2028<script>']) {
      const res = await token({ grant_type: grantType });
      expectOAuthError(res, 'unsupported_grant_type');
    }
  });

  it('a successful token response is JSON with Cache-Control: no-store and Pragma: no-cache (RFC 6749 §5.1)', async () => {
    const res = await token({ grant_type: 'client_credentials' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
    expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'read' });
    // No refresh token: the client lists the refresh_token grant, but its policy does not ask for one with client_credentials (RFC 6749 §4.4.3).
    expect(Object.keys(res.body).sort()).toEqual(['access_token', 'expires_in', 'scope', 'token_type']);
  });

  it('introspection and revocation answer no-store, and invalid_client there too', async () => {
    const intro = await kt.form('/oauth/introspect', { token: 'x' }, { basic: [app.id, app.secret] });
    expect(intro.headers.get('cache-control')).toBe('no-store');
    expectOAuthError(await kt.form('/oauth/introspect', { token: 'x' }, { basic: [app.id, 'nope'] }), 'invalid_client');
    expectOAuthError(await kt.form('/oauth/revoke', { token: 'x' }, { basic: [app.id, 'nope'] }), 'invalid_client');
    expectOAuthError(await kt.form('/oauth/introspect', {}, { basic: [app.id, app.secret] }), 'invalid_request');
    expectOAuthError(await kt.form('/oauth/revoke', {}, { basic: [app.id, app.secret] }), 'invalid_request');
  });
});
