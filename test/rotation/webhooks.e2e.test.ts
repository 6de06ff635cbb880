import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EVENT_CATALOG, type EventType } from '../../src/audit/catalog.js';
import { loadConfig } from '../../src/config/load.js';
import type { ConfigFlags } from '../../src/config/schema.js';
import { manualContext, type ManualContext } from '../../src/core/context.js';
import { secretDigest } from '../../src/core/secret.js';
import { verifyWebhook } from '../../src/rotation/index.js';
import { createLogger } from '../../src/runtime/logger.js';
import { startServer, type RunningServer } from '../../src/runtime/serve.js';
import { cli } from '../support/cli.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';

/** One webhook a receiver accepted, with the verdict of its own Standard Webhooks check. */
interface Got {
  readonly id: string;
  readonly timestamp: number;
  readonly type: string;
  readonly body: { type: string; timestamp: string; data: Record<string, any> };
  readonly headers: IncomingHttpHeaders;
}

/**
 * A real node:http receiver on a fixed loopback port that checks every request as a Standard
 * Webhooks consumer does — signature under the endpoint's secret, timestamp within 5 minutes of
 * its clock (the test's clock) — answers 401 to anything that fails, and can go down (port
 * closed) and come back on the same port.
 */
class Receiver {
  readonly accepted: Got[] = [];
  /** Why each refused request was refused (`no-secret`: the receiver has not been given one yet). */
  readonly refused: string[] = [];
  secret = '';
  #server: Server | undefined;
  #port = 0;

  readonly clock: () => Date;

  constructor(clock: () => Date) {
    this.clock = clock;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/hooks/keyturn?token=path-secret`;
  }

  async up(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const verdict = this.secret === '' ? ({ ok: false, reason: 'no-secret' } as const) : verifyWebhook(this.secret, req.headers, body, { now: this.clock(), toleranceSeconds: 300 });
        if (!verdict.ok) {
          this.refused.push(verdict.reason);
          res.writeHead(401).end();
          return;
        }
        const parsed = JSON.parse(body) as Got['body'];
        this.accepted.push({ id: String(req.headers['webhook-id']), timestamp: Number(req.headers['webhook-timestamp']), type: parsed.type, body: parsed, headers: req.headers });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(this.#port, '127.0.0.1', resolve));
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  async down(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  of(type: string): Got[] {
    return this.accepted.filter((g) => g.type === type);
  }
}

/** A keyturn that can be stopped and started again on the same store, data dir and master key (a restart). */
class Node {
  server!: RunningServer;
  adminKey = '';
  readonly dataDir = mkdtempSync(join(tmpdir(), 'keyturn-hooks-'));
  readonly masterKey = randomBytes(32).toString('hex');

  readonly ctx: ManualContext;
  readonly db: string;
  readonly flags: ConfigFlags;

  constructor(ctx: ManualContext, db: string, flags: ConfigFlags = {}) {
    this.ctx = ctx;
    this.db = db;
    this.flags = flags;
  }

  #port = 0;

  async start(): Promise<void> {
    // A cluster node (PostgreSQL) needs its issuer up front: the port is picked once and kept across restarts.
    if (this.#port === 0) {
      const probe = createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      this.#port = (probe.address() as AddressInfo).port;
      await new Promise<void>((resolve) => probe.close(() => resolve()));
    }
    const config = loadConfig({
      flags: {
        dataDir: this.dataDir,
        port: this.#port,
        issuer: `http://127.0.0.1:${this.#port}`,
        logLevel: 'silent',
        egressAllow: '127.0.0.0/8',
        db: this.db,
        masterKey: this.masterKey,
        ...this.flags,
      },
    });
    this.server = await startServer(config, { logger: createLogger('silent'), ctx: this.ctx });
    if (!this.adminKey) this.adminKey = readFileSync(join(this.dataDir, 'admin.key'), 'utf8').trim();
  }

  async stop(): Promise<void> {
    await this.server.close();
  }

  async api<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as T) : (undefined as T) };
  }

  /** Runs the outbox delivery job now (the runner also does on its own). */
  async deliver(): Promise<void> {
    await this.server.kt.jobs.outbox.deliverDue();
  }

  async events(type: EventType): Promise<{ target: string | null; reason: string | null; outcome: string; data: Record<string, unknown> }[]> {
    return (await this.api<{ items: { target: string | null; reason: string | null; outcome: string; data: Record<string, unknown> }[] }>('GET', `/v1/events?type=${type}&limit=1000`)).body.items;
  }
}

describeStore('signed webhooks to owners, end to end', (kind) => {
  const ctx = manualContext(new Date());
  const receiver = new Receiver(() => ctx.now());
  let handle: StoreHandle | undefined;
  let dir: string;
  let node: Node;
  let endpoint: { id: string; secret: string };
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyturn-hooks-db-'));
    handle = kind === 'postgres' ? await freshStore('postgres') : undefined;
    node = new Node(ctx, handle?.db ?? join(dir, 'keyturn.db'));
    await node.start();
    await receiver.up();
    env = { KEYTURN_URL: node.server.url, KEYTURN_DATA_DIR: node.dataDir };
    expect((await node.api('POST', '/v1/principals', { kind: 'service', name: 'billing' })).status).toBe(201);
    expect((await node.api('POST', '/v1/principals', { kind: 'service', name: 'other' })).status).toBe(201);
  });
  afterAll(async () => {
    await node.stop().catch(() => undefined);
    await receiver.down();
    await handle?.dispose();
    rmSync(dir, { recursive: true, force: true });
    rmSync(node.dataDir, { recursive: true, force: true });
  });

  it('keyturn webhooks add shows the secret once; the store holds it only sealed', async () => {
    const run = await cli(['webhooks', 'add', receiver.url, '--owner', 'billing', '--json'], env);
    expect(run.code, run.err).toBe(0);
    const created = JSON.parse(run.out) as { id: string; secret: string; owner: string; events: string[]; url: string };
    expect(created.id).toMatch(/^whe_/);
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(created.events).toEqual(['key.rotation_due', 'key.rotated', 'key.expiring', 'key.revoked', 'key.leaked', 'client.secret_rotation_due', 'client.secret_expiring']);
    endpoint = created;
    receiver.secret = created.secret;
    const shown = await node.api('GET', `/v1/webhooks/${created.id}`);
    expect(shown.body).not.toHaveProperty('secret');
    const list = await cli(['webhooks', 'list'], env);
    expect(list.out).toMatch(/^ID\s+OWNER\s+URL\s+EVENTS/);
    expect(list.out).toContain(created.id);
    // Nowhere in the database, nor in any event, is the secret (or its base64 body) in clear.
    const store = node.server.kt.store;
    const row = await store.get<{ secret: string }>('SELECT secret FROM webhook_endpoints WHERE id = ?', [created.id]);
    expect(row!.secret).toMatch(/^v1\./);
    const events = JSON.stringify(await node.events('webhook.endpoint_created'));
    expect(events).not.toContain(created.secret.slice(6));
    expect(events).not.toContain('path-secret'); // the URL's query may carry a token: events keep its origin only
    expect(events).toContain('"origin":"http://127.0.0.1:');
  });

  it('key.rotated and key.revoked reach the owner, signed, written in the change’s transaction; other owners’ keys do not', async () => {
    const key = (await node.api('POST', '/v1/keys', { owner: 'billing', name: 'ci' })).body as { id: string };
    const foreign = (await node.api('POST', '/v1/keys', { owner: 'other', name: 'ci' })).body as { id: string };
    const rotated = (await node.api('POST', `/v1/keys/${key.id}/rotate`, { graceSeconds: 60 })).body as { id: string; key: string };
    await node.api('POST', `/v1/keys/${foreign.id}/rotate`, { graceSeconds: 60 });
    await node.api('POST', `/v1/keys/${rotated.id}/revoke`, { reason: 'test' });
    await vi.waitFor(() => expect(receiver.accepted.length).toBeGreaterThanOrEqual(2), { timeout: 15_000, interval: 50 });
    await node.deliver();
    const [r] = receiver.of('key.rotated');
    expect(r!.body.data).toMatchObject({ subject: key.id, key: { id: key.id, name: 'ci', status: 'rotating' }, by: 'admin', successor: rotated.id });
    expect(JSON.stringify(r!.body)).not.toContain(rotated.key); // never the successor's secret
    expect(r!.headers['keyturn-event']).toBe('key.rotated');
    expect(r!.id).toMatch(/^obx_/);
    expect(receiver.of('key.revoked').map((g) => g.body.data.subject)).toEqual([rotated.id]);
    expect(receiver.accepted.every((g) => g.body.data.principal !== foreign.id && g.body.data.subject !== foreign.id)).toBe(true);
    expect(receiver.refused).toEqual([]);
    // The delivery log of the endpoint, over the CLI (the runner may still be recording an attempt the receiver already answered).
    await vi.waitFor(
      async () => {
        const log = JSON.parse((await cli(['webhooks', 'deliveries', endpoint.id, '--json'], env)).out) as { items: { id: string; event: string; status: string; log: { outcome: string }[] }[] };
        expect(log.items.map((d) => [d.event, d.status, d.log.map((a) => a.outcome)]).sort()).toEqual([
          ['key.revoked', 'delivered', ['delivered']],
          ['key.rotated', 'delivered', ['delivered']],
        ]);
      },
      { timeout: 15_000, interval: 50 },
    );
  });

  it('a receiver that is down, across a keyturn restart, gets everything once it is back (at least once, nothing lost)', async () => {
    const before = receiver.accepted.length;
    await receiver.down();
    const ids: string[] = [];
    for (const name of ['d1', 'd2', 'd3']) {
      const key = (await node.api('POST', '/v1/keys', { owner: 'billing', name })).body as { id: string };
      await node.api('POST', `/v1/keys/${key.id}/rotate`, { graceSeconds: 0 });
      ids.push(key.id);
    }
    await node.deliver();
    // Each tried once and failed (the runner may be mid-attempt on one: wait for its log).
    await vi.waitFor(
      async () => {
        const pending = (await node.api('GET', `/v1/webhooks/${endpoint.id}/deliveries?limit=1000`)).body.items.filter((d: { status: string }) => d.status === 'pending');
        expect(pending).toHaveLength(3);
        expect(pending.map((d: { log: { outcome: string; error: string }[] }) => [d.log[0]?.outcome, d.log[0]?.error])).toEqual(Array(3).fill(['failed', 'unreachable']));
      },
      { timeout: 15_000, interval: 100 },
    );
    // The endpoint is down while the retries go on: GET /v1/webhooks, `webhooks list` and `webhooks show` say so, and since when.
    const listed = (await node.api('GET', '/v1/webhooks?owner=billing')).body.items.find((e: { id: string }) => e.id === endpoint.id);
    expect(listed.health).toMatchObject({ state: 'down', lastError: 'unreachable', lastStatus: null });
    expect(listed.health.consecutiveFailures).toBeGreaterThanOrEqual(3);
    const since = listed.health.since as string;
    expect((await cli(['webhooks', 'list', '--owner', 'billing'], env)).out).toMatch(new RegExp(`${endpoint.id}.*\\sdown\\s+${since}\\s+\\d+\\s+unreachable`));
    expect((await cli(['webhooks', 'show', endpoint.id], env)).out).toMatch(/^health\s+down$/m);
    const wentDown = (await node.events('webhook.endpoint_down')).filter((e) => e.target === endpoint.id);
    expect(wentDown).toHaveLength(1);
    expect(wentDown[0]).toMatchObject({ outcome: 'failure', reason: 'unreachable', data: { status: null } });
    expect(EVENT_CATALOG['webhook.endpoint_down'].data.safeParse(wentDown[0]!.data).success).toBe(true);
    // Restart keyturn while they are pending, then bring the receiver back.
    await node.stop();
    await node.start();
    env = { KEYTURN_URL: node.server.url, KEYTURN_DATA_DIR: node.dataDir };
    await receiver.up();
    ctx.advance(3_600_000); // past any backoff
    await node.deliver();
    await vi.waitFor(() => expect(receiver.of('key.rotated').map((g) => g.body.data.subject)).toEqual(expect.arrayContaining(ids)), { timeout: 15_000, interval: 50 });
    expect(receiver.accepted.length - before).toBeGreaterThanOrEqual(3);
    // Recovered once, across the restart; the endpoint is up again.
    await vi.waitFor(async () => expect((await node.api('GET', `/v1/webhooks/${endpoint.id}`)).body.health).toMatchObject({ state: 'up', consecutiveFailures: 0, lastError: null }), { timeout: 15_000, interval: 50 });
    const recovered = (await node.events('webhook.endpoint_recovered')).filter((e) => e.target === endpoint.id);
    expect(recovered).toHaveLength(1);
    expect(recovered[0]!.data.failures).toBeGreaterThanOrEqual(3);
    expect(EVENT_CATALOG['webhook.endpoint_recovered'].data.safeParse(recovered[0]!.data).success).toBe(true);
    // Every delivery to the endpoint is settled as delivered; the same webhook-id was kept across attempts.
    const all = (await node.api('GET', `/v1/webhooks/${endpoint.id}/deliveries?limit=1000`)).body.items as { id: string; status: string }[];
    expect(all.every((d) => d.status === 'delivered')).toBe(true);
    for (const id of ids) {
      const got = receiver.of('key.rotated').find((g) => g.body.data.subject === id)!;
      expect(all.map((d) => d.id)).toContain(got.id);
    }
  });

  it('the scheduler tells key.rotation_due and key.expiring once per key per deadline', async () => {
    expect((await node.api('POST', '/v1/policies', { name: 'weekly', from: 'default', keyRotationInterval: 7 * 86_400, keyMaxAge: 30 * 86_400 })).status).toBe(201);
    const key = (await node.api('POST', '/v1/keys', { owner: 'billing', name: 'sched', policy: 'weekly', expiresIn: '3d' })).body as { id: string };
    await node.server.kt.jobs.runner.runNow('rotation.schedule'); // notice window 7d: both within it
    await node.server.kt.jobs.runner.runNow('rotation.schedule'); // again: nothing new
    await node.deliver();
    await vi.waitFor(() => expect(receiver.of('key.expiring').filter((g) => g.body.data.subject === key.id)).toHaveLength(1), { timeout: 15_000, interval: 50 });
    expect(receiver.of('key.rotation_due').filter((g) => g.body.data.subject === key.id)).toHaveLength(1);
    expect(receiver.of('key.expiring').find((g) => g.body.data.subject === key.id)!.body.data).toMatchObject({ why: 'expiry', passed: false });
    expect((await node.events('key.rotation_due')).filter((e) => e.target === key.id)).toHaveLength(1);
    expect((await node.events('key.expiring')).filter((e) => e.target === key.id)).toHaveLength(1);
  });

  it('the scheduler tells client.secret_rotation_due and client.secret_expiring once per client per deadline, signed like the rest', async () => {
    // banking: the secret rotates every day and reaches its maximum age (hard) in 7 days, both within the 7-day notice window.
    const client = (await node.api('POST', '/v1/clients', { name: 'sched-app', owner: 'billing', policy: 'banking' })).body as { client_id: string; client_secret: string };
    await node.server.kt.jobs.runner.runNow('rotation.schedule');
    await node.server.kt.jobs.runner.runNow('rotation.schedule');
    await node.deliver();
    await vi.waitFor(() => expect(receiver.of('client.secret_expiring').filter((g) => g.body.data.subject === client.client_id)).toHaveLength(1), { timeout: 15_000, interval: 50 });
    const due = receiver.of('client.secret_rotation_due').filter((g) => g.body.data.subject === client.client_id);
    expect(due).toHaveLength(1);
    expect(due[0]!.body.data).toMatchObject({ client: { id: client.client_id, name: 'sched-app', policy: 'banking' }, dueAt: new Date(ctx.now().getTime() + 86_400_000).toISOString() });
    expect(receiver.of('client.secret_expiring').find((g) => g.body.data.subject === client.client_id)!.body.data).toMatchObject({ enforced: 'hard', passed: false });
    expect(JSON.stringify(receiver.accepted.filter((g) => g.body.data.subject === client.client_id))).not.toContain(client.client_secret.slice(5));
    for (const type of ['client.secret_rotation_due', 'client.secret_expiring'] as const) {
      const events = (await node.events(type)).filter((e) => e.target === client.client_id);
      expect(events).toHaveLength(1);
      expect(EVENT_CATALOG[type].data.safeParse(events[0]!.data).success).toBe(true);
    }
  });

  it('key.leaked reaches the owner with the same signature; the principal’s legacy webhookUrl becomes a signed endpoint', async () => {
    const key = (await node.api('POST', '/v1/keys', { owner: 'billing', name: 'leaky' })).body as { id: string; key: string };
    const found = await node.api('POST', '/v1/leaks/findings', [{ fingerprint: secretDigest(key.key), kind: 'keyturn', rule: 'keyturn-secret', file: 'app/.env', line: 3, column: 1 }]);
    expect(found.status).toBe(200);
    await node.deliver();
    await vi.waitFor(() => expect(receiver.of('key.leaked').filter((g) => g.body.data.subject === key.id)).toHaveLength(1), { timeout: 15_000, interval: 50 });
    const leaked = receiver.of('key.leaked').find((g) => g.body.data.subject === key.id)!;
    expect(leaked.body.data).toMatchObject({ type: 'leak.detected', key: { id: key.id, action: 'suspended' }, finding: { rule: 'keyturn-secret' } });
    expect(JSON.stringify(leaked.body)).not.toContain(key.key);
    // leak.notified still records the owner's delivery (target: the key).
    await vi.waitFor(async () => expect((await node.events('leak.notified')).some((e) => e.target === key.id && e.outcome === 'success')).toBe(true), { timeout: 15_000, interval: 50 });

    // A principal made with the old webhookUrl: its URL is taken over as an endpoint for key.leaked, signed.
    const legacy = new Receiver(() => ctx.now());
    await legacy.up();
    try {
      const p = (await node.api('POST', '/v1/principals', { kind: 'service', name: 'legacy', webhookUrl: legacy.url })).body as { id: string };
      const lk = (await node.api('POST', '/v1/keys', { owner: 'legacy', name: 'old' })).body as { id: string; key: string };
      await node.api('POST', '/v1/leaks/findings', [{ fingerprint: secretDigest(lk.key), kind: 'keyturn', rule: 'keyturn-secret', file: 'x', line: 1, column: 1 }]);
      const adopted = (await node.api('GET', `/v1/webhooks?owner=${p.id}`)).body.items as { id: string; origin: string; events: string[]; url: string }[];
      expect(adopted.map((e) => [e.origin, e.events, e.url])).toEqual([['principal', ['key.leaked'], legacy.url]]);
      await node.deliver();
      // Signed with a secret nobody has seen yet: the receiver (without one) refuses until it gets one by rotate-secret.
      await vi.waitFor(() => expect(legacy.refused).toContain('no-secret'), { timeout: 15_000, interval: 50 });
      const rotated = (await node.api('POST', `/v1/webhooks/${adopted[0]!.id}/rotate-secret`, {})).body as { secret: string };
      legacy.secret = rotated.secret;
      const deliveries = (await node.api('GET', `/v1/webhooks/${adopted[0]!.id}/deliveries`)).body.items as { id: string; status: string }[];
      ctx.advance(3_600_000);
      await node.deliver();
      await vi.waitFor(() => expect(legacy.of('key.leaked')).toHaveLength(1), { timeout: 15_000, interval: 50 });
      expect(legacy.accepted[0]!.id).toBe(deliveries[0]!.id);
      // Both the new secret and (during the overlap) the old one sign: two v1 signatures.
      expect(String(legacy.accepted[0]!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    } finally {
      await legacy.down();
    }
  });

  it('a delivery given up records webhook.delivery_failed; keyturn webhooks replay sends it again with the same webhook-id', async () => {
    await receiver.down();
    const key = (await node.api('POST', '/v1/keys', { owner: 'billing', name: 'doomed' })).body as { id: string };
    await node.api('POST', `/v1/keys/${key.id}/revoke`, {});
    for (let i = 0; i < 12; i++) {
      await node.deliver();
      ctx.advance(2 * 3_600_000);
    }
    const dead = ((await node.api('GET', `/v1/webhooks/${endpoint.id}/deliveries?limit=1000`)).body.items as { id: string; status: string; event: string; attempts: number }[]).filter(
      (d) => d.status === 'dead' && d.event === 'key.revoked',
    );
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ event: 'key.revoked', attempts: 10 });
    const failed = (await node.events('webhook.delivery_failed')).filter((e) => (e.data as { delivery: string }).delivery === dead[0]!.id);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ target: endpoint.id, outcome: 'failure', reason: 'unreachable', data: { event: 'key.revoked', attempts: 10, status: null } });
    expect(EVENT_CATALOG['webhook.delivery_failed'].data.safeParse(failed[0]!.data).success).toBe(true);

    // Replaying a pending delivery or an unknown id changes nothing.
    expect(await cli(['webhooks', 'replay', 'obx_nope'], env)).toMatchObject({ code: 1, err: expect.stringContaining('ERR_NOT_FOUND') });
    const run = await cli(['webhooks', 'replay', dead[0]!.id, '--json'], env);
    expect(run.code, run.err).toBe(0);
    expect(JSON.parse(run.out)).toMatchObject({ id: dead[0]!.id, status: 'pending' });
    // Still pending (the receiver is down until after this check, so no background attempt can deliver it meanwhile).
    expect(await cli(['webhooks', 'replay', dead[0]!.id], env)).toMatchObject({ code: 1, err: expect.stringContaining('ERR_CONFLICT') });
    await receiver.up();
    ctx.advance(3_600_000); // past the backoff of an attempt made while the receiver was down
    await node.deliver();
    await vi.waitFor(() => expect(receiver.accepted.some((g) => g.id === dead[0]!.id)).toBe(true), { timeout: 15_000, interval: 50 });
    const replayed = (await node.events('webhook.delivery_replayed')).filter((e) => (e.data as { delivery: string }).delivery === dead[0]!.id);
    expect(replayed).toHaveLength(1);
    expect(EVENT_CATALOG['webhook.delivery_replayed'].data.safeParse(replayed[0]!.data).success).toBe(true);
    const after = (await node.api('GET', `/v1/webhooks/${endpoint.id}/deliveries?limit=1000`)).body.items.find((d: { id: string }) => d.id === dead[0]!.id);
    // 10 given up, then the replay's: one more if the outbox also tried while the receiver was still down.
    expect(after).toMatchObject({ status: 'delivered' });
    expect(after.attempts).toBeGreaterThanOrEqual(11);
    expect(after.attempts).toBeLessThanOrEqual(12);
  });

  it('bad input answers a clear error and changes nothing', async () => {
    const count = async () => (await node.api('GET', '/v1/webhooks?all=true&limit=1000')).body.items.length;
    const events = async () => (await node.events('webhook.endpoint_created')).length;
    const [n, e] = [await count(), await events()];
    expect(await cli(['webhooks', 'add', receiver.url, '--events', 'key.rotated,key.exploded'], env)).toMatchObject({ code: 1, err: expect.stringMatching(/ERR_VALIDATION: .*events/) });
    expect(await cli(['webhooks', 'add', receiver.url, '--owner', 'nobody'], env)).toMatchObject({ code: 1, err: expect.stringContaining('ERR_NOT_FOUND: owner: no such principal') });
    expect(await cli(['webhooks', 'add', 'ftp://example.com/x'], env)).toMatchObject({ code: 1, err: expect.stringContaining('ERR_VALIDATION') });
    expect(await cli(['webhooks', 'deliveries', 'whe_unknown'], env)).toMatchObject({ code: 1, err: expect.stringContaining('ERR_NOT_FOUND: no such webhook endpoint') });
    expect(await cli(['webhooks', 'remove', 'whe_unknown'], env)).toMatchObject({ code: 1, err: expect.stringContaining('ERR_NOT_FOUND') });
    expect(await cli(['webhooks', 'rotate-secret', 'nope'], env)).toMatchObject({ code: 1, err: expect.stringContaining('ERR_NOT_FOUND') });
    expect((await node.api('POST', '/v1/webhooks', { url: receiver.url, extra: 1 })).status).toBe(400);
    expect([await count(), await events()]).toEqual([n, e]);
  });

  it('a removed endpoint gets nothing more and its pending deliveries are cancelled', async () => {
    await receiver.down();
    const key = (await node.api('POST', '/v1/keys', { owner: 'billing', name: 'last' })).body as { id: string };
    await node.api('POST', `/v1/keys/${key.id}/revoke`, {});
    const removed = await cli(['webhooks', 'remove', endpoint.id, '--json'], env);
    expect(removed.code, removed.err).toBe(0);
    expect(JSON.parse(removed.out)).toMatchObject({ id: endpoint.id, status: 'removed' });
    expect((await node.events('webhook.endpoint_removed')).find((x) => x.target === endpoint.id)!.data.cancelled).toBeGreaterThanOrEqual(1);
    await receiver.up();
    const before = receiver.accepted.length;
    const again = (await node.api('POST', '/v1/keys', { owner: 'billing', name: 'after' })).body as { id: string };
    await node.api('POST', `/v1/keys/${again.id}/revoke`, {});
    ctx.advance(3_600_000);
    await node.deliver();
    expect(receiver.accepted.length).toBe(before);
    expect((await cli(['webhooks', 'list', '--owner', 'billing'], env)).out).toBe('no webhook endpoints');
  });
});

describe('endpoint URLs pass the SSRF egress guard', () => {
  it('a loopback or metadata URL is refused unless egressAllow allows its network; nothing is stored', async () => {
    const ctx = manualContext(new Date());
    const dir = mkdtempSync(join(tmpdir(), 'keyturn-hooks-egress-'));
    const node = new Node(ctx, join(dir, 'k.db'), { egressAllow: 'none' });
    await node.start();
    try {
      for (const url of ['http://127.0.0.1:8080/hook', 'http://169.254.169.254/latest/meta-data', 'http://10.0.0.5/x', 'http://[::1]/x']) {
        const res = await node.api('POST', '/v1/webhooks', { url });
        expect(res.status, url).toBe(400);
        expect(res.body.code).toBe('ERR_VALIDATION');
        expect(res.body.error_description).toMatch(/^url: .*, a (loopback|link-local|private|reserved) address; keyturn sends nothing/);
      }
      expect((await node.api('GET', '/v1/webhooks?all=true')).body.items).toEqual([]);
      expect((await node.events('webhook.endpoint_created'))).toEqual([]);
    } finally {
      await node.stop();
      rmSync(dir, { recursive: true, force: true });
      rmSync(node.dataDir, { recursive: true, force: true });
    }
  });
});
