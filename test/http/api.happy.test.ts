import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

describe('admin API and verification: happy paths', () => {
  let kt: TestServer;
  beforeAll(async () => {
    kt = await startTestServer();
  });
  afterAll(async () => kt.stop());

  it('answers health and readiness probes', async () => {
    expect(await kt.api('GET', '/healthz', undefined, null)).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await kt.api('GET', '/readyz', undefined, null)).toMatchObject({ status: 200, body: { status: 'ready' } });
  });

  it('wrote the bootstrap admin key with mode 0600', async () => {
    const { statSync } = await import('node:fs');
    const { join } = await import('node:path');
    expect(statSync(join(kt.dataDir, 'admin.key')).mode & 0o777).toBe(0o600);
    expect(kt.adminKey).toMatch(/^kt_live_[0-9A-Za-z]{49}$/);
  });

  it('creates a principal and a key, lists and shows it without the secret, verifies and revokes it', async () => {
    const p = await kt.api('POST', '/v1/principals', { kind: 'user', name: 'alice', email: 'alice@example.com' });
    expect(p).toMatchObject({ status: 201, body: { kind: 'user', name: 'alice', status: 'active' } });

    const created = await kt.api('POST', '/v1/keys', { owner: 'alice', name: 'laptop', scopes: ['read', 'write'], expiresIn: '30d' });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const { id, key } = created.body as { id: string; key: string };
    expect(key).toMatch(/^kt_live_/);

    const shown = await kt.api('GET', `/v1/keys/${id}`);
    expect(shown.body).toMatchObject({ id, name: 'laptop', principal: p.body.id, scopes: ['read', 'write'], status: 'active', last4: key.slice(-4) });
    expect(JSON.stringify(shown.body)).not.toContain(key);
    const listed = await kt.api('GET', `/v1/keys?owner=alice`);
    expect(listed.body.items.map((k: { id: string }) => k.id)).toEqual([id]);
    expect(JSON.stringify(listed.body)).not.toContain(key);

    const ok = await kt.api('POST', '/v1/keys/verify', { key }, null);
    expect(ok).toMatchObject({ status: 200, body: { valid: true, keyId: id, principal: p.body.id, scopes: ['read', 'write'] } });
    expect(Date.parse(ok.body.expiresAt)).toBeGreaterThan(Date.now() + 29 * 86_400_000);

    const revoked = await kt.api('POST', `/v1/keys/${id}/revoke`, { reason: 'laptop lost' });
    expect(revoked).toMatchObject({ status: 200, body: { id, status: 'revoked' } });
    expect(await kt.api('POST', '/v1/keys/verify', { key }, null)).toMatchObject({ status: 200, body: { valid: false, code: 'ERR_KEY_REVOKED' } });

    const events = await kt.api('GET', `/v1/events?target=${id}`);
    expect(events.body.items.map((e: { type: string }) => e.type)).toEqual(['key.created', 'key.revoked', 'key.verify_failed']);
    expect(events.body.items[1]).toMatchObject({ reason: 'laptop lost', outcome: 'success' });
    expect(JSON.stringify(events.body)).not.toContain(key.slice(8));
  });

  it('disables a principal: its keys stop verifying at once, and start again when enabled', async () => {
    await kt.api('POST', '/v1/principals', { kind: 'user', name: 'bob' });
    const { body } = await kt.api('POST', '/v1/keys', { owner: 'bob', name: 'k' });
    expect((await kt.api('POST', '/v1/keys/verify', { key: body.key }, null)).body.valid).toBe(true); // cached
    expect(await kt.api('POST', '/v1/principals/bob/disable', {})).toMatchObject({ status: 200, body: { name: 'bob', status: 'disabled' } });
    expect((await kt.api('POST', '/v1/keys/verify', { key: body.key }, null)).body).toEqual({ valid: false, code: 'ERR_PRINCIPAL_INACTIVE' });
    expect(await kt.api('POST', '/v1/keys', { owner: 'bob', name: 'k2' })).toMatchObject({ status: 409, body: { code: 'ERR_PRINCIPAL_INACTIVE' } });
    await kt.api('POST', '/v1/principals/bob/enable', {});
    expect((await kt.api('POST', '/v1/keys/verify', { key: body.key }, null)).body.valid).toBe(true);
    const events = await kt.api('GET', `/v1/events?target=${body.principal}`);
    expect(events.body.items.map((e: { type: string }) => e.type)).toEqual(['principal.created', 'principal.disabled', 'principal.enabled']);
  });

  it('lists principals by kind and pages with a cursor', async () => {
    for (const name of ['svc-a', 'svc-b', 'svc-c']) await kt.api('POST', '/v1/principals', { kind: 'service', name });
    const page1 = await kt.api('GET', '/v1/principals?kind=service&limit=2');
    expect(page1.body.items).toHaveLength(2);
    expect(page1.body.next).toBe(page1.body.items[1].id);
    const page2 = await kt.api('GET', `/v1/principals?kind=service&limit=2&after=${page1.body.next}`);
    const names = [...page1.body.items, ...page2.body.items].map((p: { name: string }) => p.name);
    expect(names.sort()).toEqual(['bootstrap-admin', 'svc-a', 'svc-b', 'svc-c']);
  });

  it('answers verification behind a trusted proxy with the forwarded source address', async () => {
    const proxied = await startTestServer({ trustProxy: 'loopback' });
    try {
      await proxied.api('POST', '/v1/principals', { kind: 'service', name: 'p' });
      const { body } = await proxied.api('POST', '/v1/keys', { owner: 'p', name: 'k', scopes: ['a'] });
      const res = await fetch(`${proxied.url}/v1/keys/verify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.7' },
        body: JSON.stringify({ key: body.key.slice(0, -1) + (body.key.endsWith('A') ? 'B' : 'A') }),
      });
      expect(await res.json()).toEqual({ valid: false, code: 'ERR_SECRET_FORMAT' });
      expect((await proxied.api('POST', '/v1/keys/verify', { key: body.key }, null)).body).toEqual({
        valid: true, keyId: body.id, principal: body.principal, scopes: ['a'], expiresAt: null,
      });
      const failed = await proxied.api('GET', '/v1/events?type=key.verify_failed');
      expect(failed.body.items[0]).toMatchObject({ reason: 'malformed', sourceIp: '203.0.113.7' });
    } finally {
      await proxied.stop();
    }
  });

  it('streams key changes to followers', async () => {
    await kt.api('POST', '/v1/principals', { kind: 'service', name: 'streamer' });
    const { body } = await kt.api('POST', '/v1/keys', { owner: 'streamer', name: 's' });
    const follower = (await kt.api('POST', '/v1/keys', { owner: 'streamer', name: 'verifier', scopes: ['verify'] })).body.key as string;
    const controller = new AbortController();
    const res = await fetch(`${kt.url}/v1/keys/changes`, { signal: controller.signal, headers: { authorization: `Bearer ${follower}` } });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const readUntil = async (needle: string) => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        text += decoder.decode(value);
      }
    };
    await readUntil('event: ready');
    await kt.api('POST', `/v1/keys/${body.id}/revoke`, {});
    await readUntil(`"keyId":"${body.id}"`);
    expect(text).toContain(`event: changed\ndata: {"keyId":"${body.id}"}`);
    controller.abort();
  });
});
