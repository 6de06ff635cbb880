/**
 * Audit sink delivery on both stores: at least once, in order per sink, resumed from the durable
 * cursor after a restart, once per cluster (the job runner's claim), a sink that is down loses
 * nothing and raises `audit.sink_down` / `audit.sink_recovered`. Receivers are real servers: an
 * RFC 6587 octet-counting TCP listener, a Splunk HEC receiver implementing the documented
 * acknowledgement protocol, and files with size-based rotation.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendEvent, listEvents, SYSTEM } from '../../src/audit/events.js';
import { readCursor } from '../../src/audit/sinks/cursor.js';
import { SinkDispatcher } from '../../src/audit/sinks/dispatcher.js';
import { buildSink, type SinkSpec } from '../../src/audit/sinks/sink.js';
import { manualContext, type ManualContext } from '../../src/core/context.js';
import { JobRunner } from '../../src/jobs/index.js';
import { MIGRATIONS, PRODUCT } from '../../src/runtime/open.js';
import type { Store } from '../../src/store/port.js';
import { describeStore, freshStore, type StoreHandle } from '../support/stores.js';
import { eventually, freePort } from './sink-support.js';

/** An RFC 6587 octet-counting syslog listener that can be stopped and started on the same port. */
class OctetReceiver {
  readonly messages: string[] = [];
  #server: net.Server | undefined;
  readonly #sockets = new Set<net.Socket>();
  readonly port: number;
  constructor(port: number) {
    this.port = port;
  }

  async start(): Promise<void> {
    this.#server = net.createServer((socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      let buffer = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        for (;;) {
          const space = buffer.indexOf(0x20);
          if (space < 0) return;
          const length = Number(buffer.subarray(0, space).toString('ascii'));
          if (!Number.isInteger(length) || length <= 0) throw new Error('bad frame');
          if (buffer.length < space + 1 + length) return;
          this.messages.push(buffer.subarray(space + 1, space + 1 + length).toString('utf8'));
          buffer = buffer.subarray(space + 1 + length);
        }
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(this.port, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise((resolve) => this.#server?.close(resolve));
  }

  /** The `seq` of every message received, in order. */
  seqs(): number[] {
    return this.messages.map((m) => Number(/ seq="(\d+)"/.exec(m)![1]));
  }
}

async function addEvents(store: Store, ctx: ManualContext, n: number, from = 0): Promise<void> {
  await store.transaction(async (tx) => {
    for (let i = 0; i < n; i++) {
      await appendEvent(tx, ctx, { type: 'key.revoked', target: `key_${from + i}`, outcome: 'success', data: { previous: 'active' } }, SYSTEM);
    }
  });
}

describeStore('audit sink delivery', (kind) => {
  let handle: StoreHandle;
  let ctx: ManualContext;
  let dir: string;

  beforeEach(async () => {
    handle = await freshStore(kind);
    await handle.store.migrate(MIGRATIONS);
    ctx = manualContext(new Date('2026-12-05T10:00:00Z'));
    dir = mkdtempSync(join(tmpdir(), 'keyturn-sinks-'));
  });
  afterEach(async () => {
    await handle.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a sink that is down loses nothing: down and recovered are events, and after recovery every event arrives once, in order', async () => {
    const receiver = new OctetReceiver(await freePort());
    const sink = buildSink({ kind: 'syslog', name: 'siem', host: '127.0.0.1', port: receiver.port, batchSize: 7 }, PRODUCT);
    const dispatcher = new SinkDispatcher({ store: handle.store, ctx, sinks: [sink], retryBaseMs: 1_000, maxRetryMs: 60_000 });
    try {
      await addEvents(handle.store, ctx, 10);
      // Nothing listens: the first attempt fails, the sink is down, its cursor stays at 0.
      const result = await dispatcher.deliver('siem');
      expect(result?.nextRunAt).toBeInstanceOf(Date);
      let cursor = (await readCursor(handle.store, 'siem'))!;
      expect([cursor.position, cursor.state, cursor.failures]).toEqual([0, 'down', 1]);
      expect((await listEvents(handle.store, { type: 'audit.sink_down' })).map((e) => [e.target, e.data['kind'], e.data['position']])).toEqual([['siem', 'syslog', 0]]);
      // Within the backoff nothing is tried; more events arrive meanwhile, and more failures raise no second event.
      await addEvents(handle.store, ctx, 5, 10);
      await dispatcher.deliver('siem');
      expect((await readCursor(handle.store, 'siem'))!.failures).toBe(1);
      ctx.advance(120_000);
      await dispatcher.deliver('siem');
      cursor = (await readCursor(handle.store, 'siem'))!;
      expect([cursor.state, cursor.failures]).toEqual(['down', 2]);
      expect(cursor.nextAttemptAt - ctx.now().getTime()).toBeGreaterThanOrEqual(1_000); // backoff doubles: 2 s base · jitter ≥ 1 s
      expect(await listEvents(handle.store, { type: 'audit.sink_down' })).toHaveLength(1);
      // The collector comes back.
      await receiver.start();
      ctx.advance(120_000);
      await dispatcher.deliver('siem');
      const all = await listEvents(handle.store, { limit: 1000 });
      cursor = (await readCursor(handle.store, 'siem'))!;
      expect(cursor.state).toBe('up');
      const recovered = await listEvents(handle.store, { type: 'audit.sink_recovered' });
      expect(recovered.map((e) => [e.target, e.data['failures']])).toEqual([['siem', 2]]);
      expect(recovered[0]!.data['downForMs']).toBe(240_000);
      // The recovery event itself is delivered on the next run.
      await dispatcher.deliver('siem');
      const expected = (await listEvents(handle.store, { limit: 1000 })).map((e) => e.seq);
      await eventually(() => (receiver.messages.length >= expected.length ? true : undefined));
      expect(receiver.seqs()).toEqual(expected);
      expect(all.length).toBeLessThanOrEqual(expected.length);
    } finally {
      await dispatcher.close();
      await receiver.stop();
    }
  });

  it('resumes from its cursor after a restart, and two nodes deliver each event once (the job is claimed through the store)', async () => {
    const receiver = new OctetReceiver(await freePort());
    await receiver.start();
    const spec: SinkSpec = { kind: 'syslog', name: 'siem', host: '127.0.0.1', port: receiver.port, batchSize: 5 };
    const other = await handle.another();
    const nodes = [handle.store, other].map((store) => {
      const dispatcher = new SinkDispatcher({ store, ctx, sinks: [buildSink(spec, PRODUCT)] });
      const runner = new JobRunner({ store, ctx });
      return { dispatcher, runner };
    });
    try {
      for (const n of nodes) await n.dispatcher.register(n.runner);
      await addEvents(handle.store, ctx, 12);
      // Both nodes tick at once: one claims the sink's job, the other finds it held.
      const outcomes = (await Promise.all(nodes.map((n) => n.runner.tick()))).flat().filter((o) => o.name === 'audit.sink.siem');
      expect(outcomes).toHaveLength(1);
      await eventually(() => (receiver.messages.length >= 12 ? true : undefined));
      // "Restart": a new dispatcher on a new store connection picks up at the cursor.
      await addEvents(handle.store, ctx, 3, 12);
      await nodes[0]!.dispatcher.close();
      const restarted = new SinkDispatcher({ store: other, ctx, sinks: [buildSink(spec, PRODUCT)] });
      await restarted.deliver('siem');
      await restarted.close();
      await eventually(() => (receiver.messages.length >= 15 ? true : undefined));
      await new Promise((r) => setTimeout(r, 100));
      expect(receiver.seqs()).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
      expect((await readCursor(handle.store, 'siem'))!.position).toBe(15);
    } finally {
      for (const n of nodes) {
        await n.runner.stop();
        await n.dispatcher.close();
      }
      await receiver.stop();
    }
  });

  it('a new sink with from: end starts at the newest event; types filter what is sent but the cursor passes every event', async () => {
    await addEvents(handle.store, ctx, 4);
    const path = join(dir, 'audit.jsonl');
    const dispatcher = new SinkDispatcher({ store: handle.store, ctx, sinks: [buildSink({ kind: 'file', name: 'file', path, from: 'end', types: ['principal.*'] }, PRODUCT)] });
    await dispatcher.deliver('file');
    expect((await readCursor(handle.store, 'file'))!.position).toBe(4);
    await handle.store.transaction(async (tx) => {
      await appendEvent(tx, ctx, { type: 'principal.created', target: 'prn_1', outcome: 'success', data: { kind: 'user', name: 'ada' } }, SYSTEM);
      await appendEvent(tx, ctx, { type: 'key.revoked', target: 'key_9', outcome: 'success', data: { previous: 'active' } }, SYSTEM);
    });
    await dispatcher.deliver('file');
    const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seq: number; type: string; category: string });
    expect(lines.map((l) => [l.seq, l.type, l.category])).toEqual([[5, 'principal.created', 'account_change']]);
    expect((await readCursor(handle.store, 'file'))!.position).toBe(6);
    await dispatcher.close();
  });
});

describe('file sinks', () => {
  let handle: StoreHandle;
  let dir: string;
  const ctx = manualContext(new Date('2026-12-05T10:00:00Z'));
  beforeEach(async () => {
    handle = await freshStore('sqlite');
    await handle.store.migrate(MIGRATIONS);
    dir = mkdtempSync(join(tmpdir(), 'keyturn-file-sink-'));
  });
  afterEach(async () => {
    await handle.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('JSON lines rotate by size: path, path.1 … path.N, the oldest dropped, no line split, nothing else lost', async () => {
    const path = join(dir, 'audit.jsonl');
    const dispatcher = new SinkDispatcher({ store: handle.store, ctx, sinks: [buildSink({ kind: 'file', name: 'jsonl', path, maxBytes: 2048, maxFiles: 3, batchSize: 4 }, PRODUCT)] });
    await addEvents(handle.store, ctx, 30);
    await dispatcher.deliver('jsonl');
    const files = readdirSync(dir).sort();
    expect(files).toEqual(['audit.jsonl', 'audit.jsonl.1', 'audit.jsonl.2', 'audit.jsonl.3']);
    const seqs = [3, 2, 1, 0].flatMap((i) =>
      readFileSync(i === 0 ? path : `${path}.${i}`, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { seq: number }).seq),
    );
    // The newest files hold a contiguous tail ending at the last event; each file within the limit
    // (a file may pass it only with a single batch).
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => 30 - seqs.length + 1 + i));
    for (const f of files) expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(2048);
    expect((statSync(path).mode & 0o777).toString(8)).toBe('600');
    await dispatcher.close();
  });

  it('CEF and OCSF files: one line per event in the format', async () => {
    await addEvents(handle.store, ctx, 2);
    const dispatcher = new SinkDispatcher({
      store: handle.store,
      ctx,
      sinks: [buildSink({ kind: 'file', name: 'cef', path: join(dir, 'a.cef'), format: 'cef' }, PRODUCT), buildSink({ kind: 'file', name: 'ocsf', path: join(dir, 'a.ocsf'), format: 'ocsf' }, PRODUCT)],
    });
    await dispatcher.deliver('cef');
    await dispatcher.deliver('ocsf');
    expect(readFileSync(join(dir, 'a.cef'), 'utf8').trim().split('\n').map((l) => l.split('|').slice(0, 5).join('|'))).toEqual([`CEF:0|keyturn|keyturn|${PRODUCT.version}|key.revoked`, `CEF:0|keyturn|keyturn|${PRODUCT.version}|key.revoked`]);
    const ocsf = readFileSync(join(dir, 'a.ocsf'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(ocsf.map((o) => [o['class_uid'], o['activity_id'], (o['metadata'] as { sequence: number }).sequence])).toEqual([
      [3004, 11, 1],
      [3004, 11, 2],
    ]);
    await dispatcher.close();
  });
});

/**
 * A Splunk HEC receiver implementing the documented protocol: `Authorization: Splunk <token>`
 * (401 code 3 otherwise), a request channel required with acknowledgements (400 code 10), the
 * body a series of event envelopes, an `ackId` per request, and `/services/collector/ack`
 * answering `{"acks": {"<id>": bool}}` — indexed on the second query here, or never.
 */
class HecReceiver {
  readonly envelopes: Record<string, unknown>[] = [];
  readonly requests: { path: string; auth: string | undefined; channel: string | undefined }[] = [];
  #nextAck = 0;
  readonly #polls = new Map<number, number>();
  /** `ok`: acknowledge on the second poll; `never`: never acknowledge; `down`: answer 503. */
  mode: 'ok' | 'never' | 'down' = 'ok';
  server!: http.Server;
  url = '';
  readonly token: string;
  constructor(token: string) {
    this.token = token;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const channel = req.headers['x-splunk-request-channel'] as string | undefined;
        this.requests.push({ path: req.url!, auth: req.headers.authorization, channel });
        const answer = (status: number, json: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
        if (this.mode === 'down') return answer(503, { text: 'Server is busy', code: 9 });
        if (req.headers.authorization !== `Splunk ${this.token}`) return answer(401, { text: 'Invalid authorization', code: 3 });
        if (!channel) return answer(400, { text: 'Data channel is missing', code: 10 });
        if (req.url === '/services/collector/event') {
          for (const line of body.split('\n')) this.envelopes.push(JSON.parse(line) as Record<string, unknown>);
          const ackId = this.#nextAck++;
          return answer(200, { text: 'Success', code: 0, ackId });
        }
        if (req.url === '/services/collector/ack') {
          const { acks } = JSON.parse(body) as { acks: number[] };
          const out: Record<string, boolean> = {};
          for (const id of acks) {
            const n = (this.#polls.get(id) ?? 0) + 1;
            this.#polls.set(id, n);
            out[String(id)] = this.mode === 'ok' && n >= 2;
          }
          return answer(200, { acks: out });
        }
        return answer(404, { text: 'The requested URL was not found on this server.', code: 404 });
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }
  async stop(): Promise<void> {
    await new Promise((r) => this.server.close(r));
  }
}

describe('Splunk HEC sink', () => {
  let handle: StoreHandle;
  let hec: HecReceiver;
  const ctx = manualContext(new Date('2026-12-05T10:00:00Z'));
  beforeEach(async () => {
    handle = await freshStore('sqlite');
    await handle.store.migrate(MIGRATIONS);
    hec = new HecReceiver('11111111-2222-3333-4444-555555555555');
    await hec.start();
  });
  afterEach(async () => {
    await hec.stop();
    await handle.dispose();
  });

  const spec = (over: Partial<SinkSpec & { kind: 'splunk_hec' }> = {}): SinkSpec => ({ kind: 'splunk_hec', name: 'splunk', url: hec.url, token: hec.token, batchSize: 3, ackTimeoutMs: 2_000, ...over }) as SinkSpec;

  it('sends batched envelopes with Authorization: Splunk <token> and a channel, and moves the cursor only once the batch is acknowledged', async () => {
    await addEvents(handle.store, ctx, 7);
    const dispatcher = new SinkDispatcher({ store: handle.store, ctx, sinks: [buildSink(spec(), PRODUCT)] });
    await dispatcher.deliver('splunk');
    const posts = hec.requests.filter((r) => r.path === '/services/collector/event');
    expect(posts).toHaveLength(3); // 3 + 3 + 1
    expect(new Set(hec.requests.map((r) => r.auth))).toEqual(new Set([`Splunk ${hec.token}`]));
    expect(new Set(hec.requests.map((r) => r.channel)).size).toBe(1);
    expect(hec.requests.filter((r) => r.path === '/services/collector/ack').length).toBe(6); // two polls per batch
    expect(hec.envelopes.map((e) => (e['event'] as { metadata: { sequence: number } }).metadata.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(hec.envelopes[0]).toMatchObject({ source: 'keyturn', sourcetype: 'keyturn:ocsf', time: Date.parse('2026-12-05T10:00:00Z') / 1000, event: { class_uid: 3004 } });
    expect((await readCursor(handle.store, 'splunk'))!.position).toBe(7);
    await dispatcher.close();
  });

  it('an unacknowledged batch is not delivered: the sink goes down, and the batch is sent again (at least once) when acks come back', async () => {
    await addEvents(handle.store, ctx, 2);
    hec.mode = 'never';
    const dispatcher = new SinkDispatcher({ store: handle.store, ctx, sinks: [buildSink(spec({ ackTimeoutMs: 300 }), PRODUCT)] });
    await dispatcher.deliver('splunk');
    let cursor = (await readCursor(handle.store, 'splunk'))!;
    expect([cursor.position, cursor.state]).toEqual([0, 'down']);
    expect(cursor.lastError).toMatch(/did not acknowledge/);
    hec.mode = 'ok';
    ctx.advance(600_000);
    await dispatcher.deliver('splunk');
    cursor = (await readCursor(handle.store, 'splunk'))!;
    expect(cursor.state).toBe('up');
    const seqs = hec.envelopes.map((e) => (e['event'] as { metadata: { sequence: number } }).metadata.sequence);
    // The unacknowledged batch, then the same batch again with the sink_down event, then sink_recovered.
    expect(seqs).toEqual([1, 2, 1, 2, 3, 4]);
    expect((await listEvents(handle.store, { afterSeq: 2 })).map((e) => e.type)).toEqual(['audit.sink_down', 'audit.sink_recovered']);
    await dispatcher.close();
  });

  it('a wrong token is refused by the collector: the sink is down with the collector answer, and the token is in no event', async () => {
    await addEvents(handle.store, ctx, 1);
    const dispatcher = new SinkDispatcher({ store: handle.store, ctx, sinks: [buildSink(spec({ token: 'wrong-token-value' }), PRODUCT)] });
    await dispatcher.deliver('splunk');
    const cursor = (await readCursor(handle.store, 'splunk'))!;
    expect(cursor.lastError).toMatch(/401 \(code 3/);
    const events = JSON.stringify(await listEvents(handle.store, { limit: 1000 }));
    expect(events).not.toContain('wrong-token-value');
    expect(events).toContain('audit.sink_down');
    await dispatcher.close();
  });
});
