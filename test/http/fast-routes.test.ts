import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

/** What a test reads of an answer, whichever way the request went. */
interface Answer {
  readonly status: number;
  header(name: string): string | null;
  json(): unknown;
}

type Transport = 'fast' | 'inject';

/**
 * `POST /v1/keys/verify` and `POST /oauth/token` are answered by the same framework-free handlers
 * (`src/http/hot/`) whether the pre-routing fast path takes the request (a real socket) or the
 * fastify route does (`inject` bypasses the fast path; other media types go there too). The fast
 * path stays on behind a trusted proxy. Every way must give the same answers.
 */
describe.each([
  ['the fast path', 0, 'fast'],
  ['the fast path behind a trusted proxy', 'loopback', 'fast'],
  ['the fastify route', 0, 'inject'],
  ['the fastify route behind a trusted proxy', 'loopback', 'inject'],
] as const)('hot endpoints through %s', (_label, trustProxy, transport: Transport) => {
  let kt: TestServer;
  let basic: string;
  beforeAll(async () => {
    kt = await startTestServer({ trustProxy, bodyLimit: 4096 });
    const { body } = await kt.api('POST', '/v1/clients', { name: 'svc', scopes: ['read', 'write'], audiences: ['https://api.example'] });
    basic = `Basic ${Buffer.from(`${body.client_id}:${body.client_secret}`).toString('base64')}`;
  });
  afterAll(async () => kt.stop());

  async function post(path: string, headers: Record<string, string>, body: string): Promise<Answer> {
    if (transport === 'fast') {
      const res = await fetch(`${kt.url}${path}`, { method: 'POST', headers, body });
      const text = await res.text();
      return { status: res.status, header: (name) => res.headers.get(name), json: () => JSON.parse(text) };
    }
    const res = await kt.app.inject({ method: 'POST', url: path, headers, payload: body });
    return {
      status: res.statusCode,
      header: (name) => {
        const value = res.headers[name];
        return value === undefined ? null : String(value);
      },
      json: () => res.json(),
    };
  }

  const token = (body: string, authorization = basic) =>
    post('/oauth/token', { authorization, 'content-type': 'application/x-www-form-urlencoded' }, body);
  const verify = (key: unknown) => post('/v1/keys/verify', { 'content-type': 'application/json' }, JSON.stringify({ key }));

  it('issues a token with no-store headers', async () => {
    const res = await token('grant_type=client_credentials&scope=read');
    expect(res.status).toBe(200);
    expect(res.header('cache-control')).toBe('no-store');
    expect(res.header('pragma')).toBe('no-cache');
    expect(res.json()).toMatchObject({ token_type: 'Bearer', scope: 'read', expires_in: 900 });
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
    expect(res.header('cache-control')).toBe('no-store');
    if (status === 401) expect(res.header('www-authenticate')).toBe('Basic realm="keyturn"');
    const json = res.json() as { error: string; error_description: string };
    expect(json.error).toBe(error);
    expect(json.error_description).toMatch(/^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/);
  });

  it('verifies keys the same way', async () => {
    const { body } = await kt.api('POST', '/v1/keys', { owner: 'svc', name: 'k', scopes: ['read'] });
    for (let i = 0; i < 2; i++) {
      const res = await verify(body.key);
      expect(res.status).toBe(200);
      expect(res.header('cache-control')).toBe('no-store');
      expect(res.json()).toEqual({ valid: true, keyId: body.id, principal: body.principal, scopes: ['read'], expiresAt: null });
    }
    await kt.api('POST', `/v1/keys/${body.id}/revoke`, {});
    expect((await verify(body.key)).json()).toEqual({ valid: false, code: 'ERR_KEY_REVOKED' });
  });

  it.each([
    ['a body that is not JSON', '{"key":', 400, 'ERR_MALFORMED_BODY'],
    ['an empty body', '', 400, 'ERR_MALFORMED_BODY'],
    ['a body without a key', '{"nokey":1}', 400, 'ERR_VALIDATION'],
    ['an oversized body', JSON.stringify({ key: 'x'.repeat(5000) }), 413, 'ERR_BODY_TOO_LARGE'],
  ])('refuses %s at verification with the same error', async (_what, body, status, code) => {
    const res = await post('/v1/keys/verify', { 'content-type': 'application/json' }, body);
    expect(res.status).toBe(status);
    expect(res.json()).toMatchObject({ code });
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

  // A socket-level concern: only the fast path reads bodies itself (fastify reads its own).
  if (transport === 'fast') {
    it.each([
      ['a Content-Length', true],
      ['chunked transfer coding', false],
    ])('reads a body that arrives in parts, with %s, a character split across them', async (label, withLength) => {
      // One key per case: an owner's live keys have distinct names.
      const { body } = await kt.api('POST', '/v1/keys', { owner: 'svc', name: `parts, ${label}`, scopes: ['read'] });
      const whole = Buffer.from(JSON.stringify({ note: 'é', key: body.key }));
      const cut = whole.indexOf(Buffer.from('é')) + 1;
      const answer = await sendInParts([whole.subarray(0, cut), whole.subarray(cut)], withLength);
      expect(answer).toEqual({ status: 200, body: { valid: true, keyId: body.id, principal: body.principal, scopes: ['read'], expiresAt: null } });
      const broken = await sendInParts([whole.subarray(0, cut)], withLength);
      expect(broken.status).toBe(400);
    });
  }
});
