import Fastify from 'fastify';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, fastifyHook, nodeMiddleware, sunsetHeaders, type Verifier } from '../../src/verifier/index.js';
import { startOAuthServer, type OAuthServer } from '../oauth/support.js';

/** The holder of a key hears of its rotation from the API it calls: `Sunset` and `Link` headers. */
describe('Sunset (RFC 8594) on responses to a key that is due or in its grace', () => {
  let kt: OAuthServer;
  let verifier: Verifier;
  let api: Server;
  let apiUrl: string;
  const app = Fastify();

  beforeAll(async () => {
    kt = await startOAuthServer();
    await kt.api('POST', '/v1/principals', { kind: 'service', name: 'caller' });
    // The change stream needs a key with scope `verify`: the verifier hears of the rotation through it.
    const streamKey = (await kt.api('POST', '/v1/keys', { owner: 'caller', name: 'verifier-stream', scopes: ['verify'] })).body as { key: string };
    verifier = createVerifier({ url: kt.url, apiKey: streamKey.key });
    const middleware = nodeMiddleware(verifier, { rotationDocsUrl: 'https://docs.example/rotation' });
    api = http.createServer((req, res) => middleware(req, res, () => res.end('ok')));
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    app.get('/f', { onRequest: fastifyHook(verifier) }, async () => 'ok');
    await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app.close();
    await new Promise<void>((resolve) => api.close(() => resolve()));
    verifier.close();
    await kt.stop();
  });

  const call = (url: string, key: string) => fetch(url, { headers: { authorization: `Bearer ${key}` } });

  it('none for a key with no schedule; Sunset at the grace end and a Link to the docs once it is rotated, from node:http and fastify', async () => {
    const created = (await kt.api('POST', '/v1/keys', { owner: 'caller', name: 'k' })).body as { id: string; key: string };
    const plain = await call(apiUrl, created.key);
    expect(plain.status).toBe(200);
    expect(plain.headers.get('sunset')).toBeNull();
    expect(plain.headers.get('link')).toBeNull();
    const rotated = (await kt.api('POST', `/v1/keys/${created.id}/rotate`, { graceSeconds: 3600 })).body as { predecessor: { graceEndsAt: string }; key: string };
    // The verifier follows the change stream: the old answer is dropped, the new one says `rotating`.
    let res = await call(apiUrl, created.key);
    for (let i = 0; i < 50 && res.headers.get('sunset') === null; i++) {
      await new Promise((r) => setTimeout(r, 20));
      res = await call(apiUrl, created.key);
    }
    expect(res.status).toBe(200);
    expect(res.headers.get('sunset')).toBe(new Date(rotated.predecessor.graceEndsAt).toUTCString());
    expect(res.headers.get('link')).toBe('<https://docs.example/rotation>; rel="sunset"');
    const viaFastify = await call(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/f`, created.key);
    expect(viaFastify.headers.get('sunset')).toBe(new Date(rotated.predecessor.graceEndsAt).toUTCString());
    const successor = await call(apiUrl, rotated.key);
    expect(successor.status).toBe(200);
    expect(successor.headers.get('sunset')).toBeNull();
  });

  it('a key that is due but not rotated gets a Link (and Sunset when it has a hard deadline)', () => {
    const base = { valid: true as const, kind: 'api_key' as const, keyId: 'key_1', principal: 'prn_1', scopes: [], expiresAt: null };
    const now = Date.parse('2030-01-02T00:00:00Z');
    const due = { ...base, rotation: { status: 'active' as const, dueAt: '2030-01-01T00:00:00.000Z', sunset: '2030-01-08T00:00:00.000Z', softDeadline: null } };
    expect(sunsetHeaders(due, now, 'https://d')).toEqual({ sunset: 'Tue, 08 Jan 2030 00:00:00 GMT', link: '<https://d>; rel="sunset"' });
    expect(sunsetHeaders({ ...due, rotation: { ...due.rotation, dueAt: '2030-01-03T00:00:00.000Z' } }, now)).toEqual({});
    expect(sunsetHeaders(base, now)).toEqual({});
  });
});
