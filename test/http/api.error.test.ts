import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

describe('admin API and verification: bad input', () => {
  let kt: TestServer;
  beforeAll(async () => {
    kt = await startTestServer({ bodyLimit: 4096 });
    await kt.api('POST', '/v1/principals', { kind: 'service', name: 'billing' });
  });
  afterAll(async () => kt.stop());

  const snapshot = async () => JSON.stringify([await kt.kt.store.all('SELECT * FROM api_keys ORDER BY id'), await kt.kt.store.all('SELECT * FROM principals ORDER BY id')]);
  const raw = (path: string, body: string, contentType: string) =>
    fetch(`${kt.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${kt.adminKey}`, 'content-type': contentType }, body });

  it.each([
    ['malformed JSON', '{"owner": ', 'application/json', 400, 'ERR_MALFORMED_BODY'],
    ['empty JSON body', '', 'application/json', 400, 'ERR_MALFORMED_BODY'],
    ['a non-JSON media type', 'owner=billing', 'text/plain', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['an oversized body', JSON.stringify({ owner: 'billing', name: 'x'.repeat(5000) }), 'application/json', 413, 'ERR_BODY_TOO_LARGE'],
  ])('answers %s with a stable code and changes nothing', async (_label, body, type, status, code) => {
    const before = await snapshot();
    const res = await raw('/v1/keys', body, type);
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ error: 'invalid_request', code });
    expect(await snapshot()).toBe(before);
  });

  it.each([
    [{ owner: 'billing' }, 'name'],
    [{ owner: 'billing', name: 'k', scopes: ['a b'] }, 'scopes.0'],
    [{ owner: 'billing', name: 'k', expiresIn: '5 days' }, 'duration'],
    [{ owner: 'billing', name: 'k', expiresAt: '2001-01-01T00:00:00Z' }, 'future'],
    [{ owner: 'billing', name: 'k', admin: true }, 'admin'],
    [[1, 2], 'body'],
  ])('rejects key input %j naming the problem (%s)', async (input, mention) => {
    const before = await snapshot();
    const res = await kt.api('POST', '/v1/keys', input);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request', code: 'ERR_VALIDATION' });
    expect(res.body.error_description).toContain(mention);
    expect(await snapshot()).toBe(before);
  });

  it('answers 404 for unknown keys, owners and routes, 409 for a taken name', async () => {
    expect(await kt.api('GET', '/v1/keys/key_nope')).toMatchObject({ status: 404, body: { code: 'ERR_NOT_FOUND' } });
    expect(await kt.api('POST', '/v1/keys/key_nope/revoke', {})).toMatchObject({ status: 404, body: { code: 'ERR_NOT_FOUND' } });
    expect(await kt.api('POST', '/v1/keys', { owner: 'ghost', name: 'k' })).toMatchObject({ status: 404, body: { code: 'ERR_NOT_FOUND' } });
    expect(await kt.api('GET', '/v1/nothing-here')).toMatchObject({ status: 404, body: { error: 'not_found' } });
    expect(await kt.api('POST', '/v1/principals', { kind: 'service', name: 'billing' })).toMatchObject({ status: 409, body: { code: 'ERR_CONFLICT' } });
    expect(await kt.api('POST', '/v1/principals', { kind: 'robot', name: 'r2' })).toMatchObject({ status: 400, body: { code: 'ERR_VALIDATION' } });
    expect(await kt.api('GET', '/v1/keys?limit=0')).toMatchObject({ status: 400, body: { code: 'ERR_VALIDATION' } });
  });

  it('answers a bad verification body with 400 and a junk key with valid:false', async () => {
    for (const body of [{}, { key: 42 }, { token: 'x' }]) {
      expect(await kt.api('POST', '/v1/keys/verify', body, null)).toMatchObject({ status: 400, body: { error: 'invalid_request', code: 'ERR_VALIDATION' } });
    }
    for (const key of ['', 'not-a-key', 'kt_live_' + 'A'.repeat(49), 'x'.repeat(3000)]) {
      expect(await kt.api('POST', '/v1/keys/verify', { key }, null)).toMatchObject({ status: 200, body: { valid: false, code: 'ERR_SECRET_FORMAT' } });
    }
  });

  it.each([
    ['malformed JSON', '{"key": ', 'application/json', 400, 'ERR_MALFORMED_BODY'],
    ['an empty body', '', 'application/json', 400, 'ERR_MALFORMED_BODY'],
    ['JSON that is not an object', '"kt_live_x"', 'application/json; charset=utf-8', 400, 'ERR_VALIDATION'],
    ['an oversized body', JSON.stringify({ key: 'x'.repeat(5000) }), 'application/json', 413, 'ERR_BODY_TOO_LARGE'],
    ['another media type', 'key=x', 'text/plain', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
  ])('answers a verification with %s with a stable code and no event', async (_label, body, type, status, code) => {
    const events = await kt.kt.store.all('SELECT id FROM events');
    const res = await fetch(`${kt.url}/v1/keys/verify`, { method: 'POST', headers: { 'content-type': type }, body });
    expect(res.status).toBe(status);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toMatchObject({ error: 'invalid_request', code });
    expect(await kt.kt.store.all('SELECT id FROM events')).toEqual(events);
  });

  it('rejects a form body with a repeated parameter', async () => {
    const res = await raw('/v1/keys', 'owner=a&owner=b', 'application/x-www-form-urlencoded');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'ERR_DUPLICATE_PARAMETER' });
  });
});
