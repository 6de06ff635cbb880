import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * `POST /v1/keys/verify` and `POST /oauth/token` are answered before fastify's routing; behind a
 * trusted proxy the fastify routes answer instead. Both must give the same answers.
 */
describe.each([
  ['fast path', false],
  ['fastify route (trustProxy)', true],
])('hot endpoints through the %s', (_label, trustProxy) => {
  let kt: TestServer;
  let basic: string;
  beforeAll(async () => {
    kt = await startTestServer({ trustProxy, bodyLimit: 4096 });
    const { body } = await kt.api('POST', '/v1/clients', { name: 'svc', scopes: ['read', 'write'], audiences: ['https://api.example'] });
    basic = `Basic ${Buffer.from(`${body.client_id}:${body.client_secret}`).toString('base64')}`;
  });
  afterAll(async () => kt.stop());

  const token = (body: string, authorization = basic) =>
    fetch(`${kt.url}/oauth/token`, { method: 'POST', headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' }, body });

  it('issues a token with no-store headers', async () => {
    const res = await token('grant_type=client_credentials&scope=read');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
    expect(await res.json()).toMatchObject({ token_type: 'Bearer', scope: 'read', expires_in: 900 });
  });

  it.each([
    ['a wrong secret', 'grant_type=client_credentials', 'Basic ' + Buffer.from('ktc_x:nope').toString('base64'), 401, 'invalid_client'],
    ['a repeated parameter', 'grant_type=client_credentials&scope=read&scope=write', undefined, 400, 'invalid_request'],
    ['two resources', 'grant_type=client_credentials&resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb', undefined, 400, 'invalid_target'],
    ['an unknown grant type', 'grant_type=password', undefined, 400, 'unsupported_grant_type'],
    ['a scope outside the client', 'grant_type=client_credentials&scope=admin', undefined, 400, 'invalid_scope'],
    ['an oversized body', 'grant_type=client_credentials&x=' + 'y'.repeat(5000), undefined, 413, 'invalid_request'],
  ])('answers %s exactly per RFC 6749 §5.2', async (_what, body, authorization, status, error) => {
    const res = await token(body, authorization);
    expect(res.status).toBe(status);
    expect(res.headers.get('cache-control')).toBe('no-store');
    if (status === 401) expect(res.headers.get('www-authenticate')).toBe('Basic realm="keyturn"');
    const json = (await res.json()) as { error: string; error_description: string };
    expect(json.error).toBe(error);
    expect(json.error_description).toMatch(/^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/);
  });

  it('verifies keys the same way', async () => {
    const { body } = await kt.api('POST', '/v1/keys', { owner: 'svc', name: 'k', scopes: ['read'] });
    for (let i = 0; i < 2; i++) {
      expect((await kt.api('POST', '/v1/keys/verify', { key: body.key }, null)).body).toEqual({
        valid: true, keyId: body.id, principal: body.principal, scopes: ['read'], expiresAt: null,
      });
    }
    await kt.api('POST', `/v1/keys/${body.id}/revoke`, {});
    expect((await kt.api('POST', '/v1/keys/verify', { key: body.key }, null)).body).toEqual({ valid: false, code: 'ERR_KEY_REVOKED' });
  });

  /** Sends `parts` as separate writes (a pause between them), with or without a Content-Length. */
  const sendInParts = (parts: Buffer[], withLength: boolean) =>
    new Promise<{ status: number; body: unknown }>((resolve, reject) => {
      const total = parts.reduce((n, p) => n + p.length, 0);
      const headers: Record<string, string | number> = { 'content-type': 'application/json' };
      if (withLength) headers['content-length'] = total;
      const req = request(`${kt.url}/v1/keys/verify`, { method: 'POST', headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.write(parts[0]);
      setTimeout(() => {
        for (const p of parts.slice(1)) req.write(p);
        req.end();
      }, 50);
    });

  it.each([
    ['a Content-Length', true],
    ['chunked transfer coding', false],
  ])('reads a body that arrives in parts, with %s, a character split across them', async (_label, withLength) => {
    const { body } = await kt.api('POST', '/v1/keys', { owner: 'svc', name: 'parts', scopes: ['read'] });
    const whole = Buffer.from(JSON.stringify({ note: 'é', key: body.key }));
    const cut = whole.indexOf(Buffer.from('é')) + 1;
    const answer = await sendInParts([whole.subarray(0, cut), whole.subarray(cut)], withLength);
    expect(answer).toEqual({ status: 200, body: { valid: true, keyId: body.id, principal: body.principal, scopes: ['read'], expiresAt: null } });
    const broken = await sendInParts([whole.subarray(0, cut)], withLength);
    expect(broken.status).toBe(400);
  });
});
