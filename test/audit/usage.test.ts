/**
 * Usage records end to end: successful verifications over HTTP are counted in memory, written per
 * interval as one record and one `key.used` event per key and source network, and shown as "last
 * used" / "used from" by `GET /v1/keys/:id`; sinks configured in the config are listed by the
 * admin API and receive the stream.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageLog, usageOf } from '../../src/audit/usage.js';
import { listEvents } from '../../src/audit/events.js';
import { manualContext } from '../../src/core/context.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { eventually } from './sink-support.js';

describeStore('usage log', (kind) => {
  let handle: StoreHandle;
  beforeAll(async () => {
    handle = await freshStore(kind);
    await handle.store.migrate(MIGRATIONS);
  });
  afterAll(async () => handle.dispose());

  it('one record and one key.used event per key, network and interval; an IPv6 /64 is one network; nodes add up', async () => {
    const ctx = manualContext(new Date('2026-12-05T12:00:00Z'));
    const a = new UsageLog({ store: handle.store, ctx, intervalMs: 60_000 });
    const b = new UsageLog({ store: await handle.another(), ctx, intervalMs: 60_000 });
    for (let i = 0; i < 1000; i++) a.note('key_1', '192.0.2.1');
    a.note('key_1', '2001:db8:0:1::5');
    a.note('key_1', '2001:db8:0:1::6');
    b.note('key_1', '192.0.2.1');
    ctx.advance(10_000);
    a.note('key_2', null);
    expect(a.pending).toBe(4);
    expect(await a.flush()).toBe(3);
    expect(await b.flush()).toBe(1);
    expect(a.pending).toBe(0);
    const usage = await usageOf(handle.store, 'key_1');
    expect(usage.usedFrom.map((u) => [u.network, u.count])).toEqual([
      ['192.0.2.1', 1001],
      ['2001:db8:0:1::/64', 2],
    ]);
    expect(usage.lastUsedAt).toBe('2026-12-05T12:00:00.000Z');
    const used = await listEvents(handle.store, { type: 'key.used' });
    expect(used.map((e) => [e.target, e.data['network'], e.data['count'], e.data['firstUse'], e.data['newNetwork']])).toEqual([
      ['key_1', '192.0.2.1', 1000, true, false],
      ['key_1', '2001:db8:0:1::/64', 2, false, true],
      ['key_2', 'unknown', 1, true, false],
      ['key_1', '192.0.2.1', 1, false, false],
    ]);
    // The next interval: a known network is not new.
    ctx.advance(60_000);
    a.note('key_1', '192.0.2.1');
    await a.flush();
    expect((await listEvents(handle.store, { type: 'key.used', target: 'key_1' })).at(-1)!.data).toMatchObject({ newNetwork: false, firstUse: false, count: 1 });
    expect(await usageOf(handle.store, 'key_never')).toEqual({ lastUsedAt: null, usedFrom: [] });
  });

  it('counts survive a failed write: they are written by the next flush', async () => {
    const ctx = manualContext(new Date('2026-12-05T13:00:00Z'));
    const broken = { ...handle.store, transaction: async () => Promise.reject(new Error('store down')) } as unknown as typeof handle.store;
    const log = new UsageLog({ store: broken, ctx });
    log.note('key_9', '192.0.2.9');
    await expect(log.flush()).rejects.toThrow('store down');
    log.note('key_9', '192.0.2.9');
    expect(log.pending).toBe(1);
  });
});

describe('usage, sinks and detections in a running server', () => {
  let kt: TestServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyturn-usage-'));
    kt = await startTestServer({
      usageInterval: '1h',
      detections: JSON.stringify({ enabled: true }),
      auditSinks: JSON.stringify([{ kind: 'file', name: 'local', path: join(dir, 'audit.jsonl'), format: 'ocsf' }]),
    });
  });
  afterAll(async () => {
    await kt.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keys show gives last used and used from after the usage job ran; the hot path only counted', async () => {
    await kt.api('POST', '/v1/principals', { kind: 'service', name: 'billing' });
    const created = await kt.api('POST', '/v1/keys', { owner: 'billing', name: 'ci', scopes: ['read'] });
    const { id, key } = created.body as { id: string; key: string };
    expect((await kt.api('GET', `/v1/keys/${id}`)).body).toMatchObject({ lastUsedAt: null, usedFrom: [] });
    for (let i = 0; i < 5; i++) expect((await kt.api('POST', '/v1/keys/verify', { key }, null)).body.valid).toBe(true);
    await kt.kt.audit.usage!.flush();
    const shown = (await kt.api('GET', `/v1/keys/${id}`)).body as { lastUsedAt: string; usedFrom: { network: string; count: number }[] };
    expect(shown.usedFrom).toEqual([expect.objectContaining({ network: '127.0.0.1', count: 5 })]);
    expect(Date.parse(shown.lastUsedAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('lists configured sinks with their cursor; the file sink receives the stream in OCSF; unknown sinks are 404, bad names 400', async () => {
    await kt.kt.jobs.runner.runNow('audit.sink.local');
    const sinks = (await kt.api('GET', '/v1/audit/sinks')).body as { items: { name: string; kind: string; state: string; position: number; configured: boolean }[] };
    expect(sinks.items).toEqual([expect.objectContaining({ name: 'local', kind: 'file', state: 'up', configured: true })]);
    expect(sinks.items[0]!.position).toBeGreaterThan(0);
    expect(existsSync(join(dir, 'audit.jsonl'))).toBe(true);
    const lines = readFileSync(join(dir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { class_uid: number; metadata: { sequence: number } });
    expect(lines.map((l) => l.metadata.sequence)).toEqual(Array.from({ length: lines.length }, (_, i) => i + 1));
    expect((await kt.api('POST', '/v1/audit/sinks/local/retry')).status).toBe(202);
    expect((await kt.api('POST', '/v1/audit/sinks/nope/retry')).status).toBe(404);
    expect((await kt.api('POST', '/v1/audit/sinks/Bad%20Name/retry')).status).toBe(400);
    expect((await kt.api('GET', '/v1/audit/sinks', undefined, null)).status).toBe(401);
  });

  it('an admin key created is a detection finding (OCSF 2004 in the sink)', async () => {
    await kt.api('POST', '/v1/keys', { owner: 'billing', name: 'root', scopes: ['admin'] });
    await kt.kt.jobs.runner.runNow('audit.detections');
    const findings = await eventually(async () => {
      const f = (await kt.api('GET', '/v1/events?type=detection.finding')).body.items as { data: { rule: string } }[];
      return f.some((x) => x.data.rule === 'admin_key_created') ? f : undefined;
    });
    expect(findings.map((f) => f.data.rule)).toContain('admin_key_created');
    await kt.kt.jobs.runner.runNow('audit.sink.local');
    const classes = readFileSync(join(dir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { class_uid: number }).class_uid);
    expect(classes).toContain(2004);
  });
});
