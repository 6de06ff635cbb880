import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { EVENT_CATALOG } from '../../src/audit/catalog.js';
import { manualContext, type ManualContext } from '../../src/core/context.js';
import { Outbox, webhookDeliverer } from '../../src/jobs/index.js';
import { KeyService } from '../../src/keys/index.js';
import { PrincipalService } from '../../src/principals/index.js';
import { PolicyService, verifyWebhook, WebhookService } from '../../src/rotation/index.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import { KeyEncryption } from '../../src/signing/kek.js';
import type { Store } from '../../src/store/port.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';
import { admin, eventsOf } from './support.js';

/**
 * A real node:http receiver on a fixed loopback port: `ok` accepts what carries a valid Standard
 * Webhooks signature, `refuse` answers 503, and it can be closed (unreachable) and opened again.
 */
class Receiver {
  mode: 'ok' | 'refuse' = 'ok';
  secret = '';
  readonly accepted: string[] = [];
  #server: Server | undefined;
  #port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.#port}/hooks?token=path-secret`;
  }

  async up(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (this.mode === 'refuse') return void res.writeHead(503).end('maintenance');
        const verdict = verifyWebhook(this.secret, req.headers, Buffer.concat(chunks).toString('utf8'), { toleranceSeconds: 1e9 });
        if (!verdict.ok) return void res.writeHead(401).end();
        this.accepted.push(String(req.headers['webhook-id']));
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
}

/** One node as the runtime wires it, with the real `webhook` deliverer (signing with the endpoint's secret). */
async function node(store: Store, ctx: ManualContext, masterKey: Uint8Array) {
  const policies = new PolicyService({ store, ctx });
  await policies.load();
  await (store as unknown as { feedReady?: () => Promise<void> }).feedReady?.();
  const principals = new PrincipalService(store, ctx, { policies });
  const outbox = new Outbox({ store, ctx, nodeId: 'test', backoffBaseMs: 1_000, backoffMaxMs: 60_000 });
  const webhooks = new WebhookService({ store, ctx, outbox, sealer: new KeyEncryption(masterKey, ctx), principals });
  outbox.deliverer('webhook', webhookDeliverer({ signer: webhooks.signer, timeoutMs: 5_000, now: () => ctx.now() }));
  const keys = new KeyService({
    store,
    ctx,
    principals,
    prefix: 'kt_test',
    policies,
    sealer: new KeyEncryption(masterKey, ctx),
    onEvent: (tx, event) => webhooks.fanOut(tx, { type: event.type, principal: event.key.principal, subject: event.key.id, data: { ...event.data } }),
  });
  return { principals, outbox, webhooks, keys, close: () => (keys.close(), policies.close()) };
}

describeStore('webhook endpoint health: down while retries go on, recovered once', (kind) => {
  let handle: StoreHandle;
  let ctx: ManualContext;
  let n: Awaited<ReturnType<typeof node>>;
  const receiver = new Receiver();

  beforeEach(async () => {
    handle = await freshStore(kind);
    await handle.store.migrate(MIGRATIONS);
    ctx = manualContext(new Date('2030-01-01T00:00:00Z'));
    n = await node(handle.store, ctx, randomBytes(32));
    await n.principals.create({ kind: 'service', name: 'billing' }, admin);
    receiver.mode = 'ok';
    receiver.accepted.length = 0;
    await receiver.up();
  });
  afterEach(async () => {
    n.close();
    await receiver.down();
    await handle.dispose();
  });

  /** Revokes `count` new keys of billing: one delivery each. */
  async function deliveries(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const { key } = await n.keys.create({ owner: 'billing', name: `k${Math.random().toString(36).slice(2)}` }, admin);
      await n.keys.revoke(key.id, admin);
    }
  }

  /** Every due delivery tried once more, past any backoff. */
  async function attempt(): Promise<void> {
    ctx.advance(120_000);
    await n.outbox.deliverDue();
  }

  it('the first failure records endpoint_down (with the status, never the URL or secret), the first success endpoint_recovered; each once', async () => {
    const { endpoint, secret } = await n.webhooks.add({ url: receiver.url, owner: 'billing' }, admin);
    receiver.secret = secret;
    expect(endpoint.health).toEqual({ state: 'unknown', since: null, consecutiveFailures: 0, lastError: null, lastStatus: null });

    await deliveries(1);
    await attempt();
    expect((await n.webhooks.get(endpoint.id)).health).toMatchObject({ state: 'up', consecutiveFailures: 0 });
    expect(await eventsOf(handle.store, 'webhook.endpoint_recovered')).toEqual([]); // unknown → up is no recovery

    // The receiver answers 503: several deliveries fail at once (the outbox sends them concurrently), over several rounds.
    receiver.mode = 'refuse';
    const downAt = ctx.now().getTime() + 120_000;
    await deliveries(3);
    await attempt();
    await attempt();
    const down = await n.webhooks.get(endpoint.id);
    expect(down.health).toEqual({ state: 'down', since: new Date(downAt).toISOString(), consecutiveFailures: 6, lastError: 'HTTP 503', lastStatus: 503 });
    // Then it is unreachable altogether: still the same outage.
    await receiver.down();
    await attempt();
    expect((await n.webhooks.get(endpoint.id)).health).toMatchObject({ state: 'down', since: new Date(downAt).toISOString(), consecutiveFailures: 9, lastError: 'unreachable', lastStatus: null });
    const wentDown = await eventsOf(handle.store, 'webhook.endpoint_down');
    expect(wentDown).toHaveLength(1);
    expect(wentDown[0]).toMatchObject({ target: endpoint.id, reason: 'HTTP 503', data: { event: 'key.revoked', status: 503, origin: new URL(receiver.url).origin } });
    expect(EVENT_CATALOG['webhook.endpoint_down'].data.safeParse(wentDown[0]!.data).success).toBe(true);
    expect(await eventsOf(handle.store, 'webhook.delivery_failed')).toEqual([]); // nothing given up yet: retries continue
    // Listed as down.
    expect((await n.webhooks.list({ owner: 'billing' }))[0]!.health.state).toBe('down');

    // Back up: the pending deliveries get through, the recovery is recorded once.
    await receiver.up();
    receiver.mode = 'ok';
    const upAt = ctx.now().getTime() + 120_000;
    await attempt();
    await attempt();
    expect(receiver.accepted).toHaveLength(4);
    expect((await n.webhooks.get(endpoint.id)).health).toEqual({ state: 'up', since: new Date(upAt).toISOString(), consecutiveFailures: 0, lastError: null, lastStatus: null });
    const recovered = await eventsOf(handle.store, 'webhook.endpoint_recovered');
    expect(recovered).toHaveLength(1);
    expect(recovered[0]).toMatchObject({ target: endpoint.id, data: { downForMs: upAt - downAt, failures: 9 } });
    expect(EVENT_CATALOG['webhook.endpoint_recovered'].data.safeParse(recovered[0]!.data).success).toBe(true);
    expect(await eventsOf(handle.store, 'webhook.endpoint_down')).toHaveLength(1);

    // Nothing secret in the health events: not the endpoint secret, not the URL's path or query, not the body.
    const all = JSON.stringify([...(await eventsOf(handle.store, 'webhook.endpoint_down')), ...recovered]);
    expect(all).not.toContain(secret.slice(6));
    expect(all).not.toContain('path-secret');
    expect(all).not.toContain('maintenance');

    // A second outage is a second transition.
    receiver.mode = 'refuse';
    await deliveries(1);
    await attempt();
    expect(await eventsOf(handle.store, 'webhook.endpoint_down')).toHaveLength(2);
  });

  it('each endpoint has its own health: one down does not mark another', async () => {
    const good = await n.webhooks.add({ url: receiver.url, owner: 'billing' }, admin);
    receiver.secret = good.secret;
    const bad = await n.webhooks.add({ url: 'http://127.0.0.1:9/nothing-listens-here', owner: 'billing' }, admin);
    await deliveries(2);
    await attempt();
    expect((await n.webhooks.get(good.endpoint.id)).health.state).toBe('up');
    expect((await n.webhooks.get(bad.endpoint.id)).health).toMatchObject({ state: 'down', consecutiveFailures: 2, lastError: 'unreachable' });
    expect((await eventsOf(handle.store, 'webhook.endpoint_down')).map((e) => e.target)).toEqual([bad.endpoint.id]);
  });
});
