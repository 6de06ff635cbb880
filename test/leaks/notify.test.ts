import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { listEvents, type RequestMeta } from '../../src/audit/events.js';
import { manualContext } from '../../src/core/context.js';
import { secretDigest } from '../../src/core/secret.js';
import { KeyService } from '../../src/keys/service.js';
import { LeakResponder, type LeakNotification, type LeakNotifier } from '../../src/leaks/respond/index.js';
import { leakNotifications } from '../../src/leaks/respond/notify.js';
import { PrincipalService } from '../../src/principals/service.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import { Outbox, webhookDeliverer } from '../../src/jobs/index.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Store, Transaction } from '../../src/store/port.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';

const admin: RequestMeta = { actor: null, actorKind: null, sourceIp: '127.0.0.1', requestId: 'req_test' };

/** A notifier that keeps what it is handed; `idle` resolves when the test says so. */
class RecordingNotifier implements LeakNotifier {
  readonly sent: (readonly LeakNotification[])[] = [];
  release: () => void = () => undefined;
  #idle: Promise<void> = Promise.resolve();
  async send(_tx: Transaction, notifications: readonly LeakNotification[]): Promise<void> {
    this.sent.push(notifications);
  }
  hold(): void {
    this.#idle = new Promise((resolve) => (this.release = resolve));
  }
  idle(): Promise<void> {
    return this.#idle;
  }
}

describeStore('leak notifications behind the notifier interface', (kind) => {
  let handle: StoreHandle;
  let keys: KeyService;
  let notifier: RecordingNotifier;
  let responder: LeakResponder;
  let owned: { id: string; secret: string };

  beforeEach(async () => {
    handle = await freshStore(kind);
    await handle.store.migrate(MIGRATIONS);
    const ctx = manualContext(new Date('2031-05-01T00:00:00Z'));
    const principals = new PrincipalService(handle.store, ctx);
    keys = new KeyService({ store: handle.store, ctx, principals, prefix: 'kt_live' });
    notifier = new RecordingNotifier();
    const outbox = new Outbox({ store: handle.store, ctx, nodeId: 'nod_test' });
    responder = new LeakResponder({ store: handle.store, ctx, keys, mode: 'suspend', fingerprintKey: randomBytes(32), webhookUrl: 'https://siem.example/leaks', notifier, outbox });
    await principals.create({ kind: 'service', name: 'billing', webhookUrl: 'https://billing.example/hook' }, admin);
    const { key, secret } = await keys.create({ owner: 'billing', name: 'prod' }, admin);
    owned = { id: key.id, secret };
  });
  afterEach(async () => {
    keys.close();
    await handle.dispose();
  });

  it('hands the owner and global deliveries of a new finding to the notifier once, after recording it', async () => {
    const fingerprint = secretDigest(owned.secret);
    const [outcome] = await responder.respond([{ fingerprint, kind: 'keyturn', rule: 'keyturn-secret', where: { via: 'scan', file: '.env', line: 3 } }], admin);
    expect(outcome).toMatchObject({ status: 'suspended', action: 'suspended', new: true, notifications: 2 });
    expect(notifier.sent).toHaveLength(1);
    const [owner, global] = notifier.sent[0]!;
    expect([owner!.to, owner!.url, global!.to, global!.url]).toEqual(['owner', 'https://billing.example/hook', 'global', 'https://siem.example/leaks']);
    expect(owner!.target).toBe(owned.id);
    expect(owner!.payload).toEqual({
      type: 'leak.detected',
      time: '2031-05-01T00:00:00.000Z',
      finding: { id: outcome!.findingId, fingerprint, kind: 'keyturn', rule: 'keyturn-secret', status: 'suspended', firstSeen: '2031-05-01T00:00:00.000Z' },
      key: { id: owned.id, name: 'prod', start: owned.secret.slice(0, 12), principal: expect.stringMatching(/^prn_/), action: 'suspended' },
      credential: { type: 'api_key', id: owned.id, principal: expect.stringMatching(/^prn_/), client: null, label: `prod (${owned.secret.slice(0, 12)}…)`, response: 'key_suspended', held: null },
      repeat: false,
      where: { via: 'scan', file: '.env', line: 3 },
      untrusted: null,
      text: expect.stringContaining('the key was suspended'),
      successor: null,
    });
    expect(global!.payload).toBe(owner!.payload);
    // Delivering and recording deliveries is the notifier's business.
    expect(await listEvents(handle.store, { type: 'leak.notified' })).toEqual([]);

    const [again] = await responder.respond([{ fingerprint, kind: 'keyturn', rule: 'keyturn-secret', where: { via: 'scan', file: 'b.txt' } }], admin);
    expect(again).toMatchObject({ new: false, action: 'none', notifications: 0 });
    expect(notifier.sent).toHaveLength(1);
  });

  it('tells only the global webhook about secrets that are not ours', async () => {
    const [outcome] = await responder.respond([{ fingerprint: secretDigest('AKIA-not-ours'), kind: 'aws', rule: 'aws-access-key', where: { via: 'watch' } }], admin);
    expect(outcome).toMatchObject({ status: 'third_party', notifications: 1 });
    expect(notifier.sent.flat().map((n) => [n.to, n.target, n.payload.key])).toEqual([['global', outcome!.findingId, null]]);
  });

  it('idle() waits for queued reports and for the notifier', async () => {
    notifier.hold();
    let done = false;
    await responder.queueReport([{ token: owned.secret }], admin);
    const idle = responder.idle().then(() => (done = true));
    await vi.waitFor(() => expect(notifier.sent).toHaveLength(1), { timeout: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(done).toBe(false);
    notifier.release();
    await idle;
    expect(done).toBe(true);
  });
});

describe('leakNotifications', () => {
  const finding = { id: 'lkf_1', fingerprint: 'f'.repeat(64), kind: 'keyturn', rule: 'keyturn-secret', keyId: 'key_1', principal: 'prn_1', status: 'inactive', credential: { type: 'api_key', id: 'key_1' }, held: null, acknowledgedAt: null } as const;
  const key = { id: 'key_1', name: 'prod', start: 'kt_live_abcd', principal: 'prn_1', ownerWebhook: null };

  it('tells no one when the owner has no webhook and no global one is configured', () => {
    expect(leakNotifications({ finding, key, action: 'none', where: { via: 'scan' }, at: 0 }, undefined)).toEqual([]);
  });

  it('targets the key when there is one, the finding otherwise', () => {
    expect(leakNotifications({ finding, key, action: 'none', where: { via: 'scan' }, at: 0 }, 'https://g.example').map((n) => n.target)).toEqual(['key_1']);
    expect(leakNotifications({ finding: { ...finding, keyId: null }, action: 'none', where: { via: 'scan' }, at: 0 }, 'https://g.example').map((n) => n.target)).toEqual([
      'lkf_1',
    ]);
  });
});

describeStore('leak notifications and public reports survive a crash (durable outbox)', (kind) => {
  let handle: StoreHandle;
  let receiver: Server;
  let url: string;
  const received: string[] = [];

  beforeEach(async () => {
    handle = await freshStore(kind);
    await handle.store.migrate(MIGRATIONS);
    received.length = 0;
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push(body);
        res.statusCode = 204;
        res.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  });
  afterEach(async () => {
    await new Promise((resolve) => receiver.close(resolve));
    await handle.dispose();
  });

  /** One "process": its own store handle, outbox (with the webhook deliverer) and responder. */
  async function node(store: Store, deliver: boolean) {
    const ctx = manualContext(new Date('2031-05-01T00:00:00Z'));
    const principals = new PrincipalService(store, ctx);
    const keys = new KeyService({ store, ctx, principals, prefix: 'kt_live' });
    const outbox = new Outbox({ store, ctx, nodeId: deliver ? 'nod_b' : 'nod_a' });
    if (deliver) outbox.deliverer('webhook', webhookDeliverer({ timeoutMs: 5_000 }));
    const responder = new LeakResponder({ store, ctx, keys, mode: 'suspend', fingerprintKey: randomBytes(32), webhookUrl: url, outbox });
    return { principals, keys, responder };
  }

  it('a finding recorded by a process that died before delivering is notified by the next one, once', async () => {
    const a = await node(handle.store, false);
    await a.principals.create({ kind: 'service', name: 'billing' }, admin);
    const { key, secret } = await a.keys.create({ owner: 'billing', name: 'prod' }, admin);
    await a.responder.respond([{ fingerprint: secretDigest(secret), kind: 'keyturn', rule: 'keyturn-secret', where: { via: 'scan', file: '.env' } }], admin);
    expect(received).toEqual([]); // process A "dies" here: nothing was sent
    a.keys.close();

    const b = await node(await handle.another(), true);
    await b.responder.idle();
    expect(received).toHaveLength(1);
    expect(JSON.parse(received[0]!)).toMatchObject({ type: 'leak.detected', key: { id: key.id, action: 'suspended' } });
    const notified = await listEvents(handle.store, { type: 'leak.notified' });
    expect(notified).toEqual([expect.objectContaining({ target: key.id, outcome: 'success', data: expect.objectContaining({ to: 'global', status: 204 }) })]);
    await b.responder.idle();
    expect(received).toHaveLength(1);
    b.keys.close();
  });

  it('a public report queued before a crash is looked up and acted on after it; only its digest was kept', async () => {
    const a = await node(handle.store, false);
    await a.principals.create({ kind: 'service', name: 'billing' }, admin);
    const { key, secret } = await a.keys.create({ owner: 'billing', name: 'prod' }, admin);
    await a.responder.queueReport([{ token: secret, url: 'https://paste.example/1' }], admin);
    const stored = JSON.stringify(await handle.store.all('SELECT * FROM outbox_messages'));
    expect(stored).not.toContain(secret.slice(8));
    expect(stored).toContain(secretDigest(secret));
    a.keys.close();

    const b = await node(await handle.another(), true);
    await b.responder.idle();
    expect((await b.keys.get(key.id)).status).toBe('suspended');
    expect(received).toHaveLength(1);
    b.keys.close();
  });
});
