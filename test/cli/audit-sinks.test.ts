/**
 * `keyturn audit sinks add|list|show|update|remove` against a real server (admin API
 * `/v1/audit/sinks`): a webhook sink added from the CLI receives signed batches through the
 * server's own job runner, its secret is printed once and never again, bad input exits with a
 * clear error and changes nothing, and the admin API needs the admin scope.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook } from '../../src/rotation/index.js';
import { eventually } from '../audit/sink-support.js';
import { cli } from '../support/cli.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('keyturn audit sinks', () => {
  let kt: TestServer;
  let env: NodeJS.ProcessEnv;
  let secret = '';
  const received: { ok: boolean; records: { seq: number; type: string }[] }[] = [];
  let server: http.Server;
  let url = '';
  beforeAll(async () => {
    kt = await startTestServer();
    env = { KEYTURN_URL: kt.url, KEYTURN_TOKEN: kt.adminKey };
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const ok = verifyWebhook(secret, req.headers, body).ok;
        received.push({ ok, records: ok ? (JSON.parse(body) as { data: { records: { seq: number; type: string }[] } }).data.records : [] });
        res.writeHead(ok ? 200 : 400).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/audit`;
  });
  afterAll(async () => {
    await kt.stop();
    await new Promise((r) => server.close(r));
  });

  it('adds a webhook sink (secret printed once), delivers signed batches, lists, shows, updates and removes it', async () => {
    const add = await cli(['audit', 'sinks', 'add', 'webhook', 'soc', '--sink-url', url, '--from', 'now', '--types', 'principal.*,audit.*'], env);
    expect(add.code, add.err).toBe(0);
    secret = add.out.split('\n')[0]!;
    expect(secret).toMatch(/^whsec_/);
    expect(add.out).toContain('cannot show it again');
    await kt.api('POST', '/v1/principals', { kind: 'service', name: 'seen-by-soc' });
    const got = await eventually(() => received.flatMap((r) => r.records).find((r) => r.type === 'principal.created'));
    expect(got).toMatchObject({ type: 'principal.created' });
    expect(received.every((r) => r.ok)).toBe(true);
    expect(received.flatMap((r) => r.records).map((r) => r.type)).toEqual(['audit.sink_created', 'principal.created']);

    const list = await cli(['audit', 'sinks', 'list', '--json'], env);
    const items = (JSON.parse(list.out) as { items: { name: string; origin: string; state: string }[] }).items;
    expect(items.find((i) => i.name === 'soc')).toMatchObject({ origin: 'api', state: 'up' });
    const show = await cli(['audit', 'sinks', 'show', 'soc', '--json'], env);
    expect(JSON.parse(show.out)).toMatchObject({ name: 'soc', kind: 'webhook', origin: 'api', hasSecret: true, settings: { url }, status: { name: 'soc' } });
    for (const text of [list.out, show.out]) expect(text).not.toContain(secret.slice(6));
    const events = await cli(['audit', 'export', '--format', 'jsonl'], env);
    expect(events.out).not.toContain(secret.slice(6));

    const update = await cli(['audit', 'sinks', 'update', 'soc', '--batch-size', '20', '--json'], env);
    expect(JSON.parse(update.out)).toMatchObject({ version: 2, settings: { batchSize: 20 } });
    const remove = await cli(['audit', 'sinks', 'remove', 'soc'], env);
    expect([remove.code, remove.out]).toEqual([0, 'removed soc']);
    const gone = await cli(['audit', 'sinks', 'show', 'soc'], env);
    expect(gone.code).not.toBe(0);
    expect(gone.err).toMatch(/no audit sink soc/);
  });

  it('bad input: a clear error with a stable code, nothing added; the admin API needs an admin key', async () => {
    const before = (await kt.api('GET', '/v1/audit/sinks')).body as { items: unknown[] };
    for (const args of [
      ['audit', 'sinks', 'add', 'pigeon', 'x'],
      ['audit', 'sinks', 'add', 'webhook', 'x', '--sink-url', 'http://169.254.169.254/latest'],
      ['audit', 'sinks', 'add', 'file', 'x', '--file', '../escape'],
      ['audit', 'sinks', 'add', 'webhook', 'x', '--sink-url', url, '--from', 'yesterday'],
    ]) {
      const run = await cli(args, env);
      expect(run.code, args.join(' ')).not.toBe(0);
      expect(run.out).toBe('');
      expect(run.err).toMatch(/^keyturn: /);
    }
    const bad = await kt.api('POST', '/v1/audit/sinks', { kind: 'webhook', name: 'x', url: 'http://169.254.169.254/' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'ERR_VALIDATION' });
    const anonymous = await kt.api('POST', '/v1/audit/sinks', { kind: 'file', name: 'x', file: 'x.jsonl' }, null);
    expect(anonymous.status).toBe(401);
    expect(((await kt.api('GET', '/v1/audit/sinks')).body as { items: unknown[] }).items).toEqual(before.items);
  });

  it('update --from moves the cursor (start, now, a sequence number), recorded with from/to; a position beyond the head or not a number is refused and moves nothing', async () => {
    const add = await cli(['audit', 'sinks', 'add', 'file', 'replay', '--file', 'replay.jsonl', '--from', 'now'], env);
    expect(add.code, add.err).toBe(0);
    const cursor = async () => ((await kt.api('GET', '/v1/audit/sinks')).body.items as { name: string; position: number }[]).find((s) => s.name === 'replay')!.position;
    const back = await cli(['audit', 'sinks', 'update', 'replay', '--from', 'start', '--json'], env);
    expect(back.code, back.err).toBe(0);
    expect(JSON.parse(back.out)).toMatchObject({ name: 'replay', version: 2 });
    expect(await cursor()).toBe(0);
    const to = await cli(['audit', 'sinks', 'update', 'replay', '--from', '2'], env);
    expect(to.code, to.err).toBe(0);
    expect(await cursor()).toBe(1);
    const updated = ((await kt.api('GET', '/v1/events?type=audit.sink_updated&limit=100')).body.items as { target: string; data: { position?: { from: number; to: number } } }[]).filter((e) => e.target === 'replay');
    expect(updated.map((e) => e.data.position?.to)).toEqual([0, 1]);
    expect(updated[1]!.data.position!.from).toBe(0);
    const before = [await cursor(), (await kt.api('GET', '/v1/audit/sinks/replay')).body.version];
    for (const [args, message] of [
      [['--from', '999999999'], /ERR_VALIDATION|beyond the log's head/],
      [['--from', '-3'], /--from is start, now or a sequence number|argument/],
      [['--from', '1.5'], /--from is start, now or a sequence number/],
      [['--from', 'later'], /--from is start, now or a sequence number/],
    ] as const) {
      const run = await cli(['audit', 'sinks', 'update', 'replay', ...args], env);
      expect(run.code, args.join(' ')).not.toBe(0);
      expect(run.out).toBe('');
      expect(run.err).toMatch(/^keyturn: /);
      expect(run.err).toMatch(message);
    }
    // The API refuses the same with a stable code.
    for (const from of [999_999_999, -3, 1.5, 'later']) {
      const res = await kt.api('PATCH', '/v1/audit/sinks/replay', { from });
      expect(res.status, JSON.stringify(from)).toBe(400);
      expect(res.body).toMatchObject({ code: 'ERR_VALIDATION' });
    }
    expect([await cursor(), (await kt.api('GET', '/v1/audit/sinks/replay')).body.version]).toEqual(before);
  });
});
