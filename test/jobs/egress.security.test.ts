import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressClass } from '../../src/core/network.js';
import { EgressGuard, urlHost, webhookDeliverer } from '../../src/jobs/index.js';
import { startReceiver, type Receiver } from '../leaks/support/server.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Issue 9, item 11: webhook, watch and git URLs reached loopback, link-local (cloud metadata) and
 * private addresses — keyturn could be made to POST into its own network or read a metadata service.
 */

describe('addressClass', () => {
  it.each([
    ['93.184.216.34', 'public'],
    ['2606:2800:220:1::1', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['::1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['10.1.2.3', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['100.100.100.200', 'private'], // Alibaba metadata (carrier-grade NAT range)
    ['fd00:ec2::254', 'private'], // AWS metadata over IPv6
    ['169.254.169.254', 'link-local'], // AWS, GCP, Azure metadata
    ['fe80::1%eth0', 'link-local'],
    ['192.0.0.192', 'reserved'], // Oracle metadata
    ['224.0.0.1', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['64:ff9b::a9fe:a9fe', 'link-local'], // NAT64 of 169.254.169.254
    ['not-an-address', undefined],
  ])('%s is %s', (address, cls) => {
    expect(addressClass(address)).toBe(cls);
  });

  it('reads the host of URLs and scp-like git remotes as a connection would (numeric IPv4 forms included)', () => {
    expect(urlHost('http://2130706433/x')).toBe('127.0.0.1');
    expect(urlHost('http://0x7f.1/x')).toBe('127.0.0.1');
    expect(urlHost('https://[::1]:8443/hook')).toBe('[::1]');
    expect(urlHost('git@10.0.0.5:org/repo.git')).toBe('10.0.0.5');
    expect(urlHost('ssh://git@169.254.169.254/repo')).toBe('169.254.169.254');
    expect(urlHost('file:///srv/repo')).toBeUndefined();
  });
});

describe('URLs to places keyturn must not reach', () => {
  let kt: TestServer;
  let allowed: TestServer;
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
    kt = await startTestServer({ egressAllow: 'none' });
    allowed = await startTestServer({ egressAllow: '127.0.0.1' });
  });
  afterAll(async () => {
    await kt.stop();
    await allowed.stop();
    await receiver.close();
  });

  it.each([
    'RECEIVER/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]:9/hook',
    'http://[::ffff:127.0.0.1]:9/hook',
    'http://2130706433:9/hook',
    'http://localhost:9/hook',
    'http://10.0.0.1/hook',
  ])('refuses a principal webhook to %s, and creates nothing', async (target) => {
    const url = target.replace('RECEIVER', receiver.url);
    const res = await kt.api('POST', '/v1/principals', { kind: 'service', name: 'hooked', webhookUrl: url });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'ERR_VALIDATION', error_description: expect.stringMatching(/^webhookUrl: .*(loopback|link-local|private).*egressAllow/) });
    expect((await kt.api('GET', '/v1/principals')).body.items.map((p: { name: string }) => p.name)).toEqual(['bootstrap-admin']);
  });

  it.each(['https://127.0.0.1/org/repo.git', 'git@10.0.0.5:org/repo.git', 'ssh://git@169.254.169.254/repo.git', 'git://localhost/repo.git'])(
    'refuses to watch the git remote %s',
    async (source) => {
      const res = await kt.api('POST', '/v1/leaks/watches', { source, every: '1h' });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'ERR_VALIDATION', error_description: expect.stringMatching(/^source: /) });
    },
  );

  it('still lets the admin watch a local path', async () => {
    const res = await kt.api('POST', '/v1/leaks/watches', { source: '/tmp', every: '1h' });
    expect(res.status).toBe(201);
    await kt.api('DELETE', `/v1/leaks/watches/${res.body.id}`);
  });

  it('accepts what egressAllow allows, and only that', async () => {
    expect((await allowed.api('POST', '/v1/principals', { kind: 'service', name: 'ok', webhookUrl: `${receiver.url}/hook` })).status).toBe(201);
    expect((await allowed.api('POST', '/v1/principals', { kind: 'service', name: 'meta', webhookUrl: 'http://169.254.169.254/' })).status).toBe(400);
  });
});

describe('delivery-time check (DNS rebinding)', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(async () => receiver.close());

  const attempt = (deliver: ReturnType<typeof webhookDeliverer>, url: string) =>
    deliver({ id: 'obx_1', attempt: 1, data: { url, body: '{}' }, signal: new AbortController().signal } as Parameters<typeof deliver>[0]);

  it('refuses a name that resolved public when registered and resolves to loopback at delivery; sends nothing', async () => {
    let answer = '93.184.216.34';
    const egress = new EgressGuard({ resolve: async () => [answer] });
    const port = new URL(receiver.url).port;
    const url = `http://rebind.example:${port}/hook`;
    await egress.check(url, 'webhookUrl'); // registration: fine
    answer = '127.0.0.1';
    await expect(egress.check(url, 'webhookUrl')).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    expect(await attempt(webhookDeliverer({ egress }), url)).toEqual({ ok: false, error: 'forbidden-address' });
    // Any address of the answer counts, not only the first.
    const mixed = new EgressGuard({ resolve: async () => ['93.184.216.34', '169.254.169.254'] });
    expect(await attempt(webhookDeliverer({ egress: mixed }), url)).toEqual({ ok: false, error: 'forbidden-address' });
    expect(receiver.received).toHaveLength(0);
  });

  it('connects to the addresses it checked: an answer that changes between the check and the connection is refused', async () => {
    const answers = [['93.184.216.34'], ['127.0.0.1']];
    const egress = new EgressGuard({ resolve: async () => answers.shift() ?? ['127.0.0.1'] });
    const port = new URL(receiver.url).port;
    expect(await attempt(webhookDeliverer({ egress }), `http://flip.example:${port}/hook`)).toEqual({ ok: false, error: 'forbidden-address' });
    expect(answers).toEqual([]); // both answers were asked for: the check's, then the connection's
    expect(receiver.received).toHaveLength(0);
  });

  it('delivers by name through the checked lookup when the network is allowed', async () => {
    const egress = new EgressGuard({ allow: ['127.0.0.0/8'], resolve: async () => ['127.0.0.1'] });
    const port = new URL(receiver.url).port;
    expect(await attempt(webhookDeliverer({ egress }), `http://receiver.internal:${port}/named`)).toMatchObject({ ok: true, status: 204 });
    expect(receiver.received.at(-1)).toMatchObject({ method: 'POST', path: '/named', headers: expect.objectContaining({ host: `receiver.internal:${port}` }) });
  });

  it('delivers to an allowed receiver', async () => {
    const egress = new EgressGuard({ allow: ['127.0.0.0/8'] });
    const before = receiver.received.length;
    expect(await attempt(webhookDeliverer({ egress }), `${receiver.url}/hook`)).toMatchObject({ ok: true });
    expect(receiver.received).toHaveLength(before + 1);
  });
});
