import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { manualContext, type ManualContext } from '../../src/core/context.js';
import {
  JobRunner,
  Outbox,
  OUTBOX_JOB,
  retryDelay,
  webhookDeliverer,
  webhookMessage,
  type DeliveryAttempt,
  type OutboxMessageView,
} from '../../src/jobs/index.js';
import { MIGRATIONS } from '../../src/runtime/open.js';
import type { Store } from '../../src/store/port.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';

interface Received {
  readonly id: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A real HTTP receiver: answers each POST with the next status of `script` (then the last one), after `delayMs`. */
class Receiver {
  readonly received: Received[] = [];
  script: number[] = [200];
  delayMs = 0;
  url = '';
  #server: Server | undefined;
  #hold: Promise<void> | undefined;
  #release: (() => void) | undefined;

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', async () => {
        this.received.push({ id: String(req.headers['keyturn-message-id']), headers: req.headers, body });
        if (this.#hold) await this.#hold;
        if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
        const status = this.script.length > 1 ? this.script.shift()! : this.script[0]!;
        res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Holds every answer until `release()`. */
  hold(): void {
    this.#hold = new Promise((resolve) => (this.#release = resolve));
  }

  release(): void {
    this.#release?.();
    this.#hold = undefined;
  }

  async stop(): Promise<void> {
    this.release();
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }
}

const BASE = 10_000;
const MAX = 3_600_000;

describeStore('Outbox', (kind) => {
  let handle: StoreHandle;
  let ctx: ManualContext;
  let receiver: Receiver;
  const runners: JobRunner[] = [];

  const outboxOn = (store: Store, nodeId: string, options: { maxAttempts?: number; leaseMs?: number; timeoutMs?: number } = {}) => {
    const outbox = new Outbox({ store, ctx, nodeId, backoffBaseMs: BASE, backoffMaxMs: MAX, ...options });
    outbox.deliverer('webhook', webhookDeliverer({ timeoutMs: options.timeoutMs ?? 5_000, now: () => ctx.now() }));
    return outbox;
  };
  const enqueue = (store: Store, outbox: Outbox, body: unknown, extra: { topic?: string; subject?: string; maxAttempts?: number } = {}) =>
    store.transaction((tx) => outbox.enqueue(tx, { ...webhookMessage({ url: `${receiver.url}/hook`, body, headers: { 'keyturn-event': 'test.event' } }), ...extra }));

  beforeEach(async () => {
    handle = await freshStore(kind);
    await handle.store.migrate(MIGRATIONS);
    ctx = manualContext(new Date('2032-02-01T00:00:00Z'));
    receiver = new Receiver();
    await receiver.start();
  });
  afterEach(async () => {
    for (const r of runners.splice(0)) await r.stop();
    await receiver.stop();
    await handle.dispose();
  });

  it('delivers a message written in a committed transaction: POST, JSON body byte for byte, headers, a stable message id', async () => {
    const outbox = outboxOn(handle.store, 'node-a');
    const id = await enqueue(handle.store, outbox, { hello: 'world', n: 1 }, { topic: 'test', subject: 'sub_1' });
    expect(await outbox.get(id)).toMatchObject({ id, kind: 'webhook', status: 'pending', attempts: 0, topic: 'test', subject: 'sub_1' });
    expect(await outbox.deliverDue()).toBe(false);
    expect(receiver.received).toHaveLength(1);
    const got = receiver.received[0]!;
    expect(got).toMatchObject({ id, body: '{"hello":"world","n":1}' });
    expect(got.headers).toMatchObject({ 'content-type': 'application/json', 'keyturn-event': 'test.event', 'keyturn-message-id': id });
    expect(await outbox.get(id)).toMatchObject({ status: 'delivered', attempts: 1, settledAt: ctx.now().toISOString(), lastError: null });
    expect(await outbox.attempts(id)).toEqual([
      { messageId: id, attempt: 1, node: 'node-a', startedAt: ctx.now().toISOString(), durationMs: 0, outcome: 'delivered', status: 200, error: null },
    ]);
    expect(await outbox.list({ subject: 'sub_1' })).toHaveLength(1);
    // delivered once: nothing more to send
    expect(await outbox.deliverDue()).toBe(false);
    expect(receiver.received).toHaveLength(1);
  });

  it('never delivers a message enqueued in a transaction that rolled back', async () => {
    const outbox = outboxOn(handle.store, 'node-a');
    await expect(
      handle.store.transaction(async (tx) => {
        await outbox.enqueue(tx, webhookMessage({ url: `${receiver.url}/hook`, body: { lost: true } }));
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(await outbox.list()).toEqual([]);
    ctx.advance(MAX);
    await outbox.deliverDue();
    expect(receiver.received).toEqual([]);
  });

  it('retries a failing receiver with growing, jittered delays, then succeeds; every attempt is logged', async () => {
    receiver.script = [503, 503, 500, 200];
    const outbox = outboxOn(handle.store, 'node-a');
    const id = await enqueue(handle.store, outbox, { retry: true });
    const delays: number[] = [];
    for (let failure = 1; failure <= 3; failure++) {
      await outbox.deliverDue();
      const view = await outbox.get(id);
      expect(view).toMatchObject({ status: 'pending', attempts: failure, lastError: failure === 3 ? 'HTTP 500' : 'HTTP 503' });
      const delay = Date.parse(view.nextAttemptAt) - ctx.now().getTime();
      const full = BASE * 2 ** (failure - 1);
      expect(delay).toBeGreaterThanOrEqual(full / 2);
      expect(delay).toBeLessThanOrEqual(full);
      delays.push(delay);
      // not before its time
      ctx.advance(delay - 1);
      await outbox.deliverDue();
      expect(receiver.received).toHaveLength(failure);
      ctx.advance(1);
    }
    expect(delays[1]!).toBeGreaterThanOrEqual(delays[0]!);
    expect(delays[2]!).toBeGreaterThanOrEqual(delays[1]!);
    expect(delays[2]!).toBeGreaterThan(delays[0]!);
    await outbox.deliverDue();
    expect(await outbox.get(id)).toMatchObject({ status: 'delivered', attempts: 4, lastError: null });
    expect(receiver.received.map((r) => r.id)).toEqual([id, id, id, id]);
    expect((await outbox.attempts(id)).map((a) => [a.attempt, a.outcome, a.status, a.error])).toEqual([
      [1, 'failed', 503, 'HTTP 503'],
      [2, 'failed', 503, 'HTTP 503'],
      [3, 'failed', 500, 'HTTP 500'],
      [4, 'delivered', 200, null],
    ]);
  });

  it('gives up after the last attempt (dead); observers hear each attempt in its transaction', async () => {
    receiver.script = [500];
    const outbox = outboxOn(handle.store, 'node-a', { maxAttempts: 3 });
    const heard: Array<[OutboxMessageView['status'], DeliveryAttempt['attempt'], string | null]> = [];
    outbox.observe('test.topic', async (tx, message, attempt) => {
      heard.push([message.status, attempt.attempt, attempt.error]);
      expect(tx.dialect).toBe(kind);
    });
    const id = await enqueue(handle.store, outbox, { doomed: true }, { topic: 'test.topic' });
    for (let i = 0; i < 5; i++) {
      await outbox.deliverDue();
      ctx.advance(MAX);
    }
    expect(receiver.received).toHaveLength(3);
    expect(await outbox.get(id)).toMatchObject({ status: 'dead', attempts: 3, lastError: 'HTTP 500' });
    expect(heard).toEqual([
      ['pending', 1, 'HTTP 500'],
      ['pending', 2, 'HTTP 500'],
      ['dead', 3, 'HTTP 500'],
    ]);
    expect(await outbox.list({ status: 'dead' })).toHaveLength(1);
  });

  it('names failures without the URL: timeout, unreachable; an invalid URL is dead at once', async () => {
    const outbox = outboxOn(handle.store, 'node-a', { timeoutMs: 200 });
    receiver.delayMs = 1_000;
    const slow = await enqueue(handle.store, outbox, { slow: true });
    await outbox.deliverDue();
    expect(await outbox.get(slow)).toMatchObject({ status: 'pending', lastError: 'timeout' });
    receiver.delayMs = 0;
    const unreachable = await handle.store.transaction((tx) =>
      outbox.enqueue(tx, webhookMessage({ url: 'http://127.0.0.1:9/secret-token-in-path', body: {} })),
    );
    const invalid = await handle.store.transaction((tx) => outbox.enqueue(tx, { kind: 'webhook', data: { url: 'ftp://nowhere', body: '{}' } }));
    await outbox.deliverDue();
    expect(await outbox.get(unreachable)).toMatchObject({ status: 'pending', lastError: 'unreachable' });
    expect(await outbox.get(invalid)).toMatchObject({ status: 'dead', attempts: 1, lastError: 'invalid-url' });
    for (const id of [slow, unreachable, invalid]) for (const a of await outbox.attempts(id)) expect(JSON.stringify(a)).not.toContain('secret-token');
  });

  it('two nodes never send the same message at once; a message whose sender died is sent again after its lease', async () => {
    const other = await handle.another();
    const a = outboxOn(handle.store, 'node-a', { leaseMs: 60_000 });
    const b = outboxOn(other, 'node-b', { leaseMs: 60_000 });
    const id = await enqueue(handle.store, a, { once: true });
    receiver.hold();
    const sending = a.deliverDue();
    await vi.waitFor(() => expect(receiver.received).toHaveLength(1), { timeout: 5_000, interval: 10 });
    await b.deliverDue(); // node-a holds the message
    expect(receiver.received).toHaveLength(1);
    // node-a "dies" before it records the attempt: the lease runs out and node-b sends it again
    ctx.advance(60_001);
    const resending = b.deliverDue();
    await vi.waitFor(() => expect(receiver.received).toHaveLength(2), { timeout: 5_000, interval: 10 });
    receiver.release();
    await Promise.all([sending, resending]); // node-a's late answer is not recorded over node-b's claim
    expect(receiver.received.map((r) => r.id)).toEqual([id, id]);
    expect(await a.get(id)).toMatchObject({ status: 'delivered', attempts: 1 });
    expect((await a.attempts(id)).map((x) => x.node)).toEqual(['node-b']);
  });

  it('a real receiver gets every message at least once when two nodes deliver together', async () => {
    const other = await handle.another();
    const a = outboxOn(handle.store, 'node-a');
    const b = outboxOn(other, 'node-b');
    receiver.delayMs = 5;
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push(await enqueue(i % 2 ? handle.store : other, i % 2 ? a : b, { i }));
    if (kind === 'postgres') await Promise.all([a.deliverDue(), b.deliverDue()]);
    else {
      await a.deliverDue();
      await b.deliverDue();
    }
    const got = new Set(receiver.received.map((r) => r.id));
    expect([...got].sort()).toEqual([...ids].sort());
    expect(receiver.received).toHaveLength(30); // and, with no node dying, exactly once
    expect(await a.list({ status: 'delivered', limit: 1000 })).toHaveLength(30);
  });

  it('runs as a runner job, woken at once by an enqueue anywhere (change feed), not only on its interval', async () => {
    const runner = new JobRunner({ store: handle.store, ctx, nodeId: 'node-a', pollMs: 10 });
    runners.push(runner);
    const outbox = outboxOn(handle.store, 'node-a');
    await outbox.attach(runner, { everyMs: 3_600_000 });
    runner.start();
    await vi.waitFor(async () => expect((await runner.get(OUTBOX_JOB)).runs).toBe(1), { timeout: 5_000, interval: 10 });
    // the interval is an hour of a clock that does not move: only the wake-up can deliver these
    const other = await handle.another();
    const first = await enqueue(handle.store, outbox, { via: 'this node' });
    await vi.waitFor(() => expect(receiver.received.map((r) => r.id)).toContain(first), { timeout: 5_000, interval: 10 });
    if (kind === 'postgres') {
      await (other as unknown as { feedReady?: () => Promise<void> }).feedReady?.();
      await (handle.store as unknown as { feedReady?: () => Promise<void> }).feedReady?.();
      const elsewhere = await enqueue(other, outboxOn(other, 'node-b'), { via: 'another node' });
      await vi.waitFor(() => expect(receiver.received.map((r) => r.id)).toContain(elsewhere), { timeout: 5_000, interval: 10 });
    }
    outbox.close();
  });

  it('prunes delivered and dead messages with their log after the retention, never pending ones', async () => {
    const outbox = outboxOn(handle.store, 'node-a', { maxAttempts: 1 });
    const delivered = await enqueue(handle.store, outbox, { ok: 1 });
    await outbox.deliverDue();
    receiver.script = [500];
    const dead = await enqueue(handle.store, outbox, { dead: 1 });
    await outbox.deliverDue();
    const pending = await enqueue(handle.store, outbox, { later: 1 }, { maxAttempts: 5 });
    expect(await outbox.prune(86_400_000)).toBe(0);
    ctx.advance(86_400_001);
    expect(await outbox.prune(86_400_000)).toBe(2);
    await expect(outbox.get(delivered)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    await expect(outbox.get(dead)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    expect(await outbox.attempts(delivered)).toEqual([]);
    expect((await outbox.get(pending)).status).toBe('pending');
  });

  it('adds a signer’s headers to each attempt (room for Standard Webhooks signing)', async () => {
    const outbox = new Outbox({ store: handle.store, ctx, nodeId: 'node-a' });
    outbox.deliverer(
      'webhook',
      webhookDeliverer({
        now: () => ctx.now(),
        signer: ({ messageId, attempt, timestamp, body }) => ({
          'webhook-id': messageId,
          'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
          'webhook-signature': `v1,test-${attempt}-${body.length}`,
        }),
      }),
    );
    const id = await enqueue(handle.store, outbox, { signed: true });
    await outbox.deliverDue();
    expect(receiver.received[0]!.headers).toMatchObject({
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(ctx.now().getTime() / 1000)),
      'webhook-signature': `v1,test-1-${'{"signed":true}'.length}`,
    });
  });
});

describe('outbox messages', () => {
  it('refuses webhooks that could never be sent', () => {
    expect(() => webhookMessage({ url: 'not a url', body: {} })).toThrow(expect.objectContaining({ code: 'ERR_VALIDATION' }));
    expect(() => webhookMessage({ url: 'file:///etc/passwd', body: {} })).toThrow(expect.objectContaining({ code: 'ERR_VALIDATION' }));
    expect(() => webhookMessage({ url: 'https://example.com/', body: undefined })).toThrow(expect.objectContaining({ code: 'ERR_VALIDATION' }));
    expect(webhookMessage({ url: 'https://example.com/h', body: { a: 1 } })).toEqual({ kind: 'webhook', data: { url: 'https://example.com/h', body: '{"a":1}' } });
  });

  it('retry delays double up to the cap, with the upper half random', () => {
    const zero = () => new Uint8Array(4);
    const ones = () => new Uint8Array([255, 255, 255, 255]);
    expect([1, 2, 3, 4].map((n) => retryDelay(n, 1_000, 60_000, zero))).toEqual([500, 1_000, 2_000, 4_000]);
    expect([1, 2, 3].map((n) => retryDelay(n, 1_000, 60_000, ones))).toEqual([999, 1_999, 3_999]);
    expect(retryDelay(30, 1_000, 60_000, zero)).toBe(30_000);
    expect(retryDelay(1_000, 1_000, 60_000, ones)).toBeLessThanOrEqual(60_000);
  });
});
