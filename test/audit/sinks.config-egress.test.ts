/**
 * Webhook sinks of the configuration file go through the egress guard like sinks added through the
 * admin API: a destination on a loopback or private address is refused at start (the server does
 * not start; the error names the sink) unless `egressAllow` allows its network, and every
 * connection resolves through the guard, so a name that later points at such an address is not
 * reached.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSink, type SinkSpec } from '../../src/audit/sinks/sink.js';
import { checkConfiguredWebhooks, configuredSinkOptions } from '../../src/audit/sinks/registry.js';
import { EgressGuard } from '../../src/jobs/index.js';
import { PRODUCT } from '../../src/runtime/open.js';
import { verifyWebhook } from '../../src/rotation/index.js';
import { startTestServer } from '../support/server.js';
import { eventually } from './sink-support.js';

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

describe('webhook sinks of the configuration file and the egress guard', () => {
  let receiver: http.Server;
  let url = '';
  const bodies: string[] = [];
  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const ok = verifyWebhook(SECRET, req.headers, body).ok;
        if (ok) bodies.push(body);
        res.writeHead(ok ? 204 : 400).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/audit`;
  });
  afterAll(() => new Promise((r) => receiver.close(r)));

  const sinks = (target: string) => JSON.stringify([{ kind: 'webhook', name: 'soc', url: target, secret: SECRET, batchSize: 10 }]);

  it('a loopback or private destination: the server does not start, and the error names the sink and the address', async () => {
    for (const [target, address] of [
      [url, '127.0.0.1'],
      ['http://10.1.2.3/audit', '10.1.2.3'],
      ['http://169.254.169.254/latest', '169.254.169.254'],
    ] as const) {
      const start = startTestServer({ egressAllow: 'none', auditSinks: sinks(target) });
      await expect(start, target).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringContaining('webhook sink soc') });
      await expect(start, target).rejects.toMatchObject({ message: expect.stringContaining(address) });
    }
    // Another allow-list that does not cover it refuses too.
    await expect(startTestServer({ egressAllow: '10.0.0.0/8', auditSinks: sinks(url) })).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringMatching(/webhook sink soc: url: 127\.0\.0\.1/) });
  });

  it('allowed by egressAllow: the server starts and the sink receives signed batches', async () => {
    const kt = await startTestServer({ egressAllow: '127.0.0.1/32', auditSinks: sinks(url) });
    try {
      const created = await kt.api('POST', '/v1/principals', { kind: 'service', name: 'probe' });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      await eventually(() => (bodies.some((b) => b.includes('principal.created')) ? true : undefined));
    } finally {
      await kt.stop();
    }
  });

  it('each connection resolves through the guard: a name that checked public at start and now resolves to loopback is not reached', async () => {
    const answers = [['203.0.113.10'], ['127.0.0.1']];
    let calls = 0;
    const guard = (allow: string[]) => new EgressGuard({ allow, resolve: async () => answers[Math.min(calls++, 1)]! });
    const port = (receiver.address() as AddressInfo).port;
    const spec = { kind: 'webhook', name: 'soc', url: `http://audit.example.test:${port}/audit`, secret: SECRET } as SinkSpec;
    const refused = guard([]);
    await checkConfiguredWebhooks([spec], refused);
    const before = bodies.length;
    const sink = buildSink(spec, PRODUCT, configuredSinkOptions(spec, refused));
    await expect(sink.transport.send(['{"seq":1}'], new AbortController().signal)).rejects.toThrow(/resolves to an address keyturn does not reach/);
    await sink.transport.close();
    expect(bodies.length).toBe(before);
    // The same with loopback allowed: delivered.
    calls = 1;
    const allowed = guard(['127.0.0.1/32']);
    const ok = buildSink(spec, PRODUCT, configuredSinkOptions(spec, allowed));
    await ok.transport.send(['{"seq":1}'], new AbortController().signal);
    await ok.transport.close();
    expect(bodies.length).toBe(before + 1);
  });
});
