import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { manualContext } from '../../src/core/context.js';
import { startReceiver, type Receiver } from '../leaks/support/server.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Issue 9, item 4: with `trustProxy: true` the left-most `X-Forwarded-For` value was the client,
 * so a client behind the proxy chose its own address — defeating the public report's rate limit,
 * draining the bucket of GitHub's sender addresses and writing invented addresses into events.
 *
 * Here the test process plays both the attacker and the proxy in front of keyturn: it connects
 * from loopback (the trusted proxy) and sends `X-Forwarded-For: <what the attacker wrote>, <what
 * the proxy saw>`, as a proxy that appends the peer address sends it.
 */

/** A POST with exact headers over node:http (fetch would not change them, but this says so). */
function post(url: string, path: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const json = { 'content-type': 'application/json' };
const report = (url: string, forwarded: string) => post(url, '/v1/leaks/report', { ...json, 'x-forwarded-for': forwarded }, JSON.stringify({ token: 'not-a-key' }));

function p256(): { privateKey: KeyObject; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

describe('trustProxy configuration', () => {
  it('refuses the old `true` with a message that gives the new forms', () => {
    for (const value of [true, 'true', 'TRUE']) {
      expect(() => loadConfig({ flags: { trustProxy: value } })).toThrow(/trustProxy \(http\.trustProxy\): `true` is no longer accepted.*networks of your proxies.*number of proxies/);
    }
  });

  it('takes no proxy, a hop count or a list of networks, and refuses anything else', () => {
    expect(loadConfig({}).http.trustProxy).toBe(0);
    expect(loadConfig({ flags: { trustProxy: 'false' } }).http.trustProxy).toBe(0);
    expect(loadConfig({ env: { KEYTURN_TRUST_PROXY: '2' } }).http.trustProxy).toBe(2);
    expect(loadConfig({ flags: { trustProxy: '10.0.0.0/8, fd00::/8 ,192.0.2.1,loopback' } }).http.trustProxy).toEqual(['10.0.0.0/8', 'fd00::/8', '192.0.2.1', 'loopback']);
    for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0.0/8/1', '-1', '17', 'everything']) {
      expect(() => loadConfig({ flags: { trustProxy: bad } }), bad).toThrow(/trustProxy/);
    }
  });
});

describe('client addresses behind a trusted proxy', () => {
  const ctx = manualContext(new Date());
  const github = p256();
  let keys: Receiver;
  let kt: TestServer;
  beforeAll(async () => {
    keys = await startReceiver(() => ({ status: 200, body: JSON.stringify({ public_keys: [{ key_identifier: 'kid-1', key: github.pem, is_current: true }] }) }));
    kt = await startTestServer({ trustProxy: 'loopback', leakReportRate: 3, githubKeysUrl: `${keys.url}/keys` }, ctx);
  });
  afterAll(async () => {
    await kt.stop();
    await keys.close();
  });
  beforeEach(() => ctx.advance(120_000)); // every bucket full again

  it('a client that writes a new X-Forwarded-For each time still hits the public report limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await report(kt.url, `198.51.100.${i + 1}, 203.0.113.40`)).status);
    expect(statuses).toEqual([202, 202, 202, 429, 429, 429]);
    // Another client behind the same proxy is not affected.
    expect((await report(kt.url, '198.51.100.1, 203.0.113.41')).status).toBe(202);
  });

  it('an IPv6 client is one source for its whole /64, however many addresses it uses', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await report(kt.url, `2001:db8:7:7:${(i + 1).toString(16)}::${i + 9}`)).status);
    expect(statuses).toEqual([202, 202, 202, 429, 429]);
    expect((await report(kt.url, '2001:db8:7:8::1')).status).toBe(202);
  });

  it("spoofing GitHub's address neither drains GitHub's partner bucket nor is drained by public reports", async () => {
    const githubAddress = '192.30.252.10';
    const attacker = '203.0.113.66';
    // The attacker sends rejected partner reports claiming to be GitHub, and public reports from GitHub's address.
    const rejected: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await post(kt.url, '/v1/leaks/github', { ...json, 'x-forwarded-for': `${githubAddress}, ${attacker}`, 'github-public-key-identifier': 'kid-1', 'github-public-key-signature': 'AAAA' }, '[]');
      rejected.push(res.status);
    }
    expect(rejected).toEqual([401, 401, 401, 429, 429, 429]);
    // Public reports really from GitHub's address empty the public bucket of that address …
    for (let i = 0; i < 4; i++) await report(kt.url, githubAddress);
    expect((await report(kt.url, githubAddress)).status).toBe(429);
    // … and GitHub's signed report still goes through.
    const body = JSON.stringify([{ token: 'kt_live_notours', type: 'keyturn_api_key', url: 'https://github.com/o/r/blob/x/.env', source: 'content' }]);
    const signature = sign('sha256', Buffer.from(body), { key: github.privateKey, dsaEncoding: 'der' }).toString('base64');
    const genuine = await post(kt.url, '/v1/leaks/github', { ...json, 'x-forwarded-for': githubAddress, 'github-public-key-identifier': 'kid-1', 'github-public-key-signature': signature }, body);
    expect(genuine.status).toBe(200);
    expect(JSON.parse(genuine.body)).toEqual([expect.objectContaining({ label: 'false_positive' })]);
  });

  it('writes the address the proxy saw into events, never one the client invented', async () => {
    await post(kt.url, '/v1/keys/verify', { ...json, 'x-forwarded-for': '6.6.6.6, 203.0.113.50' }, JSON.stringify({ key: 'kt_live_invented' }));
    await kt.app.inject({ method: 'POST', url: '/v1/keys/verify', headers: { ...json, 'x-forwarded-for': '6.6.6.7, 203.0.113.51' }, payload: JSON.stringify({ key: 'kt_live_invented' }) });
    await post(kt.url, '/oauth/token', { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '6.6.6.8, 203.0.113.52' }, 'grant_type=client_credentials&client_id=nobody&client_secret=nothing');
    await report(kt.url, '6.6.6.9, 203.0.113.53');
    const list = await kt.api('GET', '/v1/events?after=&limit=1000');
    const addresses = new Set((list.body.items as { sourceIp: string | null }[]).map((e) => e.sourceIp));
    expect([...addresses].filter((a) => a?.startsWith('6.6.6.'))).toEqual([]);
    for (const seen of ['203.0.113.50', '203.0.113.51', '203.0.113.52']) expect(addresses).toContain(seen);
  });
});

describe('client addresses without a trusted proxy in front', () => {
  let kt: TestServer;
  beforeAll(async () => {
    // Trusts a proxy network the test's connections do not come from.
    kt = await startTestServer({ trustProxy: '10.0.0.0/8', leakReportRate: 2 });
  });
  afterAll(async () => kt.stop());

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy, on both paths', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await report(kt.url, `198.51.100.${i}`)).status);
    expect(statuses).toEqual([202, 202, 429, 429]);
    await post(kt.url, '/v1/keys/verify', { ...json, 'x-forwarded-for': '6.6.6.6' }, JSON.stringify({ key: 'kt_live_invented' }));
    await post(kt.url, '/v1/keys', { ...json, 'x-forwarded-for': '6.6.6.6', authorization: 'Bearer kt_live_invented' }, '{}');
    const list = await kt.api('GET', '/v1/events');
    const addresses = new Set((list.body.items as { sourceIp: string | null }[]).map((e) => e.sourceIp));
    expect([...addresses].filter((a) => a !== null)).toEqual(['127.0.0.1']);
  });
});

describe('a hop count', () => {
  let kt: TestServer;
  beforeAll(async () => {
    kt = await startTestServer({ trustProxy: 1 });
  });
  afterAll(async () => kt.stop());

  it('takes the address the last proxy appended, the same on the fast path and fastify routes', async () => {
    await post(kt.url, '/v1/keys/verify', { ...json, 'x-forwarded-for': '6.6.6.6, 203.0.113.60' }, JSON.stringify({ key: 'kt_live_invented' }));
    await post(kt.url, '/v1/keys', { ...json, 'x-forwarded-for': '6.6.6.6, 203.0.113.60', authorization: 'Bearer kt_live_invented' }, '{}');
    const verify = (await kt.api('GET', '/v1/events?type=key.verify_failed')).body.items as { sourceIp: string }[];
    const admin = (await kt.api('GET', '/v1/events?type=admin.auth_failed')).body.items as { sourceIp: string }[];
    expect(verify.at(-1)!.sourceIp).toBe('203.0.113.60');
    expect(admin.at(-1)!.sourceIp).toBe('203.0.113.60');
  });
});
