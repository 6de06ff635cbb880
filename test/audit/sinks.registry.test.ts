/**
 * Audit sinks added through the admin API, on both stores: persisted with their secrets sealed
 * under the master key (never in a row, an event or a view in clear), their cursor started at the
 * chosen position, bad input refused with a stable code and nothing changed, names unique across
 * the configuration file and the store, every node of a cluster picking a new sink up through the
 * change feed and delivering it once. The signed-webhook kind is received by a real node:http
 * server that checks the Standard Webhooks signature and timestamp as a receiver would.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { appendEvent, listEvents, SYSTEM, type RequestMeta } from '../../src/audit/events.js';
import { readCursor } from '../../src/audit/sinks/cursor.js';
import { SinkDispatcher } from '../../src/audit/sinks/dispatcher.js';
import { SinkRegistry, type SinkEgress } from '../../src/audit/sinks/registry.js';
import { manualContext, type ManualContext } from '../../src/core/context.js';
import { EgressGuard, JobRunner } from '../../src/jobs/index.js';
import { verifyWebhook } from '../../src/rotation/index.js';
import { MIGRATIONS, PRODUCT } from '../../src/runtime/open.js';
import { KeyEncryption } from '../../src/signing/kek.js';
import type { Store } from '../../src/store/port.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';
import { eventually } from './sink-support.js';

const admin: RequestMeta = { actor: 'prn_admin', sourceIp: '192.0.2.1', requestId: 'req_1' };

interface Received {
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  readonly verdict: ReturnType<typeof verifyWebhook>;
}

/** A webhook receiver: checks each POST as Standard Webhooks says, answers `status()`. */
async function receiver(secret: () => string, now: () => Date, status: () => number = () => 204) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const verdict = verifyWebhook(secret(), req.headers, body, { now: now() });
      received.push({ headers: req.headers, body, verdict });
      res.writeHead(verdict.ok ? status() : 400).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/audit?token=t0p`;
  return { received, url, close: () => new Promise((r) => server.close(r)) };
}

async function addEvents(store: Store, ctx: ManualContext, n: number): Promise<void> {
  await store.transaction(async (tx) => {
    for (let i = 0; i < n; i++) await appendEvent(tx, ctx, { type: 'key.revoked', target: `key_${i}`, outcome: 'success', data: { previous: 'active' } }, SYSTEM);
  });
}

const count = async (store: Store, table: string) => Number((await store.get<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table}`))!.n);

describeStore('audit sinks through the admin API', (kind) => {
  let handle: StoreHandle;
  let ctx: ManualContext;
  let dir: string;
  let sealer: KeyEncryption;
  const egress = (allow: string[]): SinkEgress => {
    const guard = new EgressGuard({ allow });
    return { check: (u, w) => guard.check(u, w), checkHost: (h, w) => guard.checkHost(h, w), lookup: guard.lookup as SinkEgress['lookup'] };
  };
  const registryOn = (store: Store, options: { allow?: string[]; reserved?: string[] } = {}) =>
    new SinkRegistry({ store, ctx, sealer, product: PRODUCT, fileDir: join(dir, 'audit'), reserved: () => new Set(options.reserved ?? []), egress: egress(options.allow ?? ['127.0.0.1/32']) });

  beforeEach(async () => {
    handle = await freshStore(kind);
    await handle.store.migrate(MIGRATIONS);
    ctx = manualContext(new Date('2026-12-05T10:00:00Z'));
    dir = mkdtempSync(join(tmpdir(), 'keyturn-sink-registry-'));
    sealer = new KeyEncryption(randomBytes(32), ctx);
  });
  afterEach(async () => {
    await handle.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a webhook sink: secret shown once and sealed; batches of canonical records signed as Standard Webhooks, retried under the same webhook-id', async () => {
    const store = handle.store;
    await addEvents(store, ctx, 3);
    let secret = '';
    let answer = 503;
    const hook = await receiver(() => secret, () => ctx.now(), () => answer);
    const registry = registryOn(store);
    const dispatcher = new SinkDispatcher({ store, ctx, sinks: [], stored: registry.stored, retryBaseMs: 1_000 });
    try {
      const added = await registry.add({ kind: 'webhook', name: 'soc', url: hook.url, from: 'now', batchSize: 3 }, admin);
      secret = added.secret!;
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(added.sink).toMatchObject({ name: 'soc', kind: 'webhook', origin: 'api', hasSecret: true, version: 1, settings: { url: hook.url, batchSize: 3 } });
      // Never in clear at rest, in events, in views.
      const row = (await store.get<Record<string, unknown>>('SELECT * FROM audit_sinks WHERE name = ?', ['soc']))!;
      expect(JSON.stringify(row)).not.toContain(secret.slice(6));
      expect(JSON.stringify(await listEvents(store, { limit: 1000 }))).not.toContain(secret.slice(6));
      expect(JSON.stringify(await registry.get('soc'))).not.toContain(secret.slice(6));
      const created = (await listEvents(store, { type: 'audit.sink_created' }))[0]!;
      expect(created).toMatchObject({ target: 'soc', actor: 'prn_admin', data: { kind: 'webhook', destination: new URL(hook.url).origin, position: 3, secret: true } });
      expect((await readCursor(store, 'soc'))!.position).toBe(3);

      await dispatcher.sync();
      await addEvents(store, ctx, 2);
      // The receiver answers 503 first: the batch is kept and retried.
      await dispatcher.deliver('soc');
      expect((await readCursor(store, 'soc'))!).toMatchObject({ position: 3, state: 'down' });
      answer = 204;
      ctx.advance(600_000);
      await dispatcher.deliver('soc');
      expect(hook.received.every((r) => r.verdict.ok)).toBe(true);
      const [first, second] = hook.received as [Received, Received];
      // The retry is the same batch: same body, same webhook-id (a receiver drops a copy it has), a new timestamp.
      expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
      expect(second.body).toBe(first.body);
      expect(Number(second.headers['webhook-timestamp']) - Number(first.headers['webhook-timestamp'])).toBe(600);
      const bodies = hook.received.slice(1).map((r) => JSON.parse(r.body) as { type: string; data: { sink: string; records: { seq: number; type: string; category: string }[] } });
      expect(bodies.map((b) => [b.type, b.data.sink])).toEqual(bodies.map(() => ['audit.events', 'soc']));
      const records = bodies.flatMap((b) => b.data.records);
      // From `now`: its own creation event onwards, the new ones, then its down and recovered events.
      expect(records.map((r) => r.type)).toEqual(['audit.sink_created', 'key.revoked', 'key.revoked', 'audit.sink_down', 'audit.sink_recovered']);
      expect(records.map((r) => r.seq)).toEqual([4, 5, 6, 7, 8]);
      expect(records[0]!.category).toBe('entity_management');
      // A receiver holding another secret, or checking later than its tolerance, refuses.
      expect(verifyWebhook(`whsec_${randomBytes(32).toString('base64')}`, second.headers, second.body, { now: ctx.now() })).toEqual({ ok: false, reason: 'bad-signature' });
      expect(verifyWebhook(secret, second.headers, second.body, { now: new Date(ctx.now().getTime() + 3_600_000) })).toEqual({ ok: false, reason: 'too-old' });

      // A new secret, shown once; the next batch is signed with it.
      const rotated = await registry.update('soc', { rotateSecret: true }, admin);
      expect(rotated.secret).toMatch(/^whsec_/);
      expect(rotated.secret).not.toBe(secret);
      secret = rotated.secret!;
      await dispatcher.sync();
      await addEvents(store, ctx, 1);
      await dispatcher.deliver('soc');
      expect(hook.received.at(-1)!.verdict).toEqual({ ok: true });
      expect((await listEvents(store, { type: 'audit.sink_updated' })).map((e) => e.data)).toEqual([
        { kind: 'webhook', version: 2, fields: [], secretReplaced: true, destination: new URL(hook.url).origin },
      ]);
    } finally {
      await dispatcher.close();
      await hook.close();
    }
  });

  it('starts at start, now or a sequence number; refuses bad input, taken names and private destinations with a stable code, changing nothing', async () => {
    const store = handle.store;
    await addEvents(store, ctx, 5);
    const registry = registryOn(store, { reserved: ['siem'], allow: [] });
    await registry.add({ kind: 'file', name: 'all', file: 'all.jsonl' }, admin);
    await registry.add({ kind: 'file', name: 'from-three', file: 'three.jsonl', from: 3 }, admin);
    expect((await readCursor(store, 'all'))!.position).toBe(0);
    expect((await readCursor(store, 'from-three'))!.position).toBe(2);
    const rows = await count(store, 'audit_sinks');
    const cursors = await count(store, 'audit_sink_cursors');
    const events = await count(store, 'events');
    const refusals: [unknown, string, RegExp][] = [
      [{ kind: 'file', name: 'siem', file: 'x.jsonl' }, 'ERR_CONFLICT', /configuration file/],
      [{ kind: 'file', name: 'all', file: 'x.jsonl' }, 'ERR_CONFLICT', /exists/],
      [{ kind: 'file', name: 'Bad Name', file: 'x.jsonl' }, 'ERR_VALIDATION', /^name:/],
      [{ kind: 'file', name: 'up', file: '../../etc/cron.d/x' }, 'ERR_VALIDATION', /^file:/],
      [{ kind: 'carrier_pigeon', name: 'x' }, 'ERR_VALIDATION', /kind/],
      [{ kind: 'webhook', name: 'x', url: 'ftp://example.com/' }, 'ERR_VALIDATION', /^url:/],
      [{ kind: 'webhook', name: 'x', url: 'https://example.com/', secret: 'whsec_AAAA' }, 'ERR_VALIDATION', /secret/],
      [{ kind: 'webhook', name: 'x', url: 'https://example.com/', from: 0 }, 'ERR_VALIDATION', /^from/],
      [{ kind: 'webhook', name: 'meta', url: 'http://169.254.169.254/latest' }, 'ERR_VALIDATION', /link-local|169\.254\.169\.254/],
      [{ kind: 'webhook', name: 'local', url: 'http://127.0.0.1:9/x' }, 'ERR_VALIDATION', /loopback|127\.0\.0\.1/],
      [{ kind: 'syslog', name: 'lan', host: '10.0.0.5', port: 6514 }, 'ERR_VALIDATION', /^host:/],
      [{ kind: 'splunk_hec', name: 'hec', url: 'https://splunk.example.com:8088' }, 'ERR_VALIDATION', /^token:/],
      [{ kind: 'syslog', name: 'tls', host: '192.0.2.10', port: 6514, tls: { ca: join(dir, 'missing-ca.pem') } }, 'ERR_VALIDATION', /^tls: cannot read the TLS ca file/],
    ];
    for (const [input, code, message] of refusals) {
      await expect(registry.add(input, admin), JSON.stringify(input)).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
    }
    await expect(registry.update('all', { file: null }, admin)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    await expect(registry.update('all', { url: 'https://example.com/' }, admin)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    await expect(registry.update('all', {}, admin)).rejects.toMatchObject({ code: 'ERR_VALIDATION', message: 'body: nothing to change' });
    await expect(registry.update('nope', { batchSize: 5 }, admin)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    await expect(registry.remove('nope', admin)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    await expect(registry.remove('siem', admin)).rejects.toMatchObject({ code: 'ERR_CONFLICT' });
    expect([await count(store, 'audit_sinks'), await count(store, 'audit_sink_cursors'), await count(store, 'events')]).toEqual([rows, cursors, events]);
  });

  it('a Splunk token is sealed, never shown, and replaced by an update; a removed sink loses its cursor and receives nothing more', async () => {
    const store = handle.store;
    const auth: string[] = [];
    const server = http.createServer((req, res) => {
      auth.push(req.headers.authorization ?? '');
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"text":"Success","code":0}'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const registry = registryOn(store);
    const dispatcher = new SinkDispatcher({ store, ctx, sinks: [], stored: registry.stored });
    try {
      const token = '6c1e0f3a-1111-2222-3333-444455556666';
      const added = await registry.add({ kind: 'splunk_hec', name: 'splunk', url, token, acks: false, from: 'now' }, admin);
      expect(added.secret).toBeUndefined();
      expect(JSON.stringify(added)).not.toContain(token);
      expect(JSON.stringify(await store.all('SELECT * FROM audit_sinks'))).not.toContain(token);
      await dispatcher.sync();
      await dispatcher.deliver('splunk');
      expect(auth).toEqual([`Splunk ${token}`]);
      const other = 'ffffffff-0000-0000-0000-000000000000';
      const updated = await registry.update('splunk', { token: other, batchSize: 50 }, admin);
      expect(updated.sink).toMatchObject({ version: 2, settings: { url, acks: false, batchSize: 50 } });
      expect(JSON.stringify(await listEvents(store, { limit: 1000 }))).not.toMatch(new RegExp(`${token}|${other}`));
      await dispatcher.sync();
      await dispatcher.deliver('splunk');
      expect(auth.at(-1)).toBe(`Splunk ${other}`);

      await registry.remove('splunk', admin);
      expect(await readCursor(store, 'splunk')).toBeUndefined();
      expect(await count(store, 'audit_sinks')).toBe(0);
      expect((await listEvents(store, { type: 'audit.sink_removed' })).map((e) => [e.target, e.data['kind']])).toEqual([['splunk', 'splunk_hec']]);
      await dispatcher.sync();
      const before = auth.length;
      await addEvents(store, ctx, 3);
      await dispatcher.deliver('splunk');
      expect(auth.length).toBe(before);
      expect((await dispatcher.status()).map((s) => s.name)).toEqual([]);
    } finally {
      await dispatcher.close();
      await new Promise((r) => server.close(r));
    }
  });

  it('every node picks a new sink up through the change feed; the cluster delivers each event once', async () => {
    const other = await handle.another();
    const nodes = [handle.store, other].map((store) => {
      const registry = registryOn(store);
      const dispatcher = new SinkDispatcher({ store, ctx, sinks: [], stored: registry.stored });
      return { store, registry, dispatcher, runner: new JobRunner({ store, ctx }) };
    });
    try {
      for (const n of nodes) await n.dispatcher.register(n.runner);
      // PostgreSQL: both feed connections LISTEN before the sink is added (a NOTIFY sent earlier reaches nobody).
      for (const n of nodes) await (n.store as unknown as { feedReady?: () => Promise<void> }).feedReady?.();
      await addEvents(handle.store, ctx, 4);
      await nodes[0]!.registry.add({ kind: 'file', name: 'shared', file: 'shared.jsonl', from: 'start' }, admin);
      // The other node hears of it through the store's change feed (PostgreSQL: LISTEN/NOTIFY; an
      // SQLite file serves one process, whose feed is in-process: the second connection reads again).
      if (kind === 'sqlite') await nodes[1]!.dispatcher.sync();
      for (const n of nodes) await eventually(() => (n.dispatcher.names.includes('shared') ? true : undefined));
      const outcomes = (await Promise.all(nodes.map((n) => n.runner.tick()))).flat().filter((o) => o.name === 'audit.sink.shared');
      expect(outcomes).toHaveLength(1);
      const lines = readFileSync(join(dir, 'audit', 'shared.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq);
      expect(lines).toEqual([1, 2, 3, 4, 5]);
      await nodes[1]!.registry.remove('shared', admin);
      if (kind === 'sqlite') await nodes[0]!.dispatcher.sync();
      for (const n of nodes) await eventually(() => (n.dispatcher.names.includes('shared') ? undefined : true));
    } finally {
      for (const n of nodes) {
        await n.runner.stop();
        await n.dispatcher.close();
      }
    }
  });

  it('an update moves the cursor to start, now or a sequence number, once for the cluster, recorded with from/to; bad positions change nothing', async () => {
    const store = handle.store;
    const other = await handle.another();
    await addEvents(store, ctx, 5);
    const registry = registryOn(store);
    const mine = new SinkDispatcher({ store, ctx, sinks: [], stored: registry.stored });
    const theirs = new SinkDispatcher({ store: other, ctx, sinks: [], stored: registryOn(other).stored });
    const delivered = () => readFileSync(join(dir, 'audit', 'moved.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq);
    try {
      await registry.add({ kind: 'file', name: 'moved', file: 'moved.jsonl', from: 'now' }, admin);
      await mine.sync();
      await theirs.sync();
      await mine.deliver('moved');
      expect(delivered()).toEqual([6]);

      // Back to the start: the other node (it reads the cursor from the store) delivers the log again.
      const back = await registry.update('moved', { from: 'start' }, admin);
      expect(back.sink.version).toBe(2);
      expect((await readCursor(store, 'moved'))!.position).toBe(0);
      await theirs.sync();
      await theirs.deliver('moved');
      await mine.deliver('moved');
      expect(delivered()).toEqual([6, 1, 2, 3, 4, 5, 6, 7]);
      // To a sequence number (the event delivered next), and to now.
      await registry.update('moved', { from: 3 }, admin);
      expect((await readCursor(store, 'moved'))!.position).toBe(2);
      await registry.update('moved', { from: 'now', batchSize: 50 }, admin);
      const head = Number((await store.get<{ n: number | string }>('SELECT MAX(seq) AS n FROM events'))!.n);
      expect((await readCursor(store, 'moved'))!.position).toBe(head - 1);
      const updates = await listEvents(store, { type: 'audit.sink_updated' });
      expect(updates.map((e) => [e.data['fields'], e.data['position']])).toEqual([
        [[], { from: 6, to: 0 }],
        [[], { from: 7, to: 2 }],
        [['batchSize'], { from: 2, to: head - 1 }],
      ]);
      expect(updates.map((e) => e.actor)).toEqual(['prn_admin', 'prn_admin', 'prn_admin']);

      // Beyond the head, zero, negative, fractional, a string, anything else: ERR_VALIDATION, nothing changes.
      const state = async () => [await readCursor(store, 'moved'), (await registry.get('moved')).version, await count(store, 'events')];
      const before = await state();
      const last = Number((await store.get<{ n: number | string }>('SELECT MAX(seq) AS n FROM events'))!.n);
      for (const from of [last + 2, 10_000, 0, -1, 2.5, '3', 'later', null, Number.MAX_SAFE_INTEGER + 2]) {
        await expect(registry.update('moved', { from }, admin), JSON.stringify(from)).rejects.toMatchObject({ code: 'ERR_VALIDATION', message: expect.stringMatching(/^from/) });
      }
      await expect(registry.update('moved', { from: last + 2, batchSize: 7 }, admin)).rejects.toMatchObject({ code: 'ERR_VALIDATION', message: expect.stringMatching(/beyond the log's head/) });
      expect(await state()).toEqual(before);
      // One past the newest is the next event: allowed.
      await registry.update('moved', { from: last + 1 }, admin);
      expect((await readCursor(store, 'moved'))!.position).toBe(last);
    } finally {
      await mine.close();
      await theirs.close();
    }
  });
});
