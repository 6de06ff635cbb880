import { randomBytes } from 'node:crypto';
import { rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { listEvents, type RequestMeta } from '../../src/audit/events.js';
import { runCli } from '../../src/cli/program.js';
import { manualContext, type ManualContext } from '../../src/core/context.js';
import { secretDigest } from '../../src/core/secret.js';
import { KeyService } from '../../src/keys/service.js';
import { Outbox } from '../../src/jobs/index.js';
import { LeakResponder } from '../../src/leaks/respond/index.js';
import { runScan } from '../../src/leaks/scan/scanner.js';
import { WatchService, type ScanFunction } from '../../src/leaks/watch.js';
import { PrincipalService } from '../../src/principals/service.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import type { Store } from '../../src/store/port.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';
import { commitFiles, initRepo, tempDir, writeTree } from './support/fixtures.js';

const admin: RequestMeta = { actor: null, actorKind: null, sourceIp: '127.0.0.1', requestId: 'req_test' };
const HOUR = 3_600_000;

/** One keyturn "node": its own services on its own store connection. */
function node(store: Store, ctx: ManualContext, nodeId: string, scan?: ScanFunction) {
  const principals = new PrincipalService(store, ctx);
  const keys = new KeyService({ store, ctx, principals, prefix: 'kt_live' });
  const responder = new LeakResponder({ store, ctx, keys, mode: 'suspend', fingerprintKey: randomBytes(32), outbox: new Outbox({ store, ctx, nodeId: 'nod_test' }) });
  const watches = new WatchService({ store, ctx, responder, fingerprintKey: randomBytes(32), nodeId, leaseMs: 60_000, threads: 0, ...(scan ? { scan } : {}) });
  return { principals, keys, responder, watches };
}

describeStore('watch jobs', (kind) => {
  let handle: StoreHandle;
  let ctx: ManualContext;
  let a: ReturnType<typeof node>;
  let dir: string;

  beforeEach(async () => {
    handle = await freshStore(kind);
    await handle.store.migrate(MIGRATIONS);
    ctx = manualContext(new Date('2031-05-01T00:00:00Z'));
    a = node(handle.store, ctx, 'node-a');
    await a.principals.create({ kind: 'service', name: 'api' }, admin);
    dir = tempDir();
  });
  afterEach(async () => {
    await a.watches.stop();
    a.keys.close();
    await handle.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds, lists, shows and removes watches; refuses what the server cannot watch', async () => {
    const w = await a.watches.add({ source: dir, every: '1h' }, admin);
    expect(w).toMatchObject({ source: dir, history: false, everyMs: HOUR, runs: 0, lastRunAt: null, claimedBy: null, nextRunAt: ctx.now().toISOString() });
    expect(await a.watches.list()).toEqual([w]);
    expect(await a.watches.get(w.id)).toEqual(w);
    for (const bad of [
      { source: 'relative/path', every: '1h' },
      { source: join(dir, 'missing'), every: '1h' },
      { source: '-', every: '1h' },
      { source: 'https://bot:t0ken@git.example/r.git', every: '1h' },
      { source: dir, every: '10ms' },
      { source: dir, every: 'soon' },
      { source: 's3://bucket/prefix', every: '1h', history: true },
      { source: dir, every: '1h', extra: 1 },
    ]) {
      await expect(a.watches.add(bad, admin)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    }
    await a.watches.remove(w.id, admin);
    await expect(a.watches.get(w.id)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    await expect(a.watches.remove(w.id, admin)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    expect((await listEvents(handle.store, { target: w.id })).map((e) => e.type)).toEqual(['leak_watch.created', 'leak_watch.removed']);
  });

  it('runs incrementally: a second run reads nothing unchanged, a new file is scanned alone; the state holds no secret', async () => {
    const first = await a.keys.create({ owner: 'api', name: 'first' }, admin);
    writeTree(dir, { 'app/.env': `API_KEY=${first.secret}\n`, 'README.md': '# hello\n' });
    const w = await a.watches.add({ source: dir, every: '1h' }, admin);
    const run1 = await a.watches.run(w.id, admin);
    expect(run1).toMatchObject({ ok: true, findings: 1, new: 1, suspended: 1, items: 2 });
    expect(await a.keys.verify(first.secret, admin)).toEqual({ valid: false, reason: 'suspended' });
    const after1 = await a.watches.get(w.id);
    expect(after1).toMatchObject({ runs: 1, lastRunAt: ctx.now().toISOString(), nextRunAt: new Date(ctx.now().getTime() + HOUR).toISOString(), claimedBy: null });
    expect(after1.lastResult).toMatchObject({ ok: true, suspended: 1 });

    const run2 = await a.watches.run(w.id, admin);
    expect(run2).toMatchObject({ ok: true, findings: 0, items: 0 });

    const second = await a.keys.create({ owner: 'api', name: 'second' }, admin);
    writeTree(dir, { 'deploy/prod.env': `KEY=${second.secret}\n` });
    const run3 = await a.watches.run(w.id, admin);
    expect(run3).toMatchObject({ ok: true, findings: 1, new: 1, suspended: 1, items: 1 });
    expect(run3.outcomes[0]).toMatchObject({ keyId: second.key.id, fingerprint: secretDigest(second.secret) });

    const row = await handle.store.get<{ state: string }>('SELECT state FROM leak_watches WHERE id = ?', [w.id]);
    expect(row!.state).toContain('app/.env');
    for (const s of [first.secret, second.secret]) expect(row!.state).not.toContain(s.slice(8, 40));
    const ran = await listEvents(handle.store, { type: 'leak_watch.ran', target: w.id });
    expect(ran.map((e) => [e.outcome, e.data.findings])).toEqual([
      ['success', 1],
      ['success', 0],
      ['success', 1],
    ]);
    // where it was seen names the watch
    const finding = (await a.responder.list({ key: second.key.id }))[0]!;
    expect((await a.responder.get(finding.id)).places).toEqual([
      expect.objectContaining({ via: 'watch', watchId: w.id, source: dir, file: 'deploy/prod.env', line: 1 }),
    ]);
  });

  it('scans a git history incrementally: only commits since the last run', async () => {
    initRepo(dir);
    const old = await a.keys.create({ owner: 'api', name: 'old' }, admin);
    commitFiles(dir, { 'config.env': `KEY=${old.secret}\n` }, 'add', 1_700_000_000);
    commitFiles(dir, { 'config.env': 'KEY=${FROM_VAULT}\n' }, 'remove', 1_700_000_100);
    const w = await a.watches.add({ source: dir, every: '1d', history: true }, admin);
    expect(await a.watches.run(w.id, admin)).toMatchObject({ ok: true, findings: 1, suspended: 1 });
    const fresh = await a.keys.create({ owner: 'api', name: 'fresh' }, admin);
    commitFiles(dir, { 'later.env': `KEY=${fresh.secret}\n` }, 'oops', 1_700_000_200);
    const run2 = await a.watches.run(w.id, admin);
    expect(run2).toMatchObject({ ok: true, findings: 1, new: 1, suspended: 1 });
    expect(run2.outcomes.map((o) => o.keyId)).toEqual([fresh.key.id]);
  });

  it('records a failed run, releases the claim and schedules the next one', async () => {
    const gone = tempDir();
    const w = await a.watches.add({ source: gone, every: '1h' }, admin);
    rmSync(gone, { recursive: true, force: true });
    const result = await a.watches.run(w.id, admin);
    expect(result).toMatchObject({ ok: false, findings: 0, error: { code: 'ERR_VALIDATION' } });
    const view = await a.watches.get(w.id);
    expect(view).toMatchObject({ runs: 1, claimedBy: null, lastResult: { ok: false } });
    expect(Date.parse(view.nextRunAt)).toBe(ctx.now().getTime() + HOUR);
    expect((await listEvents(handle.store, { type: 'leak_watch.ran' }))[0]).toMatchObject({ outcome: 'failure', reason: 'ERR_VALIDATION' });
  });

  it('is claimed by one node only: the other skips it while it runs, and takes over an expired claim', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inScan = new Promise<void>((resolve) => (entered = resolve));
    const blocking: ScanFunction = async (target, options) => {
      entered();
      await gate;
      return runScan(target, options);
    };
    const other = await handle.another();
    const slow = node(handle.store, ctx, 'node-slow', blocking);
    const b = node(other, ctx, 'node-b');
    try {
      const leaked = await a.keys.create({ owner: 'api', name: 'leaked' }, admin);
      writeTree(dir, { '.env': `K=${leaked.secret}\n` });
      const w = await a.watches.add({ source: dir, every: '1h' }, admin);

      const slowTick = slow.watches.tick();
      await inScan; // node-slow holds the claim and is scanning
      expect(await b.watches.tick()).toEqual([]);
      await expect(b.watches.run(w.id, admin)).rejects.toMatchObject({ code: 'ERR_CONFLICT' });
      expect((await b.watches.get(w.id)).claimedBy).toBe('node-slow');
      release();
      expect(await slowTick).toHaveLength(1);
      expect(await b.watches.tick()).toEqual([]); // not due again for an hour

      // due again: both nodes look (at once on PostgreSQL; SQLite serves one node, and two SQLite
      // connections in one process cannot overlap transactions without blocking the event loop)
      ctx.advance(HOUR);
      const [ra, rb] =
        kind === 'postgres' ? await Promise.all([a.watches.tick(), b.watches.tick()]) : [await a.watches.tick(), await b.watches.tick()];
      expect(ra.length + rb.length).toBe(1);
      expect((await b.watches.get(w.id)).runs).toBe(2);

      // a node that claimed it and died: its claim holds until the lease ends, then another node runs it
      ctx.advance(HOUR);
      const now = ctx.now().getTime();
      await handle.store.run('UPDATE leak_watches SET claimed_by = ?, claimed_until = ? WHERE id = ?', ['node-dead', now + 60_000, w.id]);
      expect(await b.watches.tick()).toEqual([]);
      ctx.advance(60_001);
      expect(await b.watches.tick()).toHaveLength(1);
      const ran = await listEvents(handle.store, { type: 'leak_watch.ran', target: w.id });
      expect(ran.map((e) => e.data.node)).toEqual(['node-slow', expect.stringMatching(/^node-[ab]$/), 'node-b']);
      // the leak was acted on once, whichever node saw it
      expect(await listEvents(handle.store, { type: 'key.suspended' })).toHaveLength(1);
    } finally {
      release();
      await slow.watches.stop();
      await b.watches.stop();
      slow.keys.close();
      b.keys.close();
    }
  });
});

describe('keyturn watch (CLI and server scheduler)', () => {
  let server: TestServer;
  let dir: string;
  const ctx = manualContext(new Date('2031-06-01T00:00:00Z'));

  async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli([...args, '--url', server.url, '--token', server.adminKey], {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
      env: {},
      stdin: async () => '',
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  beforeAll(async () => {
    server = await startTestServer({ watchTick: 20 }, ctx);
    await server.api('POST', '/v1/principals', { kind: 'service', name: 'web' });
    dir = tempDir();
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('add, list, show, run and remove through the admin API', async () => {
    const key = (await server.api('POST', '/v1/keys', { owner: 'web', name: 'k' })).body as { id: string; key: string };
    writeTree(dir, { 'site/config.js': `const key = "${key.key}";\n` });
    const added = await cli('watch', 'add', dir, '--every', '1d', '--json');
    expect(added.code).toBe(0);
    const watch = JSON.parse(added.out) as { id: string };
    // the scheduler runs a new watch at once
    await vi.waitFor(async () => expect((await server.api('GET', `/v1/leaks/watches/${watch.id}`)).body.runs).toBe(1), { timeout: 10_000, interval: 20 });
    expect((await server.api('POST', '/v1/keys/verify', { key: key.key }, null)).body.code).toBe('ERR_KEY_SUSPENDED');

    const list = await cli('watch', 'list');
    expect(list.out).toContain(watch.id);
    expect(list.out).toContain('1 found, 1 new, 1 suspended');
    const shown = await cli('watch', 'show', watch.id, '--json');
    expect(JSON.parse(shown.out)).toMatchObject({ id: watch.id, source: dir, runs: 1 });

    const run = await cli('watch', 'run', watch.id);
    expect(run.code).toBe(0);
    expect(run.out).toContain(`${watch.id}: 0 found, 0 new`);

    const removed = await cli('watch', 'remove', watch.id);
    expect(removed.out).toBe(`removed ${watch.id}`);
    expect((await cli('watch', 'show', watch.id)).err).toContain('ERR_NOT_FOUND');
    process.exitCode = 0;
    expect((await cli('watch', 'add', dir, '--every', 'often')).code).toBe(2);
    expect((await cli('watch', 'add', 'no/such/dir', '--every', '1h')).err).toContain('ERR_VALIDATION');
    process.exitCode = 0;
  });

  it('runs due watches on its timer with the injected clock, incrementally', async () => {
    const w = (await server.api('POST', '/v1/leaks/watches', { source: dir, every: '1h' })).body as { id: string };
    await vi.waitFor(async () => expect((await server.api('GET', `/v1/leaks/watches/${w.id}`)).body.runs).toBe(1), { timeout: 10_000, interval: 20 });
    const key = (await server.api('POST', '/v1/keys', { owner: 'web', name: 'later' })).body as { id: string; key: string };
    writeTree(dir, { 'later.txt': `token ${key.key}\n` });
    unlinkSync(join(dir, 'site/config.js'));
    ctx.advance(HOUR);
    await vi.waitFor(async () => expect((await server.api('GET', `/v1/leaks/watches/${w.id}`)).body.runs).toBe(2), { timeout: 10_000, interval: 20 });
    const view = (await server.api('GET', `/v1/leaks/watches/${w.id}`)).body as { lastResult: Record<string, unknown> };
    expect(view.lastResult).toMatchObject({ ok: true, findings: 1, new: 1, suspended: 1, items: 1 });
    expect((await server.api('POST', '/v1/keys/verify', { key: key.key }, null)).body.code).toBe('ERR_KEY_SUSPENDED');
  });
});
