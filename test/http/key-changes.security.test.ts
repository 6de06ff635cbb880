import { get, type IncomingMessage } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { waitFor } from '../verifier/support.js';

/**
 * Issue 9, item 8: anonymous listeners of `GET /v1/keys/changes` learned which key ids changed —
 * right after a public leak report, telling the reporter the key was live — and 3,000 anonymous
 * connections were held open.
 */

interface Stream {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  /** Everything received so far. */
  text(): string;
  /** Resolves once the server ended the stream. */
  readonly ended: Promise<void>;
  close(): void;
}

/** Opens one stream on its own connection and waits for `ready` (or for a refusal's whole body). */
function openStream(url: string, headers: Record<string, string>): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = get(`${url}/v1/keys/changes`, { headers, agent: false }, (res) => {
      let text = '';
      let settled = false;
      let endedResolve!: () => void;
      const ended = new Promise<void>((r) => (endedResolve = r));
      const stream: Stream = { status: res.statusCode ?? 0, headers: res.headers, text: () => text, ended, close: () => req.destroy() };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        if (!settled && res.statusCode === 200 && text.includes('event: ready')) {
          settled = true;
          resolve(stream);
        }
      });
      res.on('end', () => {
        endedResolve();
        if (!settled) {
          settled = true;
          resolve(stream);
        }
      });
      res.on('close', endedResolve);
    });
    req.on('error', reject);
  });
}

const bearer = (key: string, from?: string) => ({ authorization: `Bearer ${key}`, ...(from ? { 'x-forwarded-for': from } : {}) });

describe('the key change stream', () => {
  let kt: TestServer;
  let verifierKey: { id: string; key: string };
  let readerKey: string;
  const held: Stream[] = [];
  beforeAll(async () => {
    kt = await startTestServer({ trustProxy: 'loopback', changeStreamsPerSource: 20, changeStreamsMax: 50 });
    await kt.api('POST', '/v1/principals', { kind: 'service', name: 'api' });
    verifierKey = (await kt.api('POST', '/v1/keys', { owner: 'api', name: 'verifier', scopes: ['verify'] })).body;
    readerKey = (await kt.api('POST', '/v1/keys', { owner: 'api', name: 'reader', scopes: ['read'] })).body.key;
  });
  afterEach(() => {
    for (const s of held.splice(0)) s.close();
  });
  afterAll(async () => kt.stop());

  /** Until the server has counted every closed stream out (it hears the close asynchronously). */
  const drained = () =>
    waitFor(
      async () => {
        const probe = await openStream(kt.url, bearer(verifierKey.key, '192.0.2.250'));
        probe.close();
        return probe.status === 200;
      },
      5_000,
      'slots freed',
    );

  it('tells an anonymous or a merely valid caller nothing, and holds no connection for them', async () => {
    const anonymous = await openStream(kt.url, {});
    await anonymous.ended;
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.text())).toMatchObject({ code: 'ERR_UNAUTHENTICATED' });
    expect(anonymous.text()).not.toContain('event:');

    const reader = await openStream(kt.url, bearer(readerKey));
    await reader.ended;
    expect(reader.status).toBe(403);
    expect(reader.headers['www-authenticate']).toContain('scope="verify"');

    const forged = await openStream(kt.url, bearer('kt_live_not_a_key'));
    await forged.ended;
    expect(forged.status).toBe(401);
  });

  it('caps the streams one source holds (429) and all sources together (503), and frees slots as streams close', async () => {
    for (let i = 0; i < 20; i++) held.push(await openStream(kt.url, bearer(verifierKey.key, '198.51.100.1')));
    expect(held.every((s) => s.status === 200)).toBe(true);
    const over = await openStream(kt.url, bearer(verifierKey.key, '198.51.100.1'));
    await over.ended;
    expect(over.status).toBe(429);
    expect(JSON.parse(over.text())).toMatchObject({ code: 'ERR_RATE_LIMITED' });
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    // An IPv6 client is one source for its whole /64.
    for (let i = 0; i < 20; i++) held.push(await openStream(kt.url, bearer(verifierKey.key, `2001:db8:5:5::${(i + 1).toString(16)}`)));
    expect((await openStream(kt.url, bearer(verifierKey.key, '2001:db8:5:5:ffff::1'))).status).toBe(429);
    // 40 held; ten more from a third source fill the server.
    for (let i = 0; i < 10; i++) held.push(await openStream(kt.url, bearer(verifierKey.key, '203.0.113.3')));
    expect(held.filter((s) => s.status === 200)).toHaveLength(50);
    const full = await openStream(kt.url, bearer(verifierKey.key, '203.0.113.4'));
    await full.ended;
    expect(full.status).toBe(503);
    expect(JSON.parse(full.text())).toMatchObject({ code: 'ERR_CAPACITY' });
    expect(Number(full.headers['retry-after'])).toBeGreaterThan(0);

    for (const s of held.splice(0)) s.close();
    await drained();
  });

  it('sends key ids only to a verifier key, and ends the stream when that key is revoked', async () => {
    const own = (await kt.api('POST', '/v1/keys', { owner: 'api', name: 'verifier-2', scopes: ['verify'] })).body as { id: string; key: string };
    const other = (await kt.api('POST', '/v1/keys', { owner: 'api', name: 'other' })).body as { id: string };
    const stream = await openStream(kt.url, bearer(own.key));
    held.push(stream);
    await kt.api('POST', `/v1/keys/${other.id}/revoke`, {});
    await waitFor(() => stream.text().includes(other.id), 5_000, 'changed event');
    await kt.api('POST', `/v1/keys/${own.id}/revoke`, {});
    await stream.ended;
    // And it cannot come back.
    const again = await openStream(kt.url, bearer(own.key));
    await again.ended;
    expect(again.status).toBe(401);
  });
});

describe('a held change stream', () => {
  it("does not hold the server's shutdown", async () => {
    const kt = await startTestServer();
    await kt.api('POST', '/v1/principals', { kind: 'service', name: 'api' });
    const key = (await kt.api('POST', '/v1/keys', { owner: 'api', name: 'verifier', scopes: ['verify'] })).body.key as string;
    const stream = await openStream(kt.url, bearer(key));
    expect(stream.status).toBe(200);
    await kt.stop(); // before the fix, this never resolved: the server waited for the stream
    await stream.ended;
  });
});
